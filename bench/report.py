"""Results: repeated measurements, their median [min-max], and the markdown they become."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


def spread(values: list[float], digits: int = 0) -> str:
    """'median [min-max]' of repeated runs, or the one value."""
    if not values:
        return "-"
    fmt = f"{{:,.{digits}f}}"
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values))) - 1))
    return sorted_values[index]


@dataclass
class Section:
    """One workload: a table, a summary line for the console, notes, raw numbers for JSON."""

    key: str
    title: str
    intro: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = ""
    numbers: dict[str, float] = field(default_factory=dict)
    text: str = ""  # the markdown of an earlier run, kept as it was (BENCH_ONLY runs)

    def markdown(self) -> str:
        if self.text:
            return self.text
        out = [f"## {self.title}", ""]
        if self.intro:
            out += [self.intro, ""]
        if self.rows:
            out.append("| " + " | ".join(self.headers) + " |")
            out.append("|" + "|".join(" --- " for _ in self.headers) + "|")
            out += ["| " + " | ".join(row) + " |" for row in self.rows]
            out.append("")
        out += [f"- {n}" for n in self.notes]
        if self.notes:
            out.append("")
        return "\n".join(out)


def skipped(key: str, title: str, why: str) -> Section:
    return Section(key, title, summary=why, notes=[why])
