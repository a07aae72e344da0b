"""Plain data builders with sensible defaults (``make_office(...)`` etc.), and the ways a test
logs a user in (``login``: a session cookie; ``form_login``/``post_login``/``csrf_login``: the
login form)."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from outreach.extensions import db
from outreach.models import (
    Hotspot,
    HotspotDemand,
    HotspotKind,
    HotspotOpening,
    Office,
    Role,
    StopCheckin,
    Team,
    TeamWeeklyShift,
    User,
    VehicleKind,
)

_seq = itertools.count(1)

PASSWORD = "correct horse battery staple"
FRIDAY_PRAYER = [690, 810, "Sholat Jumat"]
WIB = ZoneInfo("Asia/Jakarta")


def make_office(**kw) -> Office:
    office = Office(
        name=kw.pop("name", f"Dinas Dukcapil Kota Medan {next(_seq)}"),
        address=kw.pop("address", "Jl. Iskandar Muda, Medan"),
        lat=kw.pop("lat", 3.5833),
        lon=kw.pop("lon", 98.6667),
        region_code=kw.pop("region_code", "12.71"),
        card_stock=kw.pop("card_stock", 4000),
        **kw,
    )
    db.session.add(office)
    db.session.flush()
    return office


def make_team(office: Office | None = None, *, weekly: bool = True, **kw) -> Team:
    office = office or make_office()
    team = Team(
        office=office,
        name=kw.pop("name", f"Tim {next(_seq)}"),
        vehicle=kw.pop("vehicle", VehicleKind.CAR),
        kits=kw.pop("kits", 2),
        services=kw.pop("services", ["ktp_record", "birth_cert", "kia"]),
        has_printer=kw.pop("has_printer", False),
        cards_per_day=kw.pop("cards_per_day", 0),
        **kw,
    )
    db.session.add(team)
    if weekly:
        for wd in range(5):
            breaks = [FRIDAY_PRAYER] if wd == 4 else [[720, 780, "Istirahat"]]
            team.weekly_shifts.append(
                TeamWeeklyShift(weekday=wd, start_min=480, end_min=960, breaks=breaks)
            )
    db.session.flush()
    return team


def make_hotspot(office: Office | None = None, **kw) -> Hotspot:
    office = office or make_office()
    demand = kw.pop("demand", {"ktp_record": 40})
    openings = kw.pop("openings", {wd: [(480, 960)] for wd in range(5)})
    n = next(_seq)
    hs = Hotspot(
        office=office,
        name=kw.pop("name", f"SMA Negeri {n} Medan"),
        kind=kw.pop("kind", HotspotKind.SCHOOL),
        lat=kw.pop("lat", 3.58 + (n % 10) * 0.005),
        lon=kw.pop("lon", 98.67 + (n % 7) * 0.005),
        kecamatan_code=kw.pop("kecamatan_code", "12.71.01"),
        kecamatan_name=kw.pop("kecamatan_name", "Medan Kota"),
        kelurahan_code=kw.pop("kelurahan_code", "12.71.01.1001"),
        kelurahan_name=kw.pop("kelurahan_name", "Pasar Baru"),
        priority=kw.pop("priority", 3),
        **kw,
    )
    for service, persons in demand.items():
        hs.demands.append(HotspotDemand(service=service, requested=persons, remaining=persons))
    for wd, windows in openings.items():
        for start, end in windows:
            hs.openings.append(HotspotOpening(weekday=wd, start_min=start, end_min=end))
    db.session.add(hs)
    db.session.flush()
    return hs


def make_user(role: Role = Role.COORDINATOR, *, password: str = PASSWORD, **kw) -> User:
    team = kw.pop("team", None)
    if role == Role.FIELD and team is None:
        team = make_team()
    user = User(
        username=kw.pop("username", f"user{next(_seq)}"),
        role=role,
        team=team,
        office_id=kw.pop("office_id", team.office_id if team else None),
        **kw,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def monday(year: int = 2026, month: int = 12, day: int = 7) -> date:
    """A Monday that is not a national holiday (7 December 2026)."""
    d = date(year, month, day)
    assert d.weekday() == 0
    return d


def today_wib() -> date:
    """Today in Western Indonesia (WIB), for plans published relative to the real date."""
    return datetime.now(WIB).date()


# -- plans (appended by the plan-screens helper) ----------------------------------------------


def make_plan(office: Office | None = None, **kw):
    """A solved plan over one week starting Monday 7 December 2026, with no routes yet."""
    from outreach.models import Plan, PlanStatus

    office = office or make_office()
    start = kw.pop("start_date", monday())
    plan = Plan(
        office_id=office.id,
        name=kw.pop("name", f"Rencana {next(_seq)}"),
        status=kw.pop("status", PlanStatus.SOLVED),
        start_date=start,
        end_date=kw.pop("end_date", start + timedelta(days=4)),
        params=kw.pop("params", {}),
        solver_status=kw.pop("solver_status", "ROUTING_SUCCESS"),
        **kw,
    )
    db.session.add(plan)
    db.session.flush()
    return plan


def make_route(plan, team: Team | None = None, day: date | None = None, **kw):
    """A route of ``team`` on ``day`` (defaults: a new team of the plan's office, first day)."""
    from outreach.models import PlannedRoute

    team = team or make_team(db.session.get(Office, plan.office_id))
    day = day or plan.start_date
    route = PlannedRoute(
        plan=plan,
        team=team,
        day=day,
        distance_m=kw.pop("distance_m", 0),
        duration_s=kw.pop("duration_s", 0),
        **kw,
    )
    db.session.add(route)
    db.session.flush()
    return route


def make_stop(route, hotspot: Hotspot | None = None, **kw):
    """The next stop of ``route``: 60 minutes of service after the previous one (WIB, UTC+7)."""
    from outreach.models import PlannedStop

    hotspot = hotspot or make_hotspot(db.session.get(Office, route.plan.office_id))
    position = kw.pop("position", len(route.stops))
    # 08:30 WIB = 01:30 UTC for the first stop, then one stop per 75 minutes.
    base = datetime(route.day.year, route.day.month, route.day.day, 1, 30, tzinfo=UTC)
    start = kw.pop("start_at", base + timedelta(minutes=75 * position))
    stop = PlannedStop(
        route=route,
        hotspot=hotspot,
        position=position,
        arrival_at=kw.pop("arrival_at", start - timedelta(minutes=5)),
        start_at=start,
        end_at=kw.pop("end_at", start + timedelta(minutes=60)),
        persons=kw.pop("persons", {"ktp_record": 40}),
        cards=kw.pop("cards", 0),
        **kw,
    )
    db.session.add(stop)
    db.session.flush()
    return stop


def make_unserved(plan, hotspot: Hotspot | None = None, **kw):
    """A hotspot left out of ``plan`` with a reason sentence."""
    from outreach.models import PlanUnserved

    hotspot = hotspot or make_hotspot(db.session.get(Office, plan.office_id))
    row = PlanUnserved(
        plan=plan,
        hotspot=hotspot,
        reason_code=kw.pop("reason_code", "no_capacity"),
        reason_text=kw.pop("reason_text", "Semua tim sudah penuh pada hari-hari rencana."),
        reason_params=kw.pop("reason_params", None),
        persons=kw.pop("persons", hotspot.remaining_total),
    )
    db.session.add(row)
    db.session.flush()
    return row


def make_solved_plan(
    n_stops: int = 6, *, teams: int = 2, days: int = 2, office: Office | None = None, **kw
):
    """A solved plan with ``n_stops`` stops spread over ``teams`` × ``days`` routes."""
    office = office or make_office()
    plan = make_plan(office, **kw)
    team_rows = [make_team(office) for _ in range(teams)]
    routes = [
        make_route(plan, team, plan.start_date + timedelta(days=d), distance_m=12_000)
        for d in range(days)
        for team in team_rows
    ]
    for i in range(n_stops):
        make_stop(routes[i % len(routes)])
    return plan


def make_checkin(stop, at: datetime) -> StopCheckin:
    """A field team's check-in at ``stop`` at the instant ``at``."""
    row = StopCheckin(
        client_uuid=str(uuid.uuid4()),
        stop_id=stop.id,
        hotspot_id=stop.hotspot_id,
        team_id=stop.route.team_id,
        day=stop.route.day,
        at=at,
    )
    db.session.add(row)
    db.session.flush()
    return row


# -- plans solved by the real solver --------------------------------------------------------------


def solve_now(plan, seconds: int = 2):
    """Solve ``plan`` in the test's thread (what the background job does) and store it."""
    from outreach.models import PlanStatus
    from outreach.planning import SolveParams, solve
    from outreach.plans import adapter

    built = adapter.problem_for_plan(plan, live_demand=True)
    result = solve(built.problem, SolveParams(time_limit_s=seconds))
    adapter.write_result(plan, built, result)
    plan.status = PlanStatus.SOLVED
    db.session.commit()
    return plan


def make_real_solved_plan(
    office: Office,
    teams: list[Team],
    sites: list[dict],
    *,
    days: int = 1,
    seconds: int = 2,
    start: date | None = None,
    **kw,
):
    """A plan of ``teams`` from ``start`` (Monday 7 December) over ``days`` days, created by
    the plan service over new hotspots (one per ``make_hotspot`` keywords in ``sites``) and
    solved by the real solver in the test's thread; returns ``(plan, coordinator)``. It passes
    the checker, so it can be published."""
    from outreach.plans import service

    first = start or monday()
    for site in sites:
        make_hotspot(office, **site)
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    plan = service.create_plan(
        office,
        user,
        name=kw.pop("name", "Rencana uji"),
        start_date=first,
        end_date=first + timedelta(days=days - 1),
        team_ids=[t.id for t in teams],
        time_limit_s=seconds,
        **kw,
    )
    return solve_now(plan, seconds), user


# -- logging in ------------------------------------------------------------------------------------


def login(client, user: User, *, lang: str | None = None) -> None:
    """Log ``user`` in without the form: start a server-side session and put its token in the
    test client's cookie (``lang`` also picks the session's language)."""
    from flask import g

    from outreach.auth.sessions import start_session

    # The app fixture keeps one app context (and so one ``g``) across requests: drop the user
    # Flask-Login cached there so the next request loads the new session.
    g.pop("_login_user", None)
    token = start_session(user)
    db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = token
        sess["_fresh"] = True
        if lang is not None:
            sess["lang"] = lang


def post_login(client, username: str, password: str = PASSWORD, *, headers=None, **fields):
    """POST the login form (no CSRF token) and return the response, whatever it is."""
    data = {"username": username, "password": password, **fields}
    return client.post("/login", data=data, headers=headers or {})


def form_login(client, user: User | str, password: str = PASSWORD):
    """Log in through the login form (``user`` or a username); assert it worked."""
    resp = post_login(client, getattr(user, "username", user), password)
    assert resp.status_code == 302, "login failed"
    return resp


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def csrf_login(client, username: str, password: str = PASSWORD, *, headers=None, **fields):
    """Log in through the form of an app with CSRF on, with the login page's own token."""
    token = csrf_token_in(client.get("/login").get_data(as_text=True))
    resp = post_login(client, username, password, headers=headers, csrf_token=token, **fields)
    assert resp.status_code == 302, "login failed"
    return resp
