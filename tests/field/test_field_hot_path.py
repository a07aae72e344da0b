"""The tablet writes run statements built once per process (token, stop, replay, demand): each
request must still bind its own values, so nothing of one caller or stop reaches the next."""

from __future__ import annotations

import uuid

import pytest

from outreach.auth.tokens import revoke_token
from outreach.extensions import db
from outreach.field import service
from outreach.models import ApiToken, AuditEvent, HotspotDemand, VisitOutcome, hash_token
from tests.field.conftest import bearer, outcome_body


def _remaining(hotspot_id: int) -> dict[str, int]:
    db.session.expire_all()
    rows = db.session.execute(
        db.select(HotspotDemand.service, HotspotDemand.remaining).filter_by(hotspot_id=hotspot_id)
    )
    return {svc: n for svc, n in rows}


def test_alternating_tokens_each_act_as_their_own_team(client, crews):
    """Requests of three teams interleaved: every route and write belongs to the caller."""
    for _ in range(2):
        for crew, other in ((crews.a, crews.b), (crews.x, crews.a), (crews.b, crews.x)):
            route = client.get("/api/v1/field/route", headers=bearer(crew.token)).get_json()
            assert route["team"]["id"] == crew.team.id
            body = {"client_uuid": str(uuid.uuid4()), "stop_id": other.stops[0].id}
            resp = client.post("/api/v1/field/checkins", json=body, headers=bearer(crew.token))
            assert resp.status_code == 404
    resp = client.post(
        "/api/v1/field/outcomes", json=outcome_body(crews.b.stops[1]), headers=bearer(crews.b.token)
    )
    assert resp.status_code == 201
    row = db.session.scalar(db.select(VisitOutcome))
    assert row.team_id == crews.b.team.id and row.recorded_by_id == crews.b.user.id


def test_a_token_revoked_after_use_is_refused_at_once(client, crews):
    stop = crews.a.stops[0]
    body = {"client_uuid": str(uuid.uuid4()), "stop_id": stop.id}
    assert (
        client.post("/api/v1/field/checkins", json=body, headers=bearer(crews.a.token)).status_code
        == 201
    )
    token = db.session.scalar(db.select(ApiToken).filter_by(token_hash=hash_token(crews.a.token)))
    revoke_token(token)
    db.session.commit()
    again = client.post("/api/v1/field/checkins", json=body, headers=bearer(crews.a.token))
    assert again.status_code == 401
    assert client.get("/api/v1/field/route", headers=bearer(crews.b.token)).status_code == 200
    crews.b.user.active = False
    db.session.commit()
    assert client.get("/api/v1/field/route", headers=bearer(crews.b.token)).status_code == 401


def test_each_outcome_lowers_its_own_sites_demand_once(client, crews):
    """Outcomes on different sites in turn, each re-sent: every site loses its own count once."""
    bodies = [outcome_body(s) for s in crews.a.stops]
    for body in bodies + bodies:
        resp = client.post("/api/v1/field/outcomes", json=body, headers=bearer(crews.a.token))
        assert resp.status_code in (200, 201)
    for stop in crews.a.stops:
        assert _remaining(stop.hotspot_id) == {"ktp_record": 10, "kia": 5}
    for stop in crews.b.stops:
        assert _remaining(stop.hotspot_id) == {"ktp_record": 40, "kia": 10}


@pytest.mark.parametrize("loaded_first", [False, True])
def test_stop_lookup_with_and_without_the_stop_in_the_session(app, crews, loaded_first):
    """stop_for_team answers the same whether the stop is already in the session or not,
    and refuses another team's stop either way."""
    team = crews.a.team
    own, theirs = crews.a.stops[0].id, crews.b.stops[0].id
    with app.test_request_context():
        for stop in (crews.a.stops[0], crews.b.stops[0]):
            if loaded_first:
                db.session.refresh(stop)
            else:
                db.session.expunge(stop)
        key = db.session.identity_key(service.PlannedStop, own)
        assert (key in db.session.identity_map) is loaded_first
        stop = service.stop_for_team(team, own)
        assert stop.id == own and stop.route.team_id == team.id
        assert stop.checkins == [] and stop.outcomes == []
        with pytest.raises(service.StopNotFound):
            service.stop_for_team(team, theirs)
        with pytest.raises(service.StopNotFound):
            service.stop_for_team(team, 2**31 - 1)


def _events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(AuditEvent).filter_by(action=action)))


def test_each_tablet_write_leaves_one_audit_event_and_a_refused_one_none(client, crews):
    """The check-in and outcome events (written as one Core INSERT each) name the caller and
    the stop, once per first send; a retry and a second outcome for the stop add none."""
    stop = crews.a.stops[0]
    checkin = {"client_uuid": str(uuid.uuid4()), "stop_id": stop.id}
    outcome = outcome_body(stop)
    for _ in range(2):
        client.post("/api/v1/field/checkins", json=checkin, headers=bearer(crews.a.token))
        client.post("/api/v1/field/outcomes", json=outcome, headers=bearer(crews.a.token))
    other = outcome_body(stop, recorded={"ktp_record": 1})
    resp = client.post("/api/v1/field/outcomes", json=other, headers=bearer(crews.a.token))
    assert resp.status_code == 409
    (ev_in,) = _events("field.checkin")
    (ev_out,) = _events("field.outcome")
    for ev in (ev_in, ev_out):
        assert (ev.user_id, ev.object_type, ev.object_id) == (
            crews.a.user.id,
            "plannedstop",
            str(stop.id),
        )
        assert ev.details["team"] == crews.a.team.id and ev.at is not None
    assert ev_out.details == {"team": crews.a.team.id, "result": "served", "persons": 35}
    row = db.session.scalar(db.select(VisitOutcome).filter_by(stop_id=stop.id))
    assert row.demand_applied == {"ktp_record": 30, "kia": 5}
    assert _remaining(stop.hotspot_id) == {"ktp_record": 10, "kia": 5}
