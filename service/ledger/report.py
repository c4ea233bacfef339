"""What a verification checked and what it found, printed the same way for a database and for a bundle."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    where: str  # e.g. "engagement 3, record 12" or "data/exhibits/E0001-contract.pdf"
    message: str


@dataclass
class Report:
    title: str
    facts: dict[str, str] = field(default_factory=dict)  # origin, size, root, key id...: printed in order
    counts: dict[str, int] = field(default_factory=dict)  # what was checked: engagements, records, files, bytes
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # caveats a reader must see, e.g. an unpinned key

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines = [self.title]
        lines += [f"  {name}: {value}" for name, value in self.facts.items()]
        if self.counts:
            # "records: 53" rather than "53 records": no "1 signatures".
            lines.append("checked: " + ", ".join(f"{what} {n:,}" for what, n in self.counts.items()))
        lines += [f"note: {note}" for note in self.notes]
        if self.ok:
            lines.append("OK: every check passed")
        else:
            lines.append(f"FAILED: {len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}")
            lines += [f"  {p.where}: {p.message}" for p in self.problems]
        return "\n".join(lines)
