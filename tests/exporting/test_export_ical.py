"""iCalendar schedules: one event per visit, local times, stable UIDs, no personal data."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar

from outreach.exporting import team_ical


def events(data: bytes):
    return [c for c in Calendar.from_ical(data).walk("VEVENT")]


def routes_of(setup):
    return list(setup["plan"].routes)


def test_one_event_per_visit_of_the_team(plan_setup):
    """Only the team's own visits become events, one each."""
    team = plan_setup["team_a"]
    evs = events(team_ical(team, routes_of(plan_setup)))
    expected = len(plan_setup["route_a1"].stops) + len(plan_setup["route_a2"].stops)
    assert len(evs) == expected


def test_times_in_office_zone(plan_setup):
    """DTSTART carries the office's time zone and the local wall time."""
    data = team_ical(plan_setup["team_a"], routes_of(plan_setup))
    first = sorted(events(data), key=lambda e: e.decoded("dtstart"))[0]
    start = first.decoded("dtstart")
    assert isinstance(start, datetime)
    assert start.utcoffset() == ZoneInfo("Asia/Jakarta").utcoffset(start)
    assert start.strftime("%H:%M") == "08:30"
    assert b"TZID=Asia/Jakarta" in data
    assert b"BEGIN:VTIMEZONE" in data


def test_uids_are_unique_and_stable(plan_setup):
    """Two exports give the same UIDs, and no two events share one."""
    team = plan_setup["team_a"]
    first = [str(e["uid"]) for e in events(team_ical(team, routes_of(plan_setup)))]
    second = [str(e["uid"]) for e in events(team_ical(team, routes_of(plan_setup)))]
    assert first == second
    assert len(set(first)) == len(first)


def test_same_bytes_for_the_same_plan(plan_setup):
    """The export is deterministic (DTSTAMP comes from the plan, not the clock)."""
    team = plan_setup["team_a"]
    assert team_ical(team, routes_of(plan_setup)) == team_ical(team, routes_of(plan_setup))


def test_home_visit_has_no_personal_data(plan_setup):
    """A home visit shows its kelurahan and kecamatan only: no name, street, notes or GEO."""
    data = team_ical(plan_setup["team_a"], routes_of(plan_setup))
    for secret in (b"Siti", b"Aminah", b"Mawar", b"lumpuh"):
        assert secret not in data
    home = next(e for e in events(data) if "Kunjungan rumah" in str(e["summary"]))
    assert "Sei Rengas" in str(home["location"]) and "geo" not in home


def test_site_event_has_location_and_geo(plan_setup):
    """A school visit carries its name, address and coordinates."""
    data = team_ical(plan_setup["team_a"], routes_of(plan_setup))
    school = next(e for e in events(data) if "SMA" in str(e["summary"]))
    assert "Jl. Sisingamangaraja" in str(school["location"])
    assert "geo" in school
    assert "Perekaman KTP-el: 120 orang" in str(school["description"])


def test_cancelled_visit_is_marked_cancelled(plan_setup):
    """A cancelled visit stays in the file with STATUS:CANCELLED."""
    evs = events(team_ical(plan_setup["team_b"], routes_of(plan_setup)))
    assert sorted(str(e["status"]) for e in evs) == ["CANCELLED", "CONFIRMED"]


def test_calendar_headers(plan_setup):
    """The calendar has VERSION 2.0 and our PRODID."""
    cal = Calendar.from_ical(team_ical(plan_setup["team_a"], routes_of(plan_setup)))
    assert str(cal["version"]) == "2.0" and "Jemput Bola" in str(cal["prodid"])


def test_cached_timezones_are_what_icalendar_adds():
    """``add_timezones`` (the VTIMEZONE computed once per process) gives the calendar that
    icalendar's own ``add_missing_timezones`` gives, in every zone an office can have."""
    from icalendar import Event

    from outreach.exporting.ical import add_timezones

    for zone in ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"):
        calendars = []
        for _ in range(2):
            cal = Calendar()
            cal.add("prodid", "-//test//")
            cal.add("version", "2.0")
            event = Event()
            event.add("uid", "x@test")
            event.add("dtstamp", datetime(2026, 12, 1, tzinfo=ZoneInfo("UTC")))
            event.add("dtstart", datetime(2026, 12, 7, 9, tzinfo=ZoneInfo(zone)))
            event.add("dtend", datetime(2026, 12, 7, 11, tzinfo=ZoneInfo(zone)))
            cal.add_component(event)
            calendars.append(cal)
        calendars[0].add_missing_timezones()
        add_timezones(calendars[1])
        add_timezones(calendars[1])  # nothing missing any more: nothing added twice
        assert calendars[1].to_ical() == calendars[0].to_ical()
        assert calendars[1].to_ical().count(b"BEGIN:VTIMEZONE") == 1
