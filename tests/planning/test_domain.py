"""Problem-model validation: bad input fails on construction with a precise message."""

from __future__ import annotations

import math
from datetime import date

import pytest

from outreach.planning import (
    FRIDAY_PRAYER,
    OFFICE_WEEK,
    Break,
    Location,
    Lock,
    Service,
    Shift,
    TimeWindow,
    build_shifts,
    date_range,
    hm,
)

from .builders import MONDAY, at, problem, site, team


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        (math.nan, 98.0, "location.lat: must be finite"),
        (3.5, math.inf, "location.lon: must be finite"),
        (90.5, 98.0, "location.lat: must be within ±90"),
        (3.5, -180.01, "location.lon: must be within ±180"),
        ("3.5", 98.0, "location.lat: expected a number"),
    ],
)
def test_location_rejects_bad_coordinates(lat, lon, message):
    """NaN, infinite, out-of-range or non-numeric coordinates are rejected by name
    (SECURITY row 42)."""
    with pytest.raises(ValueError, match=message):
        Location(lat, lon)


def test_site_rejects_negative_demand():
    """A negative head count names the site and the service."""
    with pytest.raises(ValueError, match=r"site 'S1'\.demand\[kia\]: must be >= 0"):
        site("S1", demand={Service.KIA: -1})


def test_site_rejects_demand_beyond_32_bits():
    """Values at or above 2**31 are rejected before they reach the solver
    (SECURITY rows 23 and 42)."""
    with pytest.raises(ValueError, match=r"demand\[ktp_record\]: must be <= 2147483647"):
        site("S1", demand={Service.KTP_RECORD: 2**31})


def test_site_rejects_total_demand_beyond_32_bits():
    """Individually valid counts whose total overflows 32 bits are rejected too
    (SECURITY row 42)."""
    with pytest.raises(ValueError, match=r"demand \(total persons\)"):
        site("S1", demand={Service.KTP_RECORD: 2**30, Service.KIA: 2**30})


def test_site_rejects_unknown_service_and_empty_demand():
    """Unknown service names and sites with nobody waiting are refused."""
    with pytest.raises(ValueError, match="unknown service 'passport'"):
        site("S1", demand={"passport": 3})
    with pytest.raises(ValueError, match="at least one person"):
        site("S1", demand={Service.KIA: 0})


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (0, 86_401, "time window end: must be <= 86400"),
        (-60, 3600, "time window start: must be >= 0"),
        (3600, 3600, "start must be before end"),
    ],
)
def test_window_outside_the_day_is_rejected(start, end, message):
    """Windows must lie within one day and be non-empty."""
    with pytest.raises(ValueError, match=message):
        TimeWindow(start, end)


def test_site_windows_validate_weekday_and_overlap():
    """Weekdays run 0..6 and windows of one day may not overlap."""
    with pytest.raises(ValueError, match="weekday must be 0"):
        site("S1", windows={7: [TimeWindow.hm("08:00", "09:00")]})
    with pytest.raises(ValueError, match="overlap"):
        site(
            "S1",
            windows={0: [TimeWindow.hm("08:00", "10:00"), TimeWindow.hm("09:00", "11:00")]},
        )


def test_priority_must_be_one_to_five():
    """Priority outside 1..5 is rejected with the site id."""
    with pytest.raises(ValueError, match=r"site 'S1'\.priority: must be <= 5"):
        site("S1", priority=6)


def test_team_validation_names_the_team():
    """Kits below one and duplicate shift dates name the team."""
    with pytest.raises(ValueError, match=r"team 'T1'\.kits: must be >= 1"):
        team("T1", kits=0)
    with pytest.raises(ValueError, match="two shifts on 2026-06-01"):
        team("T1", days=[MONDAY, MONDAY])


def test_shift_break_must_lie_inside_the_shift():
    """A break outside its shift is a configuration error."""
    with pytest.raises(ValueError, match="lies outside the shift"):
        Shift(MONDAY, hm("13:00"), hm("16:00"), (FRIDAY_PRAYER,))


def test_flexible_break_duration_must_fit_its_range():
    """A flexible break longer than its range is rejected."""
    with pytest.raises(ValueError, match="duration: must be <= 3600"):
        Break(hm("12:00"), hm("13:00"), "lunch", duration=3601)


def test_problem_rejects_duplicate_ids_and_bad_locks():
    """Duplicate site ids, unknown lock teams and locks on days off are refused."""
    t = team("T1")
    with pytest.raises(ValueError, match="duplicate site id 'S1'"):
        problem([site("S1"), site("S1")], [t])
    with pytest.raises(ValueError, match="unknown team 'T9'"):
        problem([site("S1", lock=Lock("T9", MONDAY))], [t])
    with pytest.raises(ValueError, match="outside the horizon"):
        problem([site("S1", lock=Lock("T1", date(2026, 6, 2)))], [t])


def test_problem_rejects_service_rate_beyond_32_bits():
    """Per-person rates are integers below 2**31 (SECURITY row 42)."""
    with pytest.raises(ValueError, match=r"seconds_per_person\[kia\]"):
        problem([site("S1")], [team("T1")], seconds_per_person={Service.KIA: 2**31})


def test_valid_problem_lists_team_days_as_vehicles():
    """Vehicles are team × working date, ordered by date then team."""
    t1 = team("T1", days=[MONDAY, date(2026, 6, 2)])
    t2 = team("T2", days=[date(2026, 6, 2)])
    p = problem([site("S1", location=at(0.01))], [t1, t2])
    assert [(v.team.id, v.date.day) for v in p.vehicles] == [("T1", 1), ("T1", 2), ("T2", 2)]


def test_build_shifts_skips_holidays_and_weekends():
    """Nyepi (2026-03-19) and the weekend are days off; Friday gets the prayer break."""
    days = date_range(date(2026, 3, 16), date(2026, 3, 22))
    shifts = build_shifts(days, OFFICE_WEEK)
    assert [s.date.day for s in shifts] == [16, 17, 18, 20]
    friday = shifts[-1]
    assert friday.breaks == (FRIDAY_PRAYER,)
    assert all(not s.breaks for s in shifts[:-1])


def test_build_shifts_exception_overrides_holiday():
    """An explicit exception makes a holiday a working day, and can cancel a workday."""
    days = date_range(date(2026, 3, 16), date(2026, 3, 20))
    shifts = build_shifts(
        days,
        OFFICE_WEEK,
        exceptions={
            date(2026, 3, 19): TimeWindow.hm("09:00", "12:00"),
            date(2026, 3, 16): None,
        },
    )
    by_day = {s.date.day: s for s in shifts}
    assert 16 not in by_day
    assert (by_day[19].start, by_day[19].end) == (hm("09:00"), hm("12:00"))


def test_build_shifts_without_holiday_calendar_keeps_the_holiday():
    """With country=None a national holiday is an ordinary weekday."""
    shifts = build_shifts([date(2026, 3, 19)], OFFICE_WEEK, country=None)
    assert len(shifts) == 1


def test_hm_parses_and_rejects():
    """'HH:MM' strings convert to seconds; nonsense is refused."""
    assert hm("07:30") == 27_000
    assert hm("24:00") == 86_400
    with pytest.raises(ValueError):
        hm("25:00")
