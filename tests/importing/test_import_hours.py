"""The compact opening-hours syntax."""

from __future__ import annotations

import pytest

from outreach.importing.hours import OpeningHoursError, parse_opening_hours


def test_friday_prayer_break_example():
    """The documented example gives Mon-Thu one window and Friday two windows."""
    hours = parse_opening_hours("Sen-Kam 08:00-16:00; Jum 08:00-11:30,13:30-16:00")
    assert hours is not None
    assert hours.days[0] == ((480, 960),)
    assert hours.days[3] == ((480, 960),)
    assert hours.days[4] == ((480, 690), (810, 960))
    assert hours.days[5] == () and hours.days[6] == ()


def test_english_and_full_names_and_dotted_times():
    """English abbreviations, full Indonesian names and 08.00-style times are accepted."""
    a = parse_opening_hours("Mon-Thu 08.00-16.00; Friday 08:00 - 11:30, 13:30-16:00")
    b = parse_opening_hours("senin-kamis 08:00-16:00; Jum'at 08:00-11:30,13:30-16:00")
    assert a == b


def test_later_clause_overrides_named_days():
    """A later clause replaces the windows of the days it names."""
    hours = parse_opening_hours("Sen-Jum 08:00-16:00; Jum 08:00-11:30")
    assert hours is not None and hours.days[4] == ((480, 690),)
    assert hours.days[0] == ((480, 960),)


def test_wrapping_range_and_lists():
    """Ranges wrap around the week and comma lists name single days."""
    hours = parse_opening_hours("Sab-Sen 17:00-21:00; Rab,Jum 10:00-12:00")
    assert hours is not None
    assert [bool(d) for d in hours.days] == [True, False, True, False, True, True, True]


def test_text_round_trip():
    """The canonical text parses back to the same value."""
    hours = parse_opening_hours("Mon-Thu 08:00-16:00; Fri 08:00-11:30,13:30-16:00; Sat 09:00-12:00")
    assert hours is not None
    assert hours.to_text() == "Sen-Kam 08:00-16:00; Jum 08:00-11:30,13:30-16:00; Sab 09:00-12:00"
    assert parse_opening_hours(hours.to_text()) == hours
    assert hours.to_dict()["fri"] == [["08:00", "11:30"], ["13:30", "16:00"]]


def test_every_day_and_midnight_end():
    """'setiap hari' means all seven days and 24:00 is a valid end."""
    hours = parse_opening_hours("setiap hari 18:00-24:00")
    assert hours is not None and all(d == ((1080, 1440),) for d in hours.days)


def test_empty_means_not_given():
    """An empty cell is 'not given', not 'closed'."""
    assert parse_opening_hours("   ") is None


@pytest.mark.parametrize(
    "text",
    [
        "Sen 16:00-08:00",
        "Sen 08:00-12:00,11:00-13:00",
        "Sen 25:00-26:00",
        "Sen 08:60-09:00",
        "Sen 24:00-24:30",
        "Xyz 08:00-16:00",
        "Sen-Kam",
        "08:00-16:00",
        "Sen 8-16",
        "Sen ٠٨:٠٠-16:00",
    ],
)
def test_malformed_hours_rejected(text):
    """Reversed, overlapping, impossible times and unknown days are rejected."""
    with pytest.raises(OpeningHoursError):
        parse_opening_hours(text)
