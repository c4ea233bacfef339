"""Signal thresholds: the defaults of each signal, and a workspace's own."""

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, create_model, field_validator
from sqlmodel import Session, select

from service.accounts.models import Workspace
from service.facts.models import SignalThreshold
from service.facts.signals import SIGNALS


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amber: StrictInt = Field(ge=1, le=1_000_000)
    red: StrictInt = Field(ge=1, le=1_000_000)

    @field_validator("red")
    @classmethod
    def _red_not_below_amber(cls, red: int, info: ValidationInfo) -> int:
        # Named on `red`, so that the error sits next to the field to change.
        if "amber" in info.data and red < info.data["amber"]:
            raise ValueError(f"must be at least amber ({info.data['amber']})")
        return red


# One optional field per signal, in the table's order: a signal added to SIGNALS can be set at once.
ThresholdsIn = create_model(
    "ThresholdsIn", __config__=ConfigDict(extra="forbid"), __module__=__name__,
    __doc__="The signals to set; signals left out keep their current thresholds.",
    **{name: (Level | None, None) for name in SIGNALS})


class ThresholdPublic(BaseModel):
    signal: str
    label: str
    unit: str
    rule: str
    amber: int
    red: int
    default_amber: int
    default_red: int


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


def set_thresholds(session: Session, *, workspace: Workspace, actor: str,
                   data: ThresholdsIn) -> list[ThresholdPublic]:  # type: ignore[valid-type]  (a model made at import)
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
