"""Opening hours in a compact, spreadsheet-friendly syntax.

Syntax
------
``CLAUSE (";" CLAUSE)*`` where ``CLAUSE = DAYS " " INTERVAL ("," INTERVAL)*``.

* ``DAYS`` is a day, a range ``Sen-Kam`` (ranges may wrap: ``Sab-Sen`` is Sat, Sun, Mon), or a
  comma list without spaces ``Sen,Rab,Jum``; ``setiap hari``/``tiap hari``/``daily`` mean every day.
* Day names are case-insensitive, Indonesian or English, abbreviated or full: Sen/Senin, Sel/Selasa,
  Rab/Rabu, Kam/Kamis, Jum/Jumat/Jum'at, Sab/Sabtu, Min/Minggu/Ahd/Ahad; Mon/Monday … Sun/Sunday.
* ``INTERVAL`` is ``HH:MM-HH:MM`` (``HH.MM`` is accepted too, as Indonesians often write 08.00);
  ``24:00`` is allowed as an end; the start must be before the end; intervals of one clause may
  not overlap.
* A later clause replaces earlier ones for the days it names, so
  ``Sen-Jum 08:00-16:00; Jum 08:00-11:30,13:30-16:00`` gives Friday its prayer break.
* Days not named are closed. An empty cell means "not given" (the office's defaults apply).

Example: ``Sen-Kam 08:00-16:00; Jum 08:00-11:30,13:30-16:00``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

DAY_KEYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ID_ABBR: tuple[str, ...] = ("Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min")

_DAY_NAMES: dict[str, int] = {}
for _index, _names in enumerate(
    (
        ("sen", "senin", "mon", "monday"),
        ("sel", "selasa", "tue", "tues", "tuesday"),
        ("rab", "rabu", "wed", "wednesday"),
        ("kam", "kamis", "thu", "thur", "thurs", "thursday"),
        ("jum", "jumat", "jum'at", "fri", "friday"),
        ("sab", "sabtu", "sat", "saturday"),
        ("min", "minggu", "ahd", "ahad", "sun", "sunday"),
    )
):
    for _name in _names:
        _DAY_NAMES[_name] = _index

_EVERY_DAY = ("setiap hari", "tiap hari", "daily", "every day")
_TIME = re.compile(r"([0-9]{1,2})[:.]([0-9]{2})", re.ASCII)
_INTERVAL = re.compile(r"([0-9]{1,2}[:.][0-9]{2})\s*-\s*([0-9]{1,2}[:.][0-9]{2})", re.ASCII)


_LOOSE_DASH = re.compile(r"\s*-\s*")
_LOOSE_COMMA = re.compile(r"\s*,\s*")


class OpeningHoursError(ValueError):
    """The opening-hours text does not follow the documented syntax."""


@dataclass(frozen=True)
class OpeningHours:
    """Weekly opening intervals.

    ``days[d]`` holds sorted ``(start_minute, end_minute)`` pairs for weekday ``d``
    (0 = Monday … 6 = Sunday), minutes after midnight in the office's local time.
    """

    days: tuple[tuple[tuple[int, int], ...], ...]

    def to_dict(self) -> dict[str, list[list[str]]]:
        """Return ``{"mon": [["08:00", "16:00"]], ...}`` with only open days (JSON-ready)."""
        return {
            DAY_KEYS[d]: [[_fmt(a), _fmt(b)] for a, b in intervals]
            for d, intervals in enumerate(self.days)
            if intervals
        }

    def to_text(self) -> str:
        """Return the canonical Indonesian text; parsing it gives the same value back."""
        clauses: list[str] = []
        d = 0
        while d < 7:
            if not self.days[d]:
                d += 1
                continue
            end = d
            while end + 1 < 7 and self.days[end + 1] == self.days[d]:
                end += 1
            days = _ID_ABBR[d] if end == d else f"{_ID_ABBR[d]}-{_ID_ABBR[end]}"
            times = ",".join(f"{_fmt(a)}-{_fmt(b)}" for a, b in self.days[d])
            clauses.append(f"{days} {times}")
            d = end + 1
        return "; ".join(clauses)


def _fmt(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _minute(text: str, *, is_end: bool) -> int:
    match = _TIME.fullmatch(text)
    if not match:
        raise OpeningHoursError(f"jam '{text}'")
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute > 59 or hour > 24 or (hour == 24 and (minute or not is_end)):
        raise OpeningHoursError(f"jam '{text}'")
    return hour * 60 + minute


def _days(text: str) -> list[int]:
    result: list[int] = []
    for part in text.split(","):
        names = [n.strip() for n in part.split("-")]
        if len(names) == 1 and names[0] in _DAY_NAMES:
            result.append(_DAY_NAMES[names[0]])
        elif len(names) == 2 and names[0] in _DAY_NAMES and names[1] in _DAY_NAMES:
            start, end = _DAY_NAMES[names[0]], _DAY_NAMES[names[1]]
            result.extend((start + i) % 7 for i in range((end - start) % 7 + 1))
        else:
            raise OpeningHoursError(f"hari '{part.strip()}'")
    return result


def parse_opening_hours(text: str) -> OpeningHours | None:
    """Parse the compact syntax; return ``None`` for an empty cell.

    Raises
    ------
    OpeningHoursError
        With a short Indonesian detail naming the part that could not be read.
    """
    return _parse_cached(text)


@functools.lru_cache(maxsize=4096)  # uploads repeat a few patterns thousands of times
def _parse_cached(text: str) -> OpeningHours | None:
    text = " ".join(text.replace("’", "'").split()).casefold()
    # Spaces around "-" and "," carry no meaning ("Sen - Kam", "08:00-11:30, 13:30-16:00").
    text = _LOOSE_COMMA.sub(",", _LOOSE_DASH.sub("-", text))
    if not text:
        return None
    days: list[tuple[tuple[int, int], ...]] = [()] * 7
    for clause in filter(None, (c.strip() for c in text.split(";"))):
        day_part, times = None, clause
        for phrase in _EVERY_DAY:
            if clause.startswith(phrase + " "):
                day_part, times = list(range(7)), clause[len(phrase) :]
                break
        if day_part is None:
            head, _, times = clause.partition(" ")
            day_part = _days(head)
        intervals: list[tuple[int, int]] = []
        for chunk in times.split(","):
            match = _INTERVAL.fullmatch(chunk.strip())
            if not match:
                raise OpeningHoursError(f"rentang jam '{chunk.strip()}'")
            start = _minute(match.group(1), is_end=False)
            end = _minute(match.group(2), is_end=True)
            if start >= end:
                raise OpeningHoursError(f"jam mulai {match.group(1)} tidak sebelum jam selesai")
            intervals.append((start, end))
        intervals.sort()
        for (_, end_a), (start_b, _) in zip(intervals, intervals[1:], strict=False):
            if start_b < end_a:
                raise OpeningHoursError("rentang jam tumpang tindih")
        for d in day_part:
            days[d] = tuple(intervals)
    if not any(days):
        raise OpeningHoursError("tidak ada hari buka")
    return OpeningHours(tuple(days))
