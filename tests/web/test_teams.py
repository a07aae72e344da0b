"""Coordinator team screens: CRUD, weekly pattern, dated exceptions and the holiday calendar."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import AuditEvent, ExceptionKind, Role, Team, TeamException
from tests.factories import login, make_office, make_team, make_user


def team_payload(**kw) -> dict:
    data = {
        "name": "Tim Medan Kota",
        "vehicle": "motorbike",
        "kits": "2",
        "services": ["ktp_record", "kia"],
        "cards_per_day": "0",
        "active": "y",
    }
    data.update(kw)
    return data


def test_create_team_stores_fields_default_week_and_audit(client, coord, office):
    """Creating a team stores its fields, gives it Mon-Fri with the Friday prayer break, audits."""
    resp = client.post("/coord/teams/new", data=team_payload())
    assert resp.status_code == 302
    team = db.session.scalar(sa.select(Team).filter_by(name="Tim Medan Kota"))
    assert team.office_id == office.id
    assert (team.vehicle.value, team.kits, team.services) == ("motorbike", 2, ["ktp_record", "kia"])
    assert [s.weekday for s in team.weekly_shifts] == [0, 1, 2, 3, 4]
    assert team.weekly_shifts[4].breaks == [[690, 810, "Sholat Jumat"]]
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="team.create"))
    assert event.user_id == coord.id and event.object_id == str(team.id)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kits", "0", "Enter a number from 1 to 10."),
        ("kits", "11", "Enter a number from 1 to 10."),
        ("kits", "+2", "digits 0-9 only"),
        ("kits", "1_0", "digits 0-9 only"),
        ("cards_per_day", "-5", "digits 0-9 only"),
        ("name", "", "This field is required."),
        ("services", [], "Choose at least one service."),
    ],
)
def test_create_team_rejects_bad_fields_with_a_field_error(client, coord, field, value, message):
    """Invalid team fields give 400 with the field's error and store nothing."""
    resp = client.post("/coord/teams/new", data=team_payload(**{field: value}))
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Team.id))) == 0


def test_printing_service_needs_printer_and_cards(client, coord):
    """Choosing on-site printing without a printer or card allowance is refused per field."""
    resp = client.post("/coord/teams/new", data=team_payload(services=["ktp_print"]))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "needs a printer" in body and "needs blank cards" in body


def test_duplicate_team_name_in_office_is_refused(client, coord, office):
    """Two teams of one office cannot share a name."""
    make_team(office, name="Tim A")
    db.session.commit()
    resp = client.post("/coord/teams/new", data=team_payload(name="Tim A"))
    assert resp.status_code == 400
    assert "already has this name" in resp.get_data(as_text=True)


def test_edit_team_updates_and_lists(client, coord, office):
    """Editing changes the stored team and the list shows the new values."""
    team = make_team(office, name="Tim Lama")
    db.session.commit()
    resp = client.post(
        f"/coord/teams/{team.id}/edit",
        data=team_payload(
            name="Tim Baru",
            kits="3",
            has_printer="y",
            services=["ktp_print"],
            cards_per_day="50",
            active="",
        ),
    )
    assert resp.status_code == 302
    db.session.refresh(team)
    assert (team.name, team.kits, team.has_printer, team.cards_per_day, team.active) == (
        "Tim Baru",
        3,
        True,
        50,
        False,
    )
    listing = client.get("/coord/teams").get_data(as_text=True)
    assert "Tim Baru" in listing and "Tim Lama" not in listing


def test_other_office_team_is_not_found(client, coord):
    """A team of another office answers 404 for reads and writes."""
    other = make_team(make_office(name="Dinas Lain"), name="Tim Lain")
    db.session.commit()
    assert client.get(f"/coord/teams/{other.id}/edit").status_code == 404
    assert client.post(f"/coord/teams/{other.id}/edit", data=team_payload()).status_code == 404
    assert client.get(f"/coord/teams/{other.id}/calendar").status_code == 404
    db.session.refresh(other)
    assert other.name == "Tim Lain"


def week_payload(**override) -> dict:
    data = {}
    for wd in range(7):
        if wd < 5:
            data[f"days-{wd}-working"] = "y"
        data[f"days-{wd}-start"] = "08:00"
        data[f"days-{wd}-end"] = "16:00"
    data["days-4-break1_start"] = "11:30"
    data["days-4-break1_end"] = "13:30"
    data["days-4-break1_label"] = "Sholat Jumat"
    data.update(override)
    return data


def test_weekly_pattern_saves_days_hours_and_breaks(client, coord, office):
    """The weekly editor stores working days, hours and breaks; unticked days are removed."""
    team = make_team(office)
    db.session.commit()
    resp = client.post(
        f"/coord/teams/{team.id}/week",
        data=week_payload(
            **{
                "days-5-working": "y",
                "days-5-start": "09:00",
                "days-5-end": "12:00",
                "days-0-working": "",
            }
        ),
    )
    assert resp.status_code == 302
    db.session.expire_all()
    shifts = {s.weekday: s for s in db.session.get(Team, team.id).weekly_shifts}
    assert sorted(shifts) == [1, 2, 3, 4, 5]
    assert (shifts[5].start_min, shifts[5].end_min, shifts[5].breaks) == (540, 720, [])
    assert shifts[4].breaks == [[690, 810, "Sholat Jumat"]]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"days-1-end": "07:00"}, "end time must be after the start"),
        ({"days-1-start": "8 pagi"}, "Enter a time as HH:MM"),
        ({"days-4-break1_end": "17:00"}, "outside the working hours"),
        ({"days-4-break2_start": "12:00", "days-4-break2_end": "12:30"}, "must not overlap"),
        ({"days-2-break1_start": "12:00"}, "both a start and an end"),
    ],
)
def test_weekly_pattern_rejects_invalid_hours(client, coord, office, override, message):
    """Impossible hours or breaks give 400 with a readable error and change nothing."""
    team = make_team(office)
    db.session.commit()
    resp = client.post(f"/coord/teams/{team.id}/week", data=week_payload(**override))
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Team, team.id).weekly_shifts[4].breaks == [[690, 810, "Sholat Jumat"]]


def test_week_editor_prefills_friday_prayer_for_a_new_friday(client, coord, office):
    """A team without a Friday shift sees the 11:30-13:30 prayer break prefilled for Friday."""
    team = make_team(office, weekly=False)
    db.session.commit()
    body = client.get(f"/coord/teams/{team.id}/week").get_data(as_text=True)
    assert 'name="days-4-break1_start" type="time" value="11:30"' in body
    assert 'value="Sholat Jumat"' in body


def test_calendar_shows_christmas_holiday_and_working_days(client, coord, office):
    """December 2026 shows 25 Dec as "Hari Raya Natal" (off) and Mondays as working days."""
    team = make_team(office)
    db.session.commit()
    url = f"/coord/teams/{team.id}/calendar?month=2026-12"
    body = client.get(url + "&lang=id").get_data(as_text=True)
    assert "Hari Raya Natal" in body and "Desember 2026" in body
    assert 'data-day="2026-12-25" data-status="holiday"' in body
    assert "Christmas Day" in client.get(url + "&lang=en").get_data(as_text=True)
    assert 'data-day="2026-12-07" data-status="work"' in body
    assert 'data-day="2026-12-06" data-status="off"' in body


def test_exception_leave_and_extra_day_show_on_calendar(client, coord, office):
    """Leave and an extra working day on a holiday are stored, audited and shown on the calendar."""
    team = make_team(office)
    db.session.commit()
    r1 = client.post(
        f"/coord/teams/{team.id}/exceptions",
        data={"day": "2026-12-08", "kind": "leave", "note": "Cuti"},
    )
    r2 = client.post(
        f"/coord/teams/{team.id}/exceptions",
        data={"day": "2026-12-25", "kind": "extra", "start": "09:00", "end": "13:00"},
    )
    assert r1.status_code == r2.status_code == 302
    rows = db.session.scalars(sa.select(TeamException).order_by(TeamException.day)).all()
    assert [(e.day, e.kind) for e in rows] == [
        (date(2026, 12, 8), ExceptionKind.LEAVE),
        (date(2026, 12, 25), ExceptionKind.EXTRA),
    ]
    assert (rows[1].start_min, rows[1].end_min) == (540, 780)
    body = client.get(f"/coord/teams/{team.id}/calendar?month=2026-12").get_data(as_text=True)
    assert 'data-day="2026-12-08" data-status="leave"' in body
    assert 'data-day="2026-12-25" data-status="extra"' in body
    assert "Christmas Day" in body  # the holiday name stays visible
    actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions.count("team.exception.create") == 2


def test_exception_on_same_day_replaces_and_delete_restores(client, coord, office):
    """A second exception on a date replaces the first; deleting it restores the pattern."""
    team = make_team(office)
    db.session.commit()
    client.post(f"/coord/teams/{team.id}/exceptions", data={"day": "2026-12-09", "kind": "leave"})
    client.post(
        f"/coord/teams/{team.id}/exceptions",
        data={"day": "2026-12-09", "kind": "hours", "start": "10:00", "end": "14:00"},
    )
    rows = db.session.scalars(sa.select(TeamException)).all()
    assert [(e.kind, e.start_min) for e in rows] == [(ExceptionKind.HOURS, 600)]
    resp = client.post(f"/coord/teams/{team.id}/exceptions/{rows[0].id}/delete")
    assert resp.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(TeamException.id))) == 0
    body = client.get(f"/coord/teams/{team.id}/calendar?month=2026-12").get_data(as_text=True)
    assert 'data-day="2026-12-09" data-status="work"' in body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"day": "", "kind": "leave"}, "Choose a date."),
        ({"day": "2026-12-09", "kind": "hours", "start": "", "end": ""}, "Enter the start and end"),
        (
            {"day": "2026-12-09", "kind": "extra", "start": "14:00", "end": "10:00"},
            "after the start",
        ),
        ({"day": "2026-12-09", "kind": "bogus"}, "Not a valid choice"),
    ],
)
def test_invalid_exception_is_rejected(client, coord, office, data, message):
    """A bad exception gives 400 with the reason and stores nothing."""
    team = make_team(office)
    db.session.commit()
    resp = client.post(f"/coord/teams/{team.id}/exceptions", data=data)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(TeamException.id))) == 0


def test_calendar_day_link_prefills_the_exception_form(client, coord, office):
    """Clicking a date opens the form with that date and the existing exception's values."""
    team = make_team(office)
    team.exceptions.append(
        TeamException(
            day=date(2026, 12, 10),
            kind=ExceptionKind.HOURS,
            start_min=600,
            end_min=840,
            note="Rapat",
        )
    )
    db.session.commit()
    body = client.get(f"/coord/teams/{team.id}/calendar?day=2026-12-10").get_data(as_text=True)
    assert 'value="2026-12-10"' in body and 'value="10:00"' in body and 'value="Rapat"' in body


TEAM_URLS = [
    ("get", "/coord/teams"),
    ("get", "/coord/teams/new"),
    ("post", "/coord/teams/new"),
    ("get", "/coord/teams/{id}/edit"),
    ("post", "/coord/teams/{id}/edit"),
    ("get", "/coord/teams/{id}/week"),
    ("post", "/coord/teams/{id}/week"),
    ("get", "/coord/teams/{id}/calendar"),
    ("post", "/coord/teams/{id}/exceptions"),
    ("post", "/coord/teams/{id}/exceptions/1/delete"),
]


@pytest.mark.parametrize(("method", "url"), TEAM_URLS)
def test_team_views_deny_field_users_and_anonymous(client, office, method, url):
    """Anonymous users are sent to login and field users get 403 on every team view."""
    team = make_team(office)
    field_user = make_user(Role.FIELD, team=team)
    db.session.commit()
    target = url.format(id=team.id)
    anon = getattr(client, method)(target)
    assert anon.status_code in (302, 401)
    login(client, field_user, lang="en")
    assert getattr(client, method)(target, data=team_payload()).status_code == 403
    assert db.session.get(Team, team.id).name != "Tim Medan Kota"
