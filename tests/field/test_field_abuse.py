"""Field writes under abuse: extra fields, old forms on slow tablets, absurd counts.

Mass assignment (an outcome that tries to set its team, status or author), a form opened two
hours before it is sent (the CSRF token is bound to the session, not to the clock), and any
integer in any count field: a clear 400 or a stored row, never a 500, never a wrong row.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

from outreach import create_app
from outreach.extensions import db
from outreach.models import MAX_COUNT, HotspotDemand, Role, UserSession, VisitOutcome
from tests.factories import csrf_login, form_login, make_stop, make_user, today_wib
from tests.field.conftest import bearer, outcome_body

OUTCOMES = "/api/v1/field/outcomes"
COUNT_FIELDS = ("present", "recorded.ktp_record", "turned_away", "cards_carried", "cards_used")


def form_body(**kw) -> dict:
    data = {
        "client_uuid": str(uuid.uuid4()),
        "result": "served",
        "present": "35",
        "recorded.ktp_record": "30",
        "recorded.kia": "5",
        "turned_away": "0",
        "cards_carried": "25",
        "cards_used": "0",
        "notes": "",
    }
    data.update(kw)
    return data


def outcomes() -> list[VisitOutcome]:
    """Every stored outcome, re-read; the read transaction ends at once (SQLite lock)."""
    db.session.expire_all()
    rows = db.session.scalars(sa.select(VisitOutcome).order_by(VisitOutcome.id)).all()
    for row in rows:
        db.session.expunge(row)
    db.session.rollback()
    return rows


def demands() -> tuple:
    db.session.expire_all()
    rows = tuple(
        db.session.execute(
            sa.select(HotspotDemand.id, HotspotDemand.remaining).order_by(HotspotDemand.id)
        ).all()
    )
    db.session.rollback()
    return rows


# ------------------------------------------------------------------------ mass assignment

EXTRA_KEYS = ("team_id", "status", "approved_by", "visit_id", "recorded_by_id", "hotspot_id")


def test_outcome_api_refuses_every_protected_key_and_changes_nothing(client, crews):
    """Extra keys (team, status, approver, another stop's id, author, site) are each named in
    a 400 and nothing is stored (SECURITY row 13)."""
    a, b = crews.a, crews.b
    stop = a.stops[0]
    coordinator = make_user(Role.COORDINATOR, office_id=a.office.id)
    db.session.commit()
    extras = {
        "team_id": b.team.id,
        "status": "approved",
        "approved_by": coordinator.id,
        "visit_id": a.stops[1].id,
        "recorded_by_id": b.user.id,
        "hotspot_id": b.stops[0].hotspot_id,
    }
    before = demands()
    resp = client.post(OUTCOMES, json=outcome_body(stop, **extras), headers=bearer(a.token))
    assert resp.status_code == 400, resp.get_json()
    fields = {d["field"] for d in resp.get_json()["error"]["details"]}
    assert fields == set(EXTRA_KEYS)
    # A protected key hidden inside the per-service counts is refused as well.
    nested = outcome_body(stop, recorded={"ktp_record": 30, "team_id": b.team.id})
    resp = client.post(OUTCOMES, json=nested, headers=bearer(a.token))
    assert resp.status_code == 400
    assert {d["field"] for d in resp.get_json()["error"]["details"]} == {"recorded.team_id"}
    assert outcomes() == [] and demands() == before
    # The same body without the extras is stored, for team a's own stop.
    resp = client.post(OUTCOMES, json=outcome_body(stop), headers=bearer(a.token))
    assert resp.status_code == 201
    (row,) = outcomes()
    assert (row.stop_id, row.team_id, row.recorded_by_id) == (stop.id, a.team.id, a.user.id)


def test_outcome_form_ignores_extra_fields_and_keeps_its_own_team_and_user(client, crews):
    """The form post takes only its own fields: extras naming another team, user, stop or
    status are ignored and the stored row belongs to the URL's stop, the member's team and
    the member (SECURITY row 13)."""
    a, b = crews.a, crews.b
    stop, other_stop = a.stops[0], a.stops[1]
    hotspot_id = stop.hotspot_id
    b_demand = demands()
    form_login(client, a.user)
    data = form_body(
        team_id=str(b.team.id),
        status="approved",
        approved_by=str(b.user.id),
        stop_id=str(other_stop.id),
        visit_id=str(b.stops[0].id),
        recorded_by_id=str(b.user.id),
        hotspot_id=str(b.stops[0].hotspot_id),
        day="2020-01-01",
        demand_applied='{"ktp_record": 9999}',
    )
    resp = client.post(f"/field/stop/{stop.id}/outcome", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    (row,) = outcomes()
    assert row.stop_id == stop.id and row.hotspot_id == hotspot_id
    assert (row.team_id, row.recorded_by_id) == (a.team.id, a.user.id)
    assert row.day == today_wib()
    assert row.demand_applied == {"ktp_record": 30, "kia": 5}
    # Only this stop's site lost demand: team b's sites and the other stop's are unchanged.
    changed = {r[0] for r in set(b_demand) ^ set(demands())}
    own = {
        d.id for d in db.session.scalars(sa.select(HotspotDemand).filter_by(hotspot_id=hotspot_id))
    }
    db.session.rollback()
    assert changed and changed <= own


# ----------------------------------------------------------------- slow tablets and CSRF


def _outcome_form_fields(html: str) -> tuple[str, str]:
    """(csrf_token, client_uuid) of the outcome form of a stop page."""
    form = html[html.index('data-field-form="outcome"') :]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    client_uuid = re.search(r'name="client_uuid" value="([^"]+)"', form).group(1)
    return token, client_uuid


def test_a_two_hour_old_form_still_submits_exactly_once(app, app_config, csrf_app, crews):
    """A stop page opened two hours ago (token signed then, session idle since) still saves
    the outcome: the token is bound to the session, not to the clock. A first attempt with
    an error, the fixed form with the same client_uuid and a retry store one outcome; the
    flask_wtf default limit of 3600 s would have refused the old form (SECURITY row 17)."""
    assert csrf_app.config["WTF_CSRF_TIME_LIMIT"] is None
    stop_id, hotspot_id = crews.a.stops[0].id, crews.a.stops[0].hotspot_id
    user_id, username = crews.a.user.id, crews.a.user.username
    db.session.rollback()  # SQLite: free the write lock for the second app
    client = csrf_app.test_client()
    csrf_login(client, username)

    page = client.get(f"/field/stop/{stop_id}")
    assert page.status_code == 200
    page_token, client_uuid = _outcome_form_fields(page.get_data(as_text=True))
    # The same form rendered two hours ago: flask_wtf signs the session's raw token with the
    # time of rendering (the token in the page is exactly that), so sign it as then.
    signer = URLSafeTimedSerializer(csrf_app.secret_key, salt="wtf-csrf-token")
    with client.session_transaction() as sess:
        raw = sess["csrf_token"]
    assert signer.loads(page_token) == raw
    two_hours_ago = int(time.time()) - 2 * 3600
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(TimestampSigner, "get_timestamp", lambda self: two_hours_ago)
        token = signer.dumps(raw)
    _raw, signed_at = signer.loads(token, return_timestamp=True)
    assert time.time() - signed_at.timestamp() >= 2 * 3600 - 5
    # Control: with flask_wtf's default one-hour limit the same form is refused.
    strict = create_app({**app_config, "WTF_CSRF_ENABLED": True, "WTF_CSRF_TIME_LIMIT": 3600})
    try:
        strict_client = strict.test_client()
        strict_client.set_cookie("session", client.get_cookie("session").value, domain="localhost")
        fresh = strict_client.get("/field/csrf")  # the same signed-in session works there
        assert fresh.status_code == 200 and fresh.get_json()["csrf_token"]
        data = form_body(client_uuid=client_uuid, csrf_token=token)
        refused = strict_client.post(f"/field/stop/{stop_id}/outcome", data=data)
        assert refused.status_code == 400
    finally:
        with strict.app_context():
            db.engine.dispose()
    assert outcomes() == []
    # The tablet sat idle for the same two hours (a device session: its limits are days).
    for row in db.session.scalars(sa.select(UserSession).filter_by(user_id=user_id)):
        row.last_seen_at -= timedelta(hours=2)
        row.created_at -= timedelta(hours=2)
    db.session.commit()

    url = f"/field/stop/{stop_id}/outcome?lang=en"
    wrong = form_body(client_uuid=client_uuid, csrf_token=token, cards_used="30")
    resp = client.post(url, data=wrong)
    assert resp.status_code == 400 and "blank cards used" in resp.get_data(as_text=True)
    assert outcomes() == []
    fixed = form_body(client_uuid=client_uuid, csrf_token=token)
    resp = client.post(url, data=fixed)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    resp = client.post(url, data=fixed)  # the answer was lost on the way: send again
    assert resp.status_code == 302
    assert "already saved" in client.get(resp.headers["Location"]).get_data(as_text=True)
    (row,) = outcomes()
    assert (row.client_uuid, row.stop_id, row.team_id) == (client_uuid, stop_id, crews.a.team.id)
    db.session.expire_all()
    remaining = db.session.scalar(
        sa.select(HotspotDemand.remaining).filter_by(hotspot_id=hotspot_id, service="ktp_record")
    )
    db.session.rollback()
    assert remaining == 40 - 30


# --------------------------------------------------------------------- counts of any size

EDGES = (0, 1, MAX_COUNT - 1, MAX_COUNT, MAX_COUNT + 1, 2**31 - 1, 2**31, 2**63, 10**30, -1, -5)
counts = st.one_of(st.integers(), st.integers(min_value=-3, max_value=60), st.sampled_from(EDGES))


def acceptable(values: dict[str, int]) -> bool:
    """The documented rules: every count 0..MAX_COUNT; served per service and turned away
    each at most those present, together too; cards used at most cards carried."""
    if not all(0 <= v <= MAX_COUNT for v in values.values()):
        return False
    present, served = values["present"], values["recorded.ktp_record"]
    turned_away = values["turned_away"]
    if served > present or turned_away > present:
        return False
    if served and served + turned_away > present:
        return False
    return values["cards_used"] <= values["cards_carried"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.fixed_dictionaries({name: counts for name in COUNT_FIELDS}))
def test_any_integer_in_any_count_is_stored_iff_within_the_rules(client, crews, values):
    """Any integer (negative, beyond int64, 10**30) in each count of the outcome API: 201 iff
    0 <= v <= MAX_COUNT and the rules hold, else a 400 naming a count; never a 500, and a
    refused outcome stores nothing (SECURITY row 23)."""
    a = crews.a
    stop = make_stop(a.stops[0].route, a.stops[0].hotspot, persons={"ktp_record": 1})
    db.session.commit()
    stop_id = stop.id
    body = outcome_body(
        stop,
        present=values["present"],
        recorded={"ktp_record": values["recorded.ktp_record"]},
        turned_away=values["turned_away"],
        turned_away_reasons=["no_documents"],
        cards_carried=values["cards_carried"],
        cards_used=values["cards_used"],
    )
    resp = client.post(OUTCOMES, json=body, headers=bearer(a.token))
    stored = db.session.scalar(sa.select(VisitOutcome).filter_by(stop_id=stop_id))
    if acceptable(values):
        assert resp.status_code == 201, (values, resp.get_json())
        assert stored is not None
        assert (stored.present, stored.turned_away) == (values["present"], values["turned_away"])
        assert (stored.cards_carried, stored.cards_used) == (
            values["cards_carried"],
            values["cards_used"],
        )
        assert stored.recorded.get("ktp_record", 0) == values["recorded.ktp_record"]
    else:
        assert resp.status_code == 400, (values, resp.status_code, resp.get_data(as_text=True))
        fields = {d["field"] for d in resp.get_json()["error"]["details"]}
        assert fields and fields <= set(COUNT_FIELDS) | {"recorded"}, fields
        assert stored is None
    db.session.rollback()
