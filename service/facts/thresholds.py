"""Signal thresholds: the defaults of each signal, and a workspace's own."""

from datetime import UTC, datetime

from sqlmodel import Session, select

from service.accounts.models import Workspace
from service.facts.models import (
    SignalThreshold,
    ThresholdPublic,
    ThresholdsIn,
)
from service.facts.signals import SIGNALS


def _threshold_rows(session: Session, workspace: Workspace) -> dict[str, tuple[int, int]]:
    return {t.signal: (t.amber, t.red) for t in session.exec(
        select(SignalThreshold).where(SignalThreshold.workspace_id == workspace.id))}


def workspace_thresholds(session: Session, workspace: Workspace) -> dict[str, tuple[int, int]]:
    return {name: (rule.amber, rule.red) for name, rule in SIGNALS.items()} | {
        k: v for k, v in _threshold_rows(session, workspace).items() if k in SIGNALS}


def list_thresholds(session: Session, *, workspace: Workspace) -> list[ThresholdPublic]:
    current = workspace_thresholds(session, workspace)
    return [ThresholdPublic(signal=name, label=rule.label, unit=rule.unit, rule=rule.rule, amber=current[name][0],
                            red=current[name][1], default_amber=rule.amber, default_red=rule.red)
            for name, rule in SIGNALS.items()]


def set_thresholds(session: Session, *, workspace: Workspace, actor: str, data: ThresholdsIn) -> list[ThresholdPublic]:
    for name, level in data:
        if level is None:
            continue
        row = session.get(SignalThreshold, (workspace.id, name))
        if row is None:
            row = SignalThreshold(workspace_id=workspace.id, signal=name, amber=level.amber, red=level.red,
                                  updated_by=actor)
        else:
            row.amber, row.red, row.updated_by = level.amber, level.red, actor
            row.updated_at = datetime.now(UTC)
        session.add(row)
    session.flush()
    return list_thresholds(session, workspace=workspace)
