"""A record's current version after amendments and retractions (DESIGN §3, invariant 1), worked out once for the
timeline, the facts and a bundle's documents alike. Pure: it reads records, never a database.

An amendment replaces a record's body with the one it carries, a later amendment over an earlier one; a retraction
withdraws the record. A record whose own body is gone (redacted) has no current version to show; an amendment whose
body is gone leaves the version before it standing."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from service.records.kinds import CORRECTIONS, KindName


@dataclass(frozen=True)
class Corrections:
    """The corrections among some records, by the index of the record they correct. Records no correction names
    are current as recorded, so only the corrected ones are kept: a long ledger has few."""

    amended_by: dict[int, list[int]] = field(default_factory=dict)  # the amendments, oldest first
    retracted_by: dict[int, int] = field(default_factory=dict)
    amended_bodies: dict[int, dict] = field(default_factory=dict)  # the body the latest amendment gives

    def status(self, index: int) -> str:
        """current, amended or retracted."""
        if index in self.retracted_by:
            return "retracted"
        return "amended" if index in self.amended_by else "current"

    def current(self, index: int, body: dict | None) -> dict | None:
        """The record's body as last amended, from its body as recorded (None once redacted)."""
        return None if body is None else self.amended_bodies.get(index, body)


def resolve(records: Iterable[tuple[int, str, Sequence[int], dict | None]]) -> Corrections:
    """From records as (index, kind, refs, body), the body parsed (None once redacted); any order, and any of the
    ledger's records may be left out but the corrections themselves."""
    fixes = sorted(((index, kind, refs[0], body) for index, kind, refs, body in records
                    if kind in CORRECTIONS and refs), key=lambda fix: fix[0])
    out = Corrections()
    for index, kind, target, body in fixes:  # by index: a later amendment wins
        if kind == KindName.retraction:
            out.retracted_by.setdefault(target, index)
        else:
            out.amended_by.setdefault(target, []).append(index)
            if isinstance(body, dict) and isinstance(body.get("body"), dict):
                out.amended_bodies[target] = body["body"]
    return out
