"""JSON API: auth, the one error shape, field validation, plan flow, conflicts, OpenAPI."""

from __future__ import annotations

import re
import time

import pytest

from outreach.extensions import db
from outreach.models import Hotspot, Plan, PlanStatus
from tests.checked_plans import assert_plan_passes_the_checker
from tests.factories import monday


def _error(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def _create_plan(api, **extra):
    body = {
        "name": "Rencana API",
        "start_date": monday().isoformat(),
        "end_date": "2026-12-08",
        "time_limit_s": 1,
        **extra,
    }
    resp = api.post("/plans", json=body)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    return resp.get_json()


def test_no_token_is_401_in_the_error_shape(api):
    """Without a token the API answers 401 with the error shape and a Bearer challenge
    (SECURITY row 12)."""
    resp = api.get("/hotspots", token=None)
    _error(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    _error(api.get("/hotspots", token="jb_wrong"), 401)


def test_field_user_is_forbidden(api):
    """A field team's token gets 403 on every coordinator endpoint (SECURITY row 12)."""
    _error(api.get("/hotspots", token=api.field_token), 403, "forbidden")
    _error(api.post("/plans", json={}, token=api.field_token), 403)


def test_post_with_bearer_token_needs_no_csrf_token(api):
    """CSRF is on, yet a bearer-token POST is accepted (exempt only with a bearer token)
    (SECURITY row 16)."""
    resp = api.post("/teams", json={"name": "Tim Baru"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    team = resp.get_json()
    assert [w["weekday"] for w in team["weekly"]] == [0, 1, 2, 3, 4]
    assert team["weekly"][4]["breaks"][0]["label"] == "Sholat Jumat"


def test_hotspot_list_filters_and_pages(api):
    """GET /hotspots lists the office's hotspots with filters and paging."""
    resp = api.get("/hotspots?limit=2&offset=1&service=ktp_record")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["total"] == 4 and len(body["items"]) == 2
    assert body["items"][0]["demand"]["ktp_record"]["remaining"] > 0
    assert api.get("/hotspots", token=api.outsider_token).get_json()["total"] == 0


def test_bad_query_parameters_are_field_errors(api):
    """Non-numeric or out-of-range query values give 400 naming each parameter."""
    err = _error(api.get("/hotspots?limit=abc&priority=9&kind=castle"), 400, "validation_error")
    assert {d["field"] for d in err["details"]} == {"limit", "priority", "kind"}


def test_create_hotspot_validates_every_field(api):
    """Bad coordinates, unknown services, a wrong time and extra fields are all reported
    (SECURITY row 13)."""
    body = {
        "name": "",
        "lat": 200,
        "demand": {"ktp_record": -1, "passport": 3},
        "openings": [{"weekday": 7, "start": "25:00", "end": "08:00"}],
        "status": "done",
    }
    err = _error(api.post("/hotspots", json=body), 400, "validation_error")
    fields = {d["field"] for d in err["details"]}
    assert {
        "name",
        "lat",
        "demand.ktp_record",
        "demand.passport",
        "openings[0].weekday",
        "openings[0].start",
        "status",
    } <= fields


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[1,2]", b'{"name": 1e999}', b"null", b'{"name": "x", "demand": "many"}'],
)
def test_malformed_json_is_a_400_never_a_500(api, payload):
    """Garbage bodies are rejected with the error shape."""
    resp = api.post("/hotspots", data=payload, content_type="application/json")
    _error(resp, 400)


def test_create_hotspot_with_and_without_location(api):
    """A hotspot with coordinates is active; without them it needs a location."""
    ok = api.post(
        "/hotspots",
        json={
            "name": "Lapas Kelas I Medan",
            "kind": "prison",
            "lat": 3.55,
            "lon": 98.7,
            "priority": 1,
            "demand": {"ktp_record": 30},
            "openings": [{"weekday": 0, "start": "09:00", "end": "12:00"}],
        },
    )
    assert ok.status_code == 201, ok.get_data(as_text=True)
    assert ok.get_json()["status"] == "active"
    assert ok.get_json()["openings"] == [{"weekday": 0, "start": "09:00", "end": "12:00"}]
    pin = api.post("/hotspots", json={"name": "Rumah warga", "demand": {"kia": 1}})
    assert pin.get_json()["status"] == "needs_location"
    half = api.post("/hotspots", json={"name": "X", "lat": 3.5, "demand": {"kia": 1}})
    assert _error(half, 400)["details"][0]["field"] == "lon"


def test_plan_flow_create_poll_get_edit_publish(api):
    """POST /plans → job done → GET plan (ISO times, unserved, KPIs) → move → publish."""
    created = _create_plan(api)
    job = api.get(created["job_url"].removeprefix("/api/v1")).get_json()
    assert job["status"] == "done" and job["progress"]["persons_served"] > 0
    plan = api.get(f"/plans/{created['plan_id']}").get_json()
    assert plan["status"] == "solved" and plan["violations"] == []
    stop = plan["routes"][0]["stops"][0]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$", stop["start"])
    assert {"hotspot_id", "arrival", "end", "persons", "cards"} <= set(stop)
    assert plan["kpis"]["persons_served"] > 0
    other_team = next(t.id for t in api.teams if t.id != plan["routes"][0]["team_id"])
    moved = api.post(
        f"/plans/{plan['id']}/stops/{stop['id']}/move",
        json={
            "team_id": other_team,
            "date": plan["routes"][0]["date"],
            "position": 0,
            "expected_version": plan["version"],
        },
    )
    assert moved.status_code == 200, moved.get_data(as_text=True)
    after = moved.get_json()
    assert after["version"] > plan["version"] and after["violations"] == []
    # The second coordinator still holds the old version: 409 with a reload hint.
    stale = api.post(
        f"/plans/{plan['id']}/stops/{stop['id']}/lock",
        json={"expected_version": plan["version"]},
    )
    assert "Muat ulang" in _error(stale, 409, "plan_conflict")["message"]
    pub = api.post(f"/plans/{plan['id']}/publish", json={"expected_version": after["version"]})
    assert pub.status_code == 201, pub.get_data(as_text=True)
    assert pub.get_json()["version"] == 1
    row = db.session.get(Plan, plan["id"])
    assert row.status == PlanStatus.PUBLISHED
    assert_plan_passes_the_checker(row)


def test_plan_edits_drop_add_reoptimise(api):
    """Drop a stop, add it back elsewhere, re-optimise: every response is checked."""
    created = _create_plan(api)
    plan = api.get(f"/plans/{created['plan_id']}").get_json()
    stop = plan["routes"][0]["stops"][0]
    dropped = api.post(
        f"/plans/{plan['id']}/stops/{stop['id']}/drop",
        json={"expected_version": plan["version"]},
    ).get_json()
    assert stop["hotspot_id"] in {u["hotspot_id"] for u in dropped["unserved"]}
    added = api.post(
        f"/plans/{plan['id']}/stops",
        json={
            "hotspot_id": stop["hotspot_id"],
            "team_id": plan["routes"][0]["team_id"],
            "date": plan["routes"][0]["date"],
            "expected_version": dropped["version"],
        },
    )
    assert added.status_code == 201, added.get_data(as_text=True)
    again = added.get_json()
    assert again["violations"] == []
    re_opt = api.post(
        f"/plans/{plan['id']}/reoptimise", json={"expected_version": again["version"]}
    )
    assert re_opt.status_code == 202
    assert api.get(f"/jobs/{re_opt.get_json()['job_id']}").get_json()["status"] == "done"
    final = api.get(f"/plans/{plan['id']}").get_json()
    assert final["status"] == "solved" and final["violations"] == []


def test_plan_create_errors_name_fields(api):
    """Reversed dates and unknown teams give 400 with each field named."""
    err = _error(
        api.post(
            "/plans",
            json={"name": "X", "start_date": "2026-12-08", "end_date": "2026-12-07"},
        ),
        400,
    )
    assert err["details"][0]["field"] == "end_date"
    err = _error(
        api.post(
            "/plans",
            json={
                "name": "X",
                "start_date": "2026-12-07",
                "end_date": "2026-12-31",
                "team_ids": [99999],
                "time_limit_s": 601,
            },
        ),
        400,
    )
    assert {d["field"] for d in err["details"]} >= {"team_ids", "time_limit_s"}
    _error(api.post("/plans", json={"name": "X", "start_date": "2026-02-30", "end_date": "x"}), 400)


def test_other_office_cannot_read_plans_or_jobs(api):
    """Plans and jobs of another office answer 404 (SECURITY row 11)."""
    created = _create_plan(api)
    _error(api.get(f"/plans/{created['plan_id']}", token=api.outsider_token), 404)
    _error(api.get(f"/jobs/{created['job_id']}", token=api.outsider_token), 404)
    _error(api.get("/jobs/not-a-job"), 404)


def test_redis_down_gives_503_fast_and_plan_stays_draft(app, api):
    """With Redis unreachable, POST /plans answers 503 'coba lagi' within 3 s (SECURITY row 45)."""
    app.config["JOB_BACKEND"] = None
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    t0 = time.monotonic()
    resp = api.post(
        "/plans",
        json={"name": "X", "start_date": "2026-12-07", "end_date": "2026-12-07"},
    )
    assert time.monotonic() - t0 < 3
    err = _error(resp, 503, "queue_unavailable")
    assert "coba lagi" in err["message"]
    plan_id = int(next(d["message"] for d in err["details"] if d["field"] == "plan_id"))
    assert db.session.get(Plan, plan_id).status == PlanStatus.DRAFT


def test_cancel_finished_job_is_harmless(api):
    """Cancelling a finished job keeps it done (idempotent)."""
    created = _create_plan(api)
    resp = api.post(f"/jobs/{created['job_id']}/cancel")
    assert resp.status_code == 202 and resp.get_json()["status"] == "done"


def test_openapi_lists_every_api_route(app, api):
    """The OpenAPI document has every /api/v1 rule and method of the URL map."""
    doc = api.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops}
    expected = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                expected.add((path, method))
    assert documented == expected
    body = doc["paths"]["/api/v1/plans"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "start_date" in doc["components"]["schemas"][ref]["required"]
    assert "Error" in doc["components"]["schemas"]


def test_docs_page_lists_endpoints(api):
    """The docs page is HTML and names the plan endpoint."""
    resp = api.get("/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert "/api/v1/plans" in resp.get_data(as_text=True)


def test_hotspot_rows_are_unchanged_by_failed_create(api):
    """A rejected create writes nothing."""
    before = db.session.query(Hotspot).count()
    api.post("/hotspots", json={"name": "X", "demand": {}})
    assert db.session.query(Hotspot).count() == before


def test_too_many_hotspots_are_refused_before_any_solve(app, api):
    """A plan over the hotspot cap is a 400 naming hotspot_ids; no plan or job is stored
    (SECURITY row 24)."""
    app.config["PLAN_MAX_HOTSPOTS"] = 3
    err = _error(
        api.post(
            "/plans", json={"name": "X", "start_date": "2026-12-07", "end_date": "2026-12-07"}
        ),
        400,
    )
    assert err["details"][0]["field"] == "hotspot_ids"
    assert db.session.query(Plan).count() == 0


def test_injection_in_filters_returns_normal_results(api):
    """SQL in a filter value is just a value: 200 with no rows, tables intact (SECURITY row 27)."""
    resp = api.get("/hotspots?kecamatan_code=' OR 1=1--")
    assert resp.status_code == 200 and resp.get_json()["total"] == 0
    assert api.get("/hotspots").get_json()["total"] == 4


def test_oversized_upload_is_413_in_the_error_shape(app, api):
    """An upload above MAX_CONTENT_LENGTH is refused from its length, before parsing
    (SECURITY row 18)."""
    big = b"a" * (app.config["MAX_CONTENT_LENGTH"] + 1024)
    resp = api.post(
        "/hotspots/import",
        data=big,
        content_type="multipart/form-data; boundary=xyz",
    )
    _error(resp, 413)
