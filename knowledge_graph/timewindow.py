"""Governance time windows: ``"22:00-06:00"`` (wrapping midnight) and weekday sets.

>>> w = TimeWindow.parse("22:00-06:00")
>>> w.contains_minute(23 * 60), w.contains_minute(12 * 60)
(True, False)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_graph.errors import OntologyError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index == datetime.weekday()
_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Half-open ``[start_min, end_min)`` minutes of the day; ``end < start`` wraps midnight."""

    start_min: int
    end_min: int

    @classmethod
    def parse(cls, text: str, *, node: str = "window") -> "TimeWindow":
        m = _WINDOW_RE.match(str(text))
        if not m:
            raise OntologyError(f"{node}: time window {text!r} is not 'HH:MM-HH:MM'; write e.g. '22:00-06:00'")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or (h1 == 24 and m1) or (h2 == 24 and m2):
            raise OntologyError(f"{node}: time window {text!r} has an invalid clock time; hours 0-24, minutes 0-59")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start == end:
            raise OntologyError(f"{node}: time window {text!r} is empty; for all day omit `windows`")
        return cls(start % 1440, end if end == 1440 else end % 1440)

    def contains_minute(self, minute_of_day: int) -> bool:
        if self.start_min < self.end_min:
            return self.start_min <= minute_of_day < self.end_min
        return minute_of_day >= self.start_min or minute_of_day < self.end_min

    def __str__(self) -> str:
        return f"{self.start_min // 60:02d}:{self.start_min % 60:02d}-{self.end_min // 60:02d}:{self.end_min % 60:02d}"


def parse_days(days: list[str] | None, *, node: str) -> frozenset[int]:
    """Weekday names -> ``datetime.weekday()`` numbers; ``None`` means every day."""
    if not days:
        return frozenset(range(7))
    out = set()
    for d in days:
        key = str(d).strip().lower()[:3]
        if key not in DAYS:
            raise OntologyError(f"{node}: unknown day {d!r}; use one of {list(DAYS)}")
        out.add(DAYS.index(key))
    return frozenset(out)
