"""Tenancy: several offices share one database (a province), and a coordinator or field member
of office A reads and writes nothing of office B, through any screen, export, map or API call.

Offices A and B each get everything that has an id (teams, a field member with a device session
and bearer tokens, hotspots, a solved and published plan with routes and stops, a plan of today
with a check-in and an outcome, a solve job, a home-visit request, a team exception, a stored
import upload). Every text of B carries :data:`SENTINEL`. Then A's coordinator and A's field
member (login cookie and, where the API takes one, bearer token) walk every rule of the
``coord``, ``field``, ``api`` and ``api_field`` blueprints with B's ids: each answer is a
403/404, shows no B text, and leaves every table (and the upload store) exactly as it was.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from outreach.api.spec import ENDPOINTS
from outreach.auth.accounts import AccountError, create_user
from outreach.auth.sessions import start_session
from outreach.auth.tokens import create_token
from outreach.extensions import db
from outreach.models import (
    ExceptionKind,
    HotspotStatus,
    JobStatus,
    OutcomeResult,
    Plan,
    PlanStatus,
    RequestStatus,
    Role,
    SolveJob,
    TeamException,
    User,
    UserSession,
    VisitOutcome,
    VisitRequest,
    hash_token,
)
from outreach.plans import service
from outreach.public.requests import CONSENT_VERSION, new_status_code, status_code_hash
from tests.factories import (
    PASSWORD,
    login,
    make_checkin,
    make_hotspot,
    make_office,
    make_plan,
    make_real_solved_plan,
    make_route,
    make_stop,
    make_team,
    make_user,
    monday,
    today_wib,
)

# Every text of office B contains this; no answer to A may contain it (case-insensitive).
SENTINEL = "ZZBLEAKZZ"
MARK_A = "Alfa"
WALKED = ("coord", "field", "api", "api_field")
SKIP_METHODS = {"HEAD", "OPTIONS"}
# URL arguments that name an object, each filled from seed_office()'s ids.
ID_ARGS = {
    "plan_id",
    "stop_id",
    "route_id",
    "team_id",
    "hotspot_id",
    "request_id",
    "exception_id",
    "user_id",
    "session_id",
    "job_id",
    "token",  # an import upload's
}
# URL arguments that name no object (a date): filled with A's value, never "B's id".
NON_ID_ARGS = {"day"}
# Columns a request may touch without changing anything (session and token "last seen").
VOLATILE = {("user_session", "last_seen_at"), ("api_token", "last_used_at")}
# Rules that answer an unknown (or another office's) upload token with a redirect to the upload
# page and an "expired" message, exactly as for an expired preview.
UNKNOWN_TOKEN_REDIRECT = {
    "coord.import_review": "/coord/imports",
    "coord.import_commit": "/coord/imports",
    "coord.import_discard": "/coord/imports",
}
# Writes without an id in the URL or body: they only create or change rows of the user's own
# office (covered by their own tests). A new id-less write must be listed here or in the body
# id tables below, or the route-count test fails.
OWN_OFFICE_WRITES = {
    "coord.team_new",
    "coord.hotspot_new",
    "coord.import_upload",
    "coord.office_settings",
    "api.hotspots_create",
    "api.hotspots_import",
    "api.teams_create",
}
# Form fields that carry ids, per coordinator/field form endpoint (API bodies are read from
# their schema: see BODY_ID_FIELDS).
FORM_ID_FIELDS = {
    "coord.stop_move": ("stop_id", "target"),
    "coord.hotspot_add": ("hotspot_id", "target"),
    "coord.plan_new": ("team_ids",),
    # A check-in's or outcome's client_uuid names a stored row: replaying B's must not show it.
    "field.stop_checkin": ("client_uuid",),
    "field.stop_outcome": ("client_uuid",),
}
BODY_ID_FIELDS = ("team_id", "hotspot_id", "stop_id", "team_ids", "hotspot_ids", "client_uuid")
DENIED = (403, 404)
REFUSED = (400, 403, 404, 409, 422)
# The walk must cover at least this many rules (an empty or shrunken walk cannot pass).
MIN_RULES = 80
MIN_ID_RULES = 45

IMPORT_HEADER = "kode;nama;jenis;lintang;bujur;ktp_el;prioritas"


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config["IMPORT_UPLOAD_DIR"] = str(tmp_path / "uploads")
    app_config["JOB_BACKEND"] = "inline"  # a write that slipped through would not hide in a thread
    return app_config


# -- seeding ---------------------------------------------------------------------------------


@dataclass
class Tenant:
    """One office's ids: URL argument name -> value, plus what the walkers need."""

    mark: str
    office_id: int
    ids: dict[str, Any]
    body: dict[str, Any]  # ids a request body carries (an unplanned hotspot to add, ...)
    plan_id: int
    coordinator_id: int
    coordinator_token: str
    field_user_id: int
    field_token: str


def seed_office(mark: str, label: str) -> Tenant:
    """An office whose every name, note and address contains ``mark``."""
    office = make_office(name=f"Dinas Dukcapil {mark}", address=f"Jl. Kantor {mark}")
    teams = [make_team(office, name=f"Tim {mark} {i}") for i in (1, 2)]
    sites = [
        {
            "name": f"SMA {mark} {i}",
            "address": f"Jl. Sekolah {mark} {i}",
            "notes": f"Catatan titik {mark}",
            "contact_name": f"Ibu {mark}",
            "lat": 3.58 + 0.004 * i,
            "lon": 98.67 + 0.003 * i,
            "demand": {"ktp_record": 30 + 5 * i},
        }
        for i in range(3)
    ]
    # The plan of a Monday that is not today: below, today's plan is published for the same
    # team, and a newer publication for the same day replaces the older one's route (its
    # stop page then answers 404, as it should). On 7 December itself the walk would lose
    # the stop it visits, so that day the plan goes to the Monday after.
    start = monday() if today_wib() != monday() else monday() + timedelta(days=7)
    plan, coordinator = make_real_solved_plan(
        office, teams, sites, days=1, seconds=1, name=f"Rencana {mark}", start=start
    )
    service.publish(plan, coordinator, plan.version_id)  # field routes and public visits
    plan = db.session.get(Plan, plan.id)
    route = next(r for r in plan.routes if r.stops)
    stop = route.stops[0]
    team = route.team
    unplanned = make_hotspot(office, name=f"Posyandu {mark}", notes=f"Belum direncanakan {mark}")

    member = make_user(Role.FIELD, team=team, username=f"petugas-{label}-{mark.lower()}")
    device_token = start_session(member, device_name=f"Tablet {mark}")
    field_token = create_token(member, f"tablet {mark}")
    coordinator_token = create_token(coordinator, f"laptop {mark}")
    exception = TeamException(
        team=team, day=monday() + timedelta(days=14), kind=ExceptionKind.LEAVE, note=f"Cuti {mark}"
    )
    db.session.add(exception)
    job = SolveJob(
        id=str(uuid.uuid4()),
        plan_id=plan.id,
        status=JobStatus.DONE,
        backend="inline",
        progress={"served": 3},
        error="",
    )
    db.session.add(job)
    request_row = VisitRequest(
        office_id=office.id,
        token_hash=status_code_hash(new_status_code()),
        requester_name=f"Pemohon {mark}",
        requester_relation="family",
        person_name=f"Warga {mark}",
        phone="+6281200000001",
        address=f"Jl. Rumah {mark}",
        kelurahan_code="12.71.01.1001",
        persons=1,
        services=["ktp_record"],
        reason="bedridden",
        notes=f"Catatan permohonan {mark}",
        consent_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        consent_version=CONSENT_VERSION,
        status=RequestStatus.RECEIVED,
    )
    db.session.add(request_row)

    # Today's published route with a check-in and an outcome: live progress and the field day.
    today = today_wib()
    today_plan = make_plan(office, start_date=today, end_date=today, name=f"Hari ini {mark}")
    today_route = make_route(today_plan, team, today)
    today_stops = [
        make_stop(
            today_route,
            make_hotspot(office, name=f"Balai {mark} {i}", address=f"Jl. Balai {mark}"),
        )
        for i in range(2)
    ]
    today_plan.status = PlanStatus.PUBLISHED
    today_plan.published_version = 1
    today_plan.published_at = datetime.now(UTC)
    done = today_stops[0]
    checkin = make_checkin(done, datetime.now(UTC))
    outcome_uuid = str(uuid.uuid4())
    db.session.add(
        VisitOutcome(
            client_uuid=outcome_uuid,
            stop_id=done.id,
            hotspot_id=done.hotspot_id,
            team_id=team.id,
            day=today,
            recorded_by_id=member.id,
            result=OutcomeResult.SERVED,
            present=5,
            recorded={"ktp_record": 5},
            notes=f"Catatan lapangan {mark}",
        )
    )
    closed = today_stops[1]  # "could not serve": listed on the dashboard for the next plan
    db.session.add(
        VisitOutcome(
            client_uuid=str(uuid.uuid4()),
            stop_id=closed.id,
            hotspot_id=closed.hotspot_id,
            team_id=team.id,
            day=today,
            recorded_by_id=member.id,
            result=OutcomeResult.NOT_SERVED,
            problems=["site_closed"],
            notes=f"Tutup {mark}",
        )
    )
    db.session.commit()
    session_id = db.session.scalar(
        sa.select(UserSession.id).filter_by(token_hash=hash_token(device_token))
    )
    return Tenant(
        mark=mark,
        office_id=office.id,
        ids={
            "plan_id": plan.id,
            "stop_id": stop.id,
            "route_id": route.id,
            "team_id": team.id,
            "hotspot_id": stop.hotspot_id,
            "request_id": request_row.id,
            "exception_id": exception.id,
            "user_id": member.id,
            "session_id": session_id,
            "job_id": job.id,
            "token": None,  # the import upload, stored through the screen below
            "day": route.day.isoformat(),
        },
        body={
            "hotspot_id": unplanned.id,
            "team_id": team.id,
            "stop_id": stop.id,
            "checkin_uuid": checkin.client_uuid,
            "outcome_uuid": outcome_uuid,
        },
        plan_id=plan.id,
        coordinator_id=coordinator.id,
        coordinator_token=coordinator_token,
        field_user_id=member.id,
        field_token=field_token,
    )


def store_upload_as(app, tenant: Tenant, label: str) -> str:
    """Upload a spreadsheet as the tenant's coordinator; return the preview's token."""
    client = app.test_client()
    login(client, db.session.get(User, tenant.coordinator_id))
    row = f"{label}-1;SMA Unggah {tenant.mark};SMA;3,5801;98,6789;120;2"
    data = ("\r\n".join([IMPORT_HEADER, row]) + "\r\n").encode()
    resp = client.post(
        "/coord/imports",
        data={"file": (io.BytesIO(data), "titik.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
    return resp.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


@dataclass
class World:
    app: Any
    a: Tenant
    b: Tenant
    upload_dir: str
    clients: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def world(app) -> World:
    """Offices A and B with everything that has an id; A's users logged in on clients."""
    a = seed_office(MARK_A, "a")
    b = seed_office(SENTINEL, "b")
    a.ids["token"] = store_upload_as(app, a, "A")
    b.ids["token"] = store_upload_as(app, b, "B")
    w = World(app, a, b, app.config["IMPORT_UPLOAD_DIR"])
    for who, user_id in (("coordinator", a.coordinator_id), ("field", a.field_user_id)):
        client = app.test_client()
        login(client, db.session.get(User, user_id), lang="en")
        w.clients[who] = client
    return w


# -- the walk --------------------------------------------------------------------------------


def tenancy_rules(app, blueprints=WALKED) -> list:
    """The rules of ``blueprints``, sorted for a stable walk."""
    return sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint.partition(".")[0] in blueprints),
        key=lambda r: (r.rule, r.endpoint),
    )


def methods_of(rule) -> list[str]:
    return sorted(rule.methods - SKIP_METHODS)


def id_args(rule) -> list[str]:
    """The rule's arguments that name objects; an unknown name fails the walk loudly."""
    names = sorted(rule.arguments)
    unknown = [n for n in names if n not in ID_ARGS and n not in NON_ID_ARGS]
    if unknown:
        pytest.fail(
            f"{rule.endpoint} ({rule.rule}) has URL arguments {unknown} that the tenancy walk "
            "cannot map to an object of office B: add them to seed_office()."
        )
    return [n for n in names if n not in NON_ID_ARGS]


def fill(rule, values: dict[str, Any]) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[^<>:]+:)?{name}>", str(values[name]), path)
    return path


def api_endpoint(rule, method: str):
    name = rule.endpoint.partition(".")[2]
    for ep in ENDPOINTS:
        if ep.name == name and ep.method == method:
            return ep
    return None


def plan_version(plan_id: int) -> int:
    return db.session.scalar(sa.select(Plan.version_id).where(Plan.id == plan_id))


def body_values(ids: dict[str, Any], body: dict[str, Any], version: int) -> dict[str, Any]:
    """Values for every field a form or JSON body of the walked endpoints may carry."""
    day = ids["day"]
    return {
        "expected_version": version,
        "team_id": body["team_id"],
        "hotspot_id": body["hotspot_id"],
        "stop_id": body["stop_id"],
        "team_ids": [body["team_id"]],
        "hotspot_ids": [body["hotspot_id"]],
        "date": day,
        "position": 0,
        "notice": "",
        "client_uuid": str(uuid.uuid4()),
        "name": "Rencana walk",
        "start_date": day,
        "end_date": day,
        "time_limit_s": 1,
        "result": "served",
        "present": 1,
        "recorded": {"ktp_record": 1},
        "turned_away": 0,
        "cards_carried": 0,
        "cards_used": 0,
    }


def json_body(schema, values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, spec in schema.fields.items():
        if name in values:
            out[name] = values[name]
        elif spec.required:
            pytest.fail(
                f"the tenancy walk has no value for the required field {schema.name}.{name}"
            )
    return out


def form_body(values: dict[str, Any]) -> dict[str, Any]:
    """One form that fits every coordinator and field POST (views ignore extra fields)."""
    return {
        "expected_version": str(values["expected_version"]),
        "stop_id": str(values["stop_id"]),
        "hotspot_id": str(values["hotspot_id"]),
        "target": f"{values['team_id']}:{values['date']}",
        "position": "1",
        "team_ids": str(values["team_ids"][0]),
        "start_date": values["date"],
        "end_date": values["date"],
        "time_limit_s": "1",
        "name": "Rencana walk",
        "from_date": values["date"],
        "notice": "",
        "client_uuid": values["client_uuid"],
        "reason": "other",
        "kind": "leave",
        "day": values["date"],
        "present": "1",
        "ktp_record": "1",
    }


def state_checksum(upload_dir: str) -> dict[str, str]:
    """Row count and a hash of all rows per table, and a hash of the stored uploads.

    The session is rolled back first, as at the end of a real request: what counts is what
    was committed.
    """
    db.session.rollback()
    out: dict[str, str] = {}
    for table in db.metadata.sorted_tables:
        cols = [c for c in table.columns if (table.name, c.name) not in VOLATILE]
        rows = db.session.execute(sa.select(*cols).order_by(*table.primary_key.columns)).all()
        out[table.name] = f"{len(rows)}:{hashlib.sha256(repr(rows).encode()).hexdigest()}"
    files = []
    for name in sorted(os.listdir(upload_dir)) if os.path.isdir(upload_dir) else []:
        with open(os.path.join(upload_dir, name), "rb") as fh:
            files.append((name, hashlib.sha256(fh.read()).hexdigest()))
    out["<uploads>"] = hashlib.sha256(repr(files).encode()).hexdigest()
    db.session.rollback()
    return out


def leaks(data: bytes) -> bool:
    """Whether a response body (zip containers such as XLSX unpacked) shows B's sentinel."""
    texts = [data]
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            texts += [archive.read(name) for name in archive.namelist()]
    return any(SENTINEL.lower().encode() in t.lower() for t in texts)


class Walker:
    """Sends requests as one identity of office A and records every problem."""

    def __init__(self, world: World, who: str, how: str):
        self.world, self.who, self.how = world, who, how
        if how == "session":
            self.client, self.headers = world.clients[who], {}
        else:
            token = world.a.coordinator_token if who == "coordinator" else world.a.field_token
            self.client = world.app.test_client()
            self.headers = {"Authorization": f"Bearer {token}"}
        self.problems: list[tuple] = []
        self.requests = 0
        self.state = state_checksum(world.upload_dir)

    def send(self, rule, method: str, url: str, values: dict[str, Any]):
        kwargs: dict[str, Any] = {"method": method, "headers": self.headers}
        if method != "GET":
            ep = api_endpoint(rule, method) if rule.endpoint.startswith("api") else None
            if ep is not None and ep.body is not None:
                kwargs["json"] = json_body(ep.body, values)
            elif ep is None:
                kwargs["data"] = form_body(values)
        self.requests += 1
        return self.client.open(url, **kwargs)

    def location(self, resp) -> str:
        return urlsplit(resp.headers.get("Location", "")).path

    def check(self, case: tuple, resp, allowed: tuple[int, ...], redirect_ok: bool) -> None:
        """Record a wrong status, a B sentinel in the answer, or a changed database."""
        status = resp.status_code
        location = self.location(resp)
        endpoint = case[0]
        fine = status in allowed
        if status in (301, 302, 303):
            # A's users are logged in, so a role mismatch is a 403: a redirect to the login
            # page would mean the walker lost its session and walks on as nobody.
            expected = UNKNOWN_TOKEN_REDIRECT.get(endpoint)
            fine = location == expected or (redirect_ok and not location.startswith("/login"))
        if not fine:
            self.problems.append((*case, "status", status, location))
        if leaks(resp.get_data()):
            self.problems.append((*case, "B data in the answer"))
        if status in (301, 302, 303) and not location.startswith("/login"):
            followed = self.client.get(resp.headers["Location"], headers=self.headers)
            if leaks(followed.get_data()):
                self.problems.append((*case, "B data behind the redirect", location))
        now = state_checksum(self.world.upload_dir)
        if now != self.state:
            changed = sorted(k for k in now if now[k] != self.state.get(k))
            self.problems.append((*case, "changed", changed))
            self.state = now

    def url_walk(self, blueprints) -> int:
        """Every rule with ids, all of them B's, then each one B's and the others A's."""
        a, b = self.world.a, self.world.b
        walked = 0
        for rule in tenancy_rules(self.world.app, blueprints):
            names = id_args(rule)
            if not names:
                continue
            walked += 1
            variants = [("all B", dict.fromkeys(names, b))]
            if len(names) > 1:
                variants += [(f"{n} of B", {m: (b if m == n else a) for m in names}) for n in names]
            for method in methods_of(rule):
                for label, owners in variants:
                    values = {n: owners[n].ids[n] for n in names}
                    values.update({n: a.ids[n] for n in rule.arguments if n in NON_ID_ARGS})
                    # The body's ids belong to B when every URL id does, else to A.
                    body_owner = b if label == "all B" else a
                    plan_owner = owners.get("plan_id", body_owner)
                    version = plan_version(plan_owner.ids["plan_id"])
                    fields = body_values(body_owner.ids, body_owner.body, version)
                    resp = self.send(rule, method, fill(rule, values), fields)
                    self.check((rule.endpoint, method, label), resp, DENIED, redirect_ok=False)
        return walked

    def body_walk(self, blueprints) -> int:
        """Writes whose body carries ids: A's URL, one body id of B's, the rest A's."""
        a, b = self.world.a, self.world.b
        walked = 0
        for rule, method, names in body_id_cases(self.world.app, blueprints):
            walked += 1
            values = {n: a.ids[n] for n in rule.arguments}
            version = plan_version(a.plan_id)
            for name in names:
                fields = body_values(a.ids, a.body, version)
                theirs = body_values(b.ids, b.body, version)
                if name == "target":
                    fields["team_id"] = theirs["team_id"]
                elif name == "client_uuid":
                    kind = "outcome" if "outcome" in rule.endpoint else "checkin"
                    fields["client_uuid"] = b.body[f"{kind}_uuid"]
                else:
                    fields[name] = theirs[name]
                resp = self.send(rule, method, fill(rule, values), fields)
                self.check((rule.endpoint, method, f"body {name} of B"), resp, REFUSED, True)
        return walked


def body_id_cases(app, blueprints=WALKED) -> list[tuple]:
    """(rule, method, id fields) of every write whose body names objects."""
    cases = []
    for rule in tenancy_rules(app, blueprints):
        for method in methods_of(rule):
            if method == "GET":
                continue
            ep = api_endpoint(rule, method) if rule.endpoint.startswith("api") else None
            if ep is not None and ep.body is not None:
                names = tuple(n for n in BODY_ID_FIELDS if n in ep.body.fields)
            else:
                names = FORM_ID_FIELDS.get(rule.endpoint, ())
            if names:
                cases.append((rule, method, names))
    return cases


IDENTITIES = {
    "coordinator-session": ("coordinator", "session", WALKED),
    "coordinator-bearer": ("coordinator", "bearer", ("api", "api_field")),
    "field-session": ("field", "session", WALKED),
    "field-bearer": ("field", "bearer", ("api", "api_field")),
}
# A page each identity may open: still 200 after the walk (the session was not lost).
HOME = {
    "coordinator-session": "/coord/",
    "coordinator-bearer": "/api/v1/plans",
    "field-session": "/field/",
    "field-bearer": "/api/v1/field/route",
}
# How many GET endpoints at least show A's own texts to each identity (the control).
MIN_SHOWING_A = {
    "coordinator-session": 15,
    "coordinator-bearer": 3,
    "field-session": 2,
    "field-bearer": 1,
}
# The blueprint each identity works in: every GET there with A's ids must succeed.
OWN = {
    "coordinator-session": "coord",
    "coordinator-bearer": "api",
    "field-session": "field",
    "field-bearer": "api_field",
}


@pytest.mark.parametrize("identity", sorted(IDENTITIES))
def test_office_a_cannot_reach_office_b_by_id(world, identity):
    """A's coordinator or field member, through every coordinator, field and API rule and every
    method, with B's ids in the URL (all of them, or one among A's) and in the body: each
    answer is 403/404 (a refused edit may say 400/409/422 or send back to A's own page), shows
    nothing of B, and changes no row and no stored upload (SECURITY rows 11, 12)."""
    who, how, blueprints = IDENTITIES[identity]
    walker = Walker(world, who, how)
    walked = walker.url_walk(blueprints)
    walked += walker.body_walk(blueprints)
    assert walker.problems == []
    assert walked >= (8 if how == "bearer" else MIN_ID_RULES)
    # Still signed in: the walk did not end up asking as an anonymous visitor.
    assert walker.client.get(HOME[identity], headers=walker.headers).status_code == 200
    # B's rows are all still there, untouched: a spot check on top of the checksums.
    db.session.expire_all()
    assert db.session.get(VisitRequest, world.b.ids["request_id"]).status == RequestStatus.RECEIVED
    assert db.session.get(UserSession, world.b.ids["session_id"]).revoked_at is None
    assert os.path.exists(os.path.join(world.upload_dir, world.b.ids["token"] + ".bin"))


# Query strings that make list screens show more of their rows.
GET_QUERIES = {
    "coord.dashboard": ["?color=priority"],
    "coord.hotspots": ["?q=SMA", "?page=2"] + [f"?status={s.value}" for s in HotspotStatus],
    "coord.requests": [f"?status={s.value}" for s in RequestStatus],
    "coord.team_calendar": ["?month=2026-12"],
    "api.hotspots_list": ["?limit=500"] + [f"?status={s.value}" for s in HotspotStatus],
}


def own_gets(world: World, who: str, how: str, blueprints) -> tuple[list, dict, set]:
    """GET every rule of ``blueprints`` with A's own ids (and none): no B text anywhere.

    Returns the problems, the status per (endpoint, query) and the endpoints whose answer
    shows A's own texts (the control: these pages do show office data).
    """
    walker = Walker(world, who, how)
    problems, statuses, shows_a = [], {}, set()
    a = world.a
    for rule in tenancy_rules(world.app, blueprints):
        if "GET" not in rule.methods:
            continue
        id_args(rule)  # fails loudly on an argument it cannot fill
        url = fill(rule, {n: a.ids[n] for n in rule.arguments})
        queries = [""] + GET_QUERIES.get(rule.endpoint, [])
        if rule.endpoint == "api_field.field_route":
            queries.append(f"?date={a.ids['day']}")
        for query in queries:
            resp = walker.client.get(url + query, headers=walker.headers)
            statuses[(rule.endpoint, query)] = resp.status_code
            if resp.status_code >= 500:
                problems.append((rule.endpoint, query, "status", resp.status_code))
            if leaks(resp.get_data()):
                problems.append((rule.endpoint, query, "B data in the answer"))
            if MARK_A.lower().encode() in resp.get_data().lower():
                shows_a.add(rule.endpoint)
    return problems, statuses, shows_a


@pytest.mark.parametrize("identity", sorted(IDENTITIES))
def test_office_a_lists_maps_and_exports_show_nothing_of_b(world, identity):
    """Every GET of the coordinator, field and API blueprints without ids (lists, exports,
    maps, JSON) and with A's own ids (A's plan review, day sheet, exports, stop page) shows
    no text of office B (SECURITY rows 11, 12)."""
    who, how, blueprints = IDENTITIES[identity]
    problems, statuses, shows_a = own_gets(world, who, how, blueprints)
    assert problems == []
    # The walk saw A's own data, so "no B text" is not the emptiness of an error page.
    mine = {k: s for k, s in statuses.items() if k[0].partition(".")[0] == OWN[identity]}
    assert mine and all(s < 400 for s in mine.values()), mine
    assert len(shows_a) >= MIN_SHOWING_A[identity], sorted(shows_a)


def test_walk_covers_every_rule(app):
    """The walk reaches every rule of the four blueprints, maps every URL argument, classifies
    every id-less write, and is not empty (SECURITY rows 11, 12)."""
    rules = tenancy_rules(app)
    assert {r.endpoint.partition(".")[0] for r in rules} == set(WALKED)
    assert len(rules) >= MIN_RULES
    with_ids = [r for r in rules if id_args(r)]
    assert len(with_ids) >= MIN_ID_RULES
    body_cases = {rule.endpoint for rule, _m, _n in body_id_cases(app)}
    assert {"coord.stop_move", "coord.hotspot_add", "api.stop_add", "api.plans_create"} <= (
        body_cases
    )
    assert {"api_field.field_checkin", "api_field.field_outcome"} <= body_cases
    assert {"field.stop_checkin", "field.stop_outcome"} <= body_cases
    unclassified = [
        (r.endpoint, m)
        for r in rules
        for m in methods_of(r)
        if m != "GET" and not id_args(r) and r.endpoint not in body_cases | OWN_OFFICE_WRITES
    ]
    assert unclassified == []
    stale = OWN_OFFICE_WRITES - {r.endpoint for r in rules}
    assert stale == set()


# -- accounts without an office --------------------------------------------------------------


def test_coordinator_without_office_gets_403(app, client):
    """A coordinator whose account has no office (an old row) sees no office's data: 403 on
    the dashboard, the plan list, another office's plan and the API (SECURITY row 11)."""
    office = make_office()
    plan, _owner = make_real_solved_plan(
        office, [make_team(office, name="Tim Lain")], [{"name": f"SMA {SENTINEL}"}], seconds=1
    )
    orphan = make_user(Role.COORDINATOR, username="yatim")
    token = create_token(orphan, "laptop")
    db.session.commit()
    assert orphan.office_id is None
    login(client, orphan, lang="en")
    for path in ("/coord/", "/coord/plans", f"/coord/plans/{plan.id}", "/coord/teams"):
        resp = client.get(path)
        assert resp.status_code == 403, path
        assert SENTINEL not in resp.get_data(as_text=True)
    assert "not attached to an office" in client.get("/coord/").get_data(as_text=True)
    resp = client.get("/api/v1/plans", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"


def test_admin_without_office_keeps_the_first_office(app, client):
    """Only an admin may have no office; the dashboard then shows the first office."""
    office = make_office(name="Dinas Dukcapil Pertama")
    admin = make_user(Role.ADMIN, username="admin")
    db.session.commit()
    login(client, admin, lang="en")
    resp = client.get("/coord/")
    assert resp.status_code == 200
    assert office.name in resp.get_data(as_text=True)


def test_create_user_refuses_coordinator_or_field_user_without_office(app):
    """create_user refuses a coordinator without an office and a team of another office; an
    admin may have none."""
    with pytest.raises(AccountError, match="office"):
        create_user("koor", Role.COORDINATOR, PASSWORD)
    with pytest.raises(AccountError, match="office"):
        create_user("koor", Role.COORDINATOR, PASSWORD, office_id=987654)
    office, other = make_office(), make_office()
    team = make_team(other)
    with pytest.raises(AccountError, match="another office"):
        create_user("petugas", Role.FIELD, PASSWORD, team=team, office_id=office.id)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0
    koor = create_user("koor", Role.COORDINATOR, PASSWORD, office_id=office.id)
    field_user = create_user("petugas", Role.FIELD, PASSWORD, team=team)
    admin = create_user("admin", Role.ADMIN, PASSWORD)
    assert (koor.office_id, field_user.office_id, admin.office_id) == (office.id, other.id, None)


def test_cli_create_user_needs_an_office_for_a_coordinator(app, runner):
    """create-user --role coordinator without --office fails before asking for a password."""
    result = runner.invoke(args=["create-user", "koor", "--role", "coordinator"], input="")
    assert result.exit_code != 0
    assert "--office" in result.output
    assert db.session.scalar(sa.select(User).filter_by(username="koor")) is None
