"""Field outcomes: validation, the remaining-demand arithmetic, idempotency and the day view."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.errors import Conflict, NotFound, ValidationFailed
from outreach.extensions import db
from outreach.field import service
from outreach.models import (
    HotspotDemand,
    HotspotStatus,
    OutcomeResult,
    StopStatus,
    VisitOutcome,
)
from tests.factories import make_hotspot, make_route, make_stop


def outcome(stop, **kw):
    data = {
        "client_uuid": str(uuid.uuid4()),
        "stop_id": stop.id,
        "result": "served",
        "present": 40,
        "recorded": {"ktp_record": 30},
        "cards_carried": 25,
        "cards_used": 0,
    }
    data.update(kw)
    return data


def remaining(hotspot_id, svc="ktp_record"):
    db.session.expire_all()
    return db.session.scalar(
        db.select(HotspotDemand.remaining).filter_by(hotspot_id=hotspot_id, service=svc)
    )


def details(exc) -> dict[str, str]:
    return {d["field"]: d["message"] for d in exc.value.details}


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"present": -1}, "present", "negatif"),
        ({"recorded": {"ktp_record": -3}}, "recorded.ktp_record", "negatif"),
        ({"cards_used": 26}, "cards_used", "26 blangko terpakai padahal hanya 25 yang dibawa"),
        ({"recorded": {"ktp_record": 41}}, "recorded.ktp_record", "41 dilayani padahal hanya 40"),
        ({"turned_away": 50, "turned_away_reasons": ["no_documents"]}, "turned_away", "50 ditolak"),
        ({"turned_away": 11, "turned_away_reasons": ["no_documents"]}, "turned_away", "melebihi"),
        ({"turned_away": 2}, "turned_away_reasons", "alasan"),
        ({"result": "not_served", "problems": ["kit_broken"]}, "recorded", "tidak mencatat warga"),
        ({"result": "not_served", "recorded": {}}, "problems", "menghentikan layanan"),
        ({"recorded": {"passport": 1}}, "recorded.passport", "Layanan tidak dikenal"),
        ({"problems": ["rain"]}, "problems", "Nilai tidak dikenal"),
        ({"client_uuid": "not-a-uuid"}, "client_uuid", "UUID"),
        ({"checked_out_at": "2026-12-07T09:00:00"}, "checked_out_at", "zona waktu"),
        ({"present": "lots"}, "present", "bilangan bulat"),
    ],
)
def test_bad_outcomes_are_refused_naming_the_field(crews, change, field, words):
    """Each rule gives a clear message (Indonesian by default) on the field it is about, and
    nothing is written (SECURITY rows 23 and 25)."""
    stop = crews.a.stops[0]
    with pytest.raises(ValidationFailed) as exc:
        service.record_outcome(crews.a.user, outcome(stop, **change))
    assert field in details(exc), details(exc)
    assert words.lower() in details(exc)[field].lower()
    assert db.session.scalar(db.select(db.func.count(VisitOutcome.id))) == 0
    assert remaining(stop.hotspot_id) == 40


def test_checkout_before_checkin_is_refused(crews):
    """A check-out before the check-in is refused (SECURITY row 25)."""
    now = datetime.now(UTC)
    data = outcome(
        crews.a.stops[0],
        checked_in_at=(now - timedelta(minutes=5)).isoformat(),
        checked_out_at=(now - timedelta(minutes=50)).isoformat(),
    )
    with pytest.raises(ValidationFailed) as exc:
        service.record_outcome(crews.a.user, data)
    assert "checked_out_at" in details(exc)


def test_a_time_in_the_future_is_a_wrong_clock(crews):
    """A check-out time in the future is refused as a wrong device clock (SECURITY row 25)."""
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    with pytest.raises(ValidationFailed) as exc:
        service.record_outcome(crews.a.user, outcome(crews.a.stops[0], checked_out_at=later))
    assert "masa depan" in details(exc)["checked_out_at"]


# -------------------------------------------------------------------- remaining demand


def test_served_outcome_lowers_remaining_demand_per_service(crews):
    stop = crews.a.stops[0]
    row, created = service.record_outcome(
        crews.a.user, outcome(stop, recorded={"ktp_record": 30, "kia": 4}, present=40)
    )
    assert created
    assert remaining(stop.hotspot_id) == 10
    assert remaining(stop.hotspot_id, "kia") == 6
    assert row.demand_applied == {"ktp_record": 30, "kia": 4}
    assert db.session.get(type(stop), stop.id).status == StopStatus.DONE
    assert stop.hotspot.status == HotspotStatus.ACTIVE  # 10 + 6 persons still to serve


def test_demand_never_goes_below_zero_and_a_finished_site_is_done(crews):
    stop = crews.a.stops[0]
    service.record_outcome(
        crews.a.user, outcome(stop, present=60, recorded={"ktp_record": 55, "kia": 10})
    )
    assert remaining(stop.hotspot_id) == 0
    assert remaining(stop.hotspot_id, "kia") == 0
    row = db.session.scalar(db.select(VisitOutcome))
    assert row.recorded == {"ktp_record": 55, "kia": 10}  # what happened is kept
    assert row.demand_applied == {"ktp_record": 40, "kia": 10}  # what the demand lost
    db.session.refresh(stop.hotspot)
    assert stop.hotspot.status == HotspotStatus.DONE


def test_could_not_serve_keeps_the_demand(crews):
    stop = crews.a.stops[0]
    row, _ = service.record_outcome(
        crews.a.user,
        outcome(
            stop,
            result="not_served",
            recorded={},
            problems=["no_power"],
            present=12,
            turned_away=12,
            turned_away_reasons=["equipment"],
        ),
    )
    assert row.result == OutcomeResult.NOT_SERVED
    assert row.demand_applied == {}
    assert remaining(stop.hotspot_id) == 40
    assert db.session.get(type(stop), stop.id).status == StopStatus.PLANNED


def test_split_site_served_by_two_teams_counts_both(crews):
    """Two teams at one large school: both outcomes come off the same demand."""
    school = make_hotspot(crews.a.office, demand={"ktp_record": 100})
    stop_a = make_stop(crews.a.stops[0].route, school, persons={"ktp_record": 50})
    stop_b = make_stop(crews.b.stops[0].route, school, persons={"ktp_record": 50})
    db.session.commit()
    service.record_outcome(crews.a.user, outcome(stop_a, present=50, recorded={"ktp_record": 45}))
    service.record_outcome(crews.b.user, outcome(stop_b, present=50, recorded={"ktp_record": 48}))
    assert remaining(school.id) == 7


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    requested=st.integers(0, 300),
    served=st.lists(st.integers(0, 200), min_size=1, max_size=3),
)
def test_remaining_is_requested_minus_served_floored_at_zero(crews, requested, served):
    """Property: after any served outcomes, remaining = max(0, requested - sum(served)) and
    the demand taken by the outcomes adds up to requested - remaining."""
    site = make_hotspot(
        crews.a.office, demand={"ktp_record": requested} if requested else {"kia": 1}
    )
    route = crews.a.stops[0].route
    stops = [make_stop(route, site, persons={"ktp_record": 1}) for _ in served]
    db.session.commit()
    for stop, n in zip(stops, served, strict=True):
        service.record_outcome(crews.a.user, outcome(stop, present=n, recorded={"ktp_record": n}))
    rows = db.session.scalars(db.select(VisitOutcome).filter_by(hotspot_id=site.id)).all()
    applied = sum(r.demand_applied.get("ktp_record", 0) for r in rows)
    if requested:
        assert remaining(site.id) == max(0, requested - sum(served))
        assert applied == requested - remaining(site.id)
    else:
        assert applied == 0


# ------------------------------------------------------------------------- idempotency


def test_same_client_uuid_twice_counts_once(crews):
    """The same client_uuid twice stores one outcome and lowers the demand once
    (SECURITY row 38)."""
    stop = crews.a.stops[0]
    data = outcome(stop)
    first, created = service.record_outcome(crews.a.user, data)
    again, created_again = service.record_outcome(crews.a.user, dict(data))
    assert created and not created_again
    assert again.id == first.id
    assert remaining(stop.hotspot_id) == 10
    assert db.session.scalar(db.select(db.func.count(VisitOutcome.id))) == 1


def test_a_second_outcome_for_a_stop_is_a_conflict(crews):
    """A second outcome (new uuid) for a stop is a conflict; the demand drops once
    (SECURITY row 38)."""
    stop = crews.a.stops[0]
    service.record_outcome(crews.a.user, outcome(stop))
    with pytest.raises(Conflict):
        service.record_outcome(crews.a.user, outcome(stop, recorded={"ktp_record": 5}))
    assert remaining(stop.hotspot_id) == 10


def test_checkin_is_idempotent_and_a_second_device_gets_the_first(crews):
    """Check-ins are idempotent; a second device gets the first check-in (SECURITY row 38)."""
    stop = crews.a.stops[0]
    data = {"client_uuid": str(uuid.uuid4()), "stop_id": stop.id, "lat": 3.59, "lon": 98.67}
    first, created = service.record_checkin(crews.a.user, data)
    again, created_again = service.record_checkin(crews.a.user, dict(data))
    other, created_other = service.record_checkin(
        crews.a.user, {"client_uuid": str(uuid.uuid4()), "stop_id": stop.id}
    )
    assert created and not created_again and not created_other
    assert first.id == again.id == other.id


# ----------------------------------------------------------------------------- who, when


def test_other_teams_stops_are_not_found(crews):
    """Stops of another team or office are not found; nothing is written (SECURITY row 11)."""
    for user, stop in ((crews.a.user, crews.b.stops[0]), (crews.a.user, crews.x.stops[0])):
        with pytest.raises(NotFound):
            service.record_outcome(user, outcome(stop))
        with pytest.raises(NotFound):
            service.record_checkin(user, {"client_uuid": str(uuid.uuid4()), "stop_id": stop.id})
    assert db.session.scalar(db.select(db.func.count(VisitOutcome.id))) == 0


def test_replaying_another_teams_uuid_reveals_nothing(crews):
    """Another team's client_uuid on our stop is not found (SECURITY row 11)."""
    data = outcome(crews.b.stops[0])
    service.record_outcome(crews.b.user, data)
    with pytest.raises(NotFound):
        service.record_outcome(crews.a.user, {**data, "stop_id": crews.a.stops[0].id})


def test_tomorrow_cannot_be_recorded_yesterday_can(crews):
    """An outcome for tomorrow is refused; yesterday's is accepted (SECURITY row 25)."""
    with pytest.raises(Conflict) as exc:
        service.record_outcome(crews.a.user, outcome(crews.a.tomorrow[0]))
    assert exc.value.code == "stop_in_future"
    _, created = service.record_outcome(crews.a.user, outcome(crews.a.yesterday[0]))
    assert created


def test_a_cancelled_stop_takes_no_outcome(crews):
    """A cancelled stop takes no outcome (SECURITY row 25)."""
    stop = crews.a.stops[1]
    stop.status = StopStatus.CANCELLED
    db.session.commit()
    with pytest.raises(Conflict):
        service.record_outcome(crews.a.user, outcome(stop))


def test_unpublished_plans_are_invisible_to_the_field(crews):
    """Stops of an unpublished plan are not found by the field (SECURITY row 11)."""
    from tests.factories import make_plan

    draft = make_plan(crews.a.office, start_date=crews.a.plan.start_date)
    route = make_route(draft, crews.a.team, crews.a.plan.start_date + timedelta(days=3))
    stop = make_stop(route)
    db.session.commit()
    with pytest.raises(NotFound):
        service.record_outcome(crews.a.user, outcome(stop))
    assert service.team_day(crews.a.team, route.day).stops == []


def test_outcomes_survive_when_the_stop_is_re_planned_away(crews):
    stop = crews.a.stops[0]
    row, _ = service.record_outcome(crews.a.user, outcome(stop))
    route = stop.route
    route.stops.remove(stop)
    db.session.delete(stop)
    db.session.commit()
    db.session.expire_all()
    kept = db.session.get(VisitOutcome, row.id)
    assert kept is not None and kept.stop_id is None
    assert kept.hotspot_id == row.hotspot_id and kept.team_id == crews.a.team.id


# ---------------------------------------------------------------------------- the day view


def test_team_day_lists_states_and_what_to_bring(crews):
    stops = crews.a.stops
    service.record_checkin(crews.a.user, {"client_uuid": str(uuid.uuid4()), "stop_id": stops[1].id})
    service.record_outcome(crews.a.user, outcome(stops[0]))
    day = service.team_day(crews.a.team, stops[0].route.day)
    assert [s.state for s in day.stops] == ["done", "checked_in", "pending"]
    assert day.cards_to_bring == 75
    assert day.persons_by_service == {"ktp_record": 90, "kia": 30}
    assert day.writable and day.pending == 2
    late = day.stops[2].start_at + timedelta(minutes=31)
    assert day.stops[2].is_late(late, 30) and not day.stops[2].is_late(late, 60)
