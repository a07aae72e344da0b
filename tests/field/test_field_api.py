"""The field JSON API: a day's route, idempotent writes under concurrent retries, isolation."""

from __future__ import annotations

import threading
import uuid

import pytest

from outreach.extensions import db
from outreach.models import HotspotDemand, StopCheckin, VisitOutcome
from tests.field.conftest import bearer, outcome_body, today_wib


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(db.select(db.func.count(model.id)))


def remaining(hotspot_id, svc="ktp_record") -> int:
    db.session.expire_all()
    return db.session.scalar(
        db.select(HotspotDemand.remaining).filter_by(hotspot_id=hotspot_id, service=svc)
    )


def test_route_of_today_and_of_another_day(client, crews):
    resp = client.get("/api/v1/field/route", headers=bearer(crews.a.token))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["date"] == today_wib().isoformat()
    assert body["team"]["id"] == crews.a.team.id
    assert [s["stop_id"] for s in body["stops"]] == [s.id for s in crews.a.stops]
    assert body["cards_to_bring"] == 75 and body["writable"] is True
    first = body["stops"][0]
    assert first["start"].endswith("+07:00") and first["state"] == "pending"
    assert first["persons"] == {"ktp_record": 30, "kia": 10}
    tomorrow = crews.a.tomorrow[0].route.day.isoformat()
    resp = client.get(f"/api/v1/field/route?date={tomorrow}", headers=bearer(crews.a.token))
    assert [s["stop_id"] for s in resp.get_json()["stops"]] == [s.id for s in crews.a.tomorrow]
    assert resp.get_json()["writable"] is False
    bad = client.get("/api/v1/field/route?date=2026-13-01", headers=bearer(crews.a.token))
    assert bad.status_code == 400 and bad.get_json()["error"]["details"][0]["field"] == "date"


def test_outcome_created_then_replayed(client, crews):
    """The same outcome sent twice: 201 then 200 with the same body, one row (SECURITY row 38)."""
    stop = crews.a.stops[0]
    body = outcome_body(stop)
    first = client.post("/api/v1/field/outcomes", json=body, headers=bearer(crews.a.token))
    again = client.post("/api/v1/field/outcomes", json=body, headers=bearer(crews.a.token))
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json() == again.get_json()
    assert first.get_json()["demand_applied"] == {"ktp_record": 30, "kia": 5}
    assert count(VisitOutcome) == 1
    assert remaining(stop.hotspot_id) == 10 and remaining(stop.hotspot_id, "kia") == 5


def test_validation_errors_name_the_field(client, crews):
    """More cards used than carried, or a negative count: 400 naming the field (SECURITY row 25)."""
    body = outcome_body(crews.a.stops[0], cards_used=30)
    resp = client.post("/api/v1/field/outcomes", json=body, headers=bearer(crews.a.token))
    assert resp.status_code == 400
    fields = {d["field"] for d in resp.get_json()["error"]["details"]}
    assert fields == {"cards_used"}
    neg = client.post(
        "/api/v1/field/outcomes",
        json=outcome_body(crews.a.stops[0], present=-1),
        headers=bearer(crews.a.token),
    )
    assert neg.status_code == 400
    assert neg.get_json()["error"]["details"][0]["field"] == "present"
    assert count(VisitOutcome) == 0


def test_concurrent_retries_of_one_outcome_count_once(app, crews):
    """Eight threads send the same outcome at once (a tablet retrying over a flaky link):
    one 201, the rest 200 with the same row, and the demand drops once (SECURITY row 38)."""
    stop = crews.a.stops[0]
    body = outcome_body(stop)
    hotspot_id = stop.hotspot_id
    db.session.rollback()  # SQLite: no read transaction of ours may hold the write lock
    statuses: list[int] = []
    bodies: list[dict] = []
    barrier = threading.Barrier(8)

    def send():
        c = app.test_client()
        barrier.wait()
        resp = c.post("/api/v1/field/outcomes", json=body, headers=bearer(crews.a.token))
        statuses.append(resp.status_code)
        bodies.append(resp.get_json())

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [200] * 7 + [201], bodies
    assert all(b["client_uuid"] == body["client_uuid"] for b in bodies)
    assert count(VisitOutcome) == 1
    assert remaining(hotspot_id) == 10


def test_concurrent_different_outcomes_for_one_stop_keep_one(app, crews):
    """Two devices of the team report the same stop with different UUIDs at once: one is
    stored, the other gets 409, and the demand drops once (SECURITY row 38)."""
    stop = crews.a.stops[0]
    bodies = [outcome_body(stop) for _ in range(4)]
    hotspot_id = stop.hotspot_id
    db.session.rollback()
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def send():
        c = app.test_client()
        body = bodies.pop()
        barrier.wait()
        resp = c.post("/api/v1/field/outcomes", json=body, headers=bearer(crews.a.token))
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [201, 409, 409, 409]
    assert count(VisitOutcome) == 1
    assert remaining(hotspot_id) == 10


def test_checkin_created_then_replayed(client, crews):
    """The same check-in sent twice: 201 then 200, one row (SECURITY row 38)."""
    body = {
        "client_uuid": str(uuid.uuid4()),
        "stop_id": crews.a.stops[0].id,
        "lat": 3.59,
        "lon": 98.67,
        "accuracy_m": 12.5,
    }
    first = client.post("/api/v1/field/checkins", json=body, headers=bearer(crews.a.token))
    again = client.post("/api/v1/field/checkins", json=body, headers=bearer(crews.a.token))
    assert (first.status_code, again.status_code) == (201, 200)
    assert count(StopCheckin) == 1
    route = client.get("/api/v1/field/route", headers=bearer(crews.a.token)).get_json()
    assert route["stops"][0]["state"] == "checked_in"


@pytest.mark.parametrize("who", ["b", "x"])
def test_every_field_call_with_another_teams_ids_is_refused(client, crews, who):
    """Team a's token against team b's (same office) and team x's (other office) stops:
    404 on every write, their route never shows, and nothing changes (SECURITY row 11)."""
    other = getattr(crews, who)
    for stop in other.stops + other.yesterday:
        for path, body in (
            ("/api/v1/field/outcomes", outcome_body(stop)),
            ("/api/v1/field/checkins", {"client_uuid": str(uuid.uuid4()), "stop_id": stop.id}),
        ):
            resp = client.post(path, json=body, headers=bearer(crews.a.token))
            assert resp.status_code == 404, (path, resp.get_json())
    own = client.get("/api/v1/field/route", headers=bearer(crews.a.token)).get_json()
    theirs = {s.id for s in other.stops}
    assert not theirs & {s["stop_id"] for s in own["stops"]}
    assert count(VisitOutcome) == 0 and count(StopCheckin) == 0
    assert remaining(other.stops[0].hotspot_id) == 40


def test_coordinator_tokens_and_anonymous_calls_are_refused(client, crews):
    """Coordinator tokens get 403 and anonymous calls 401 on the field API (SECURITY row 12)."""
    from outreach.auth.tokens import create_token
    from outreach.models import Role
    from tests.factories import make_user

    coordinator = make_user(Role.COORDINATOR, office_id=crews.a.office.id)
    token = create_token(coordinator, "desk")
    db.session.commit()
    assert client.get("/api/v1/field/route", headers=bearer(token)).status_code == 403
    assert client.get("/api/v1/field/route").status_code == 401
    resp = client.post(
        "/api/v1/field/outcomes", json=outcome_body(crews.a.stops[0]), headers=bearer(token)
    )
    assert resp.status_code == 403
    assert count(VisitOutcome) == 0


def test_session_calls_need_the_csrf_token(app, crews):
    """The tablet's page script rides on the login cookie: CSRF-checked like any form
    (SECURITY row 16)."""
    import re

    from tests.factories import csrf_login

    app.config["WTF_CSRF_ENABLED"] = True
    c = app.test_client()
    assert c.get("/login").status_code == 200
    csrf_login(c, crews.a.user.username)
    # Logging in starts a fresh session: the page after login carries the new token.
    page = c.get("/field/")
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.data).group(1).decode()
    body = outcome_body(crews.a.stops[0])
    assert c.post("/api/v1/field/outcomes", json=body).status_code == 400  # no CSRF header
    assert count(VisitOutcome) == 0
    ok = c.post("/api/v1/field/outcomes", json=body, headers={"X-CSRFToken": token})
    assert ok.status_code == 201, ok.get_json()


def test_openapi_lists_the_field_api(client, crews):
    from outreach.auth.tokens import create_token
    from outreach.models import Role
    from tests.factories import make_user

    token = create_token(make_user(Role.COORDINATOR, office_id=crews.a.office.id), "desk")
    db.session.commit()
    doc = client.get("/api/v1/openapi.json", headers=bearer(token)).get_json()
    assert "get" in doc["paths"]["/api/v1/field/route"]
    for path, schema in (
        ("/api/v1/field/outcomes", "OutcomeIn"),
        ("/api/v1/field/checkins", "CheckinIn"),
    ):
        op = doc["paths"][path]["post"]
        assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(schema)
        assert {"200", "201", "404", "409"} <= set(op["responses"])
    props = doc["components"]["schemas"]["OutcomeIn"]["properties"]
    assert {"client_uuid", "recorded", "cards_used", "problems"} <= set(props)


def test_route_is_read_in_a_fixed_number_of_queries(app, client, crews):
    """The tablets' most frequent call: the route, its sites, outcomes and check-ins come in a
    few queries however many stops it has and however many are done (no query per stop)."""
    import sqlalchemy as sa

    from tests.factories import make_hotspot, make_stop

    headers = bearer(crews.a.token)
    client.get("/api/v1/field/route", headers=headers)  # the token's once-a-minute touch
    statements: list[str] = []

    def listen(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        first = client.get("/api/v1/field/route", headers=headers).get_json()
        few = len(statements)
        route = crews.a.stops[0].route
        for _ in range(5):
            make_stop(route, make_hotspot(crews.a.office))
        db.session.commit()
        for stop in crews.a.stops[:2]:
            assert (
                client.post(
                    "/api/v1/field/outcomes", json=outcome_body(stop), headers=headers
                ).status_code
                == 201
            )
        client.post(
            "/api/v1/field/checkins",
            json={"client_uuid": str(uuid.uuid4()), "stop_id": crews.a.stops[2].id},
            headers=headers,
        )
        statements.clear()
        second = client.get("/api/v1/field/route", headers=headers).get_json()
        many = len(statements)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    assert len(first["stops"]) == 3 and len(second["stops"]) == 8
    assert [s["state"] for s in second["stops"][:3]] == ["done", "done", "checked_in"]
    assert few == many <= 3  # the token (with user, team, office), the routes, the stops
