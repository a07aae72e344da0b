"""Re-planning the remaining days: the past and today stay, the rest is solved again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import (
    HotspotDemand,
    Office,
    OutcomeResult,
    Plan,
    PlannedStop,
    PlanStatus,
    StopCheckin,
    VisitOutcome,
)
from outreach.plans import adapter, service
from tests.factories import (
    login,
    make_checkin,
    make_plan,
    make_route,
    make_stop,
    make_team,
    monday,
)

MON = monday()
TUE, WED, THU = (MON + timedelta(days=i) for i in (1, 2, 3))
# Tuesday 10:00 WIB: Monday is past, Tuesday is in progress, Wednesday and Thursday remain.
TUESDAY_10 = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)


def stops_of(plan: Plan, hotspot_id: int) -> list[PlannedStop]:
    return [s for s in adapter.planned_stops(plan) if s.hotspot_id == hotspot_id]


def only_stop(plan: Plan, hotspot_id: int) -> PlannedStop:
    found = stops_of(plan, hotspot_id)
    assert len(found) == 1, found
    return found[0]


def snapshot(plan: Plan, before) -> dict:
    """Ids, times, positions, persons and locks of every route and stop before ``before``."""
    out = {}
    for r in plan.routes:
        if r.day >= before:
            continue
        out[r.id] = (
            r.team_id,
            r.day,
            adapter.aware(r.start_at),
            adapter.aware(r.end_at),
            r.distance_m,
            tuple(
                (
                    s.id,
                    s.hotspot_id,
                    s.position,
                    adapter.aware(s.arrival_at),
                    adapter.aware(s.start_at),
                    adapter.aware(s.end_at),
                    dict(s.persons),
                    s.cards,
                    s.locked,
                )
                for s in sorted(r.stops, key=lambda s: s.position)
            ),
        )
    return out


def outcome(stop: PlannedStop, result: OutcomeResult, recorded: dict | None = None, **kw):
    """A field outcome as the field service stores it; served residents leave the demand."""
    recorded = recorded or {}
    row = VisitOutcome(
        client_uuid=str(uuid.uuid4()),
        stop_id=stop.id,
        hotspot_id=stop.hotspot_id,
        team_id=stop.route.team_id,
        day=stop.route.day,
        result=result,
        recorded=recorded,
        present=sum(recorded.values()),
        demand_applied=recorded,
        **kw,
    )
    db.session.add(row)
    for d in stop.hotspot.demands:
        d.remaining = max(0, d.remaining - int(recorded.get(d.service, 0)))
    db.session.flush()
    return row


@pytest.fixture
def field_plan(office_data):
    """A four-day plan (Mon–Thu), laid out by moves and published:

    site 0 on Monday (team 1, locked), site 1 on Monday (team 1, unlocked), site 2 on
    Tuesday (team 2, locked), site 3 on Wednesday (team 1, unlocked), site 4 on Thursday
    (team 2, locked).
    """
    office, user = office_data["office"], office_data["user"]
    t1, t2 = office_data["teams"]
    hs = office_data["hotspots"][:5]
    plan = service.create_plan(
        office, user, name="Rencana lapangan", start_date=MON, end_date=THU, time_limit_s=1
    )
    service.start_solve(plan, user)
    db.session.refresh(plan)
    layout = [(hs[0], t1, MON), (hs[1], t1, MON), (hs[2], t2, TUE), (hs[3], t1, WED)]
    layout.append((hs[4], t2, THU))
    for h, team, day in layout:
        stop = only_stop(plan, h.id)
        service.move_stop(plan, stop.id, team.id, day, expected_version=plan.version_id)
    for h in (hs[1], hs[3]):
        service.unlock_stop(plan, only_stop(plan, h.id).id, expected_version=plan.version_id)
    assert service.validate(plan) == []
    service.publish(plan, user, plan.version_id)
    return {**office_data, "plan": plan, "sites": hs}


def test_replan_keeps_past_and_today_and_replans_from_tomorrow(field_plan):
    """Monday and Tuesday (today) keep every route, stop, time, lock, outcome and check-in;
    only Wednesday on is solved again, for what is left: served residents are not planned
    again, a site reported "not served" is, and today's unreported stop is not doubled."""
    plan, user, hs = field_plan["plan"], field_plan["user"], field_plan["sites"]
    served = outcome(
        only_stop(plan, hs[0].id), OutcomeResult.SERVED, {"ktp_record": hs[0].remaining_total}
    )
    not_served = outcome(only_stop(plan, hs[1].id), OutcomeResult.NOT_SERVED, problems=["no_power"])
    arrived = make_checkin(only_stop(plan, hs[2].id), TUESDAY_10 - timedelta(minutes=40))
    db.session.commit()
    before = snapshot(plan, WED)
    stop_ids = {hs[i].id: only_stop(plan, hs[i].id).id for i in range(3)}

    job = service.replan_remaining(plan, user, plan.version_id, now=TUESDAY_10)
    db.session.expire_all()
    plan = db.session.get(Plan, plan.id)
    assert job.id and plan.status == PlanStatus.SOLVED
    assert snapshot(plan, WED) == before
    assert {r.day for r in plan.routes} >= {MON, TUE}
    assert db.session.get(VisitOutcome, served.id).stop_id == stop_ids[hs[0].id]
    assert db.session.get(VisitOutcome, not_served.id).stop_id == stop_ids[hs[1].id]
    assert db.session.get(StopCheckin, arrived.id).stop_id == stop_ids[hs[2].id]

    new_days = [s for s in adapter.planned_stops(plan) if s.route.day >= WED]
    new_sites = {s.hotspot_id for s in new_days}
    assert hs[0].id not in new_sites  # served: nothing left
    assert hs[2].id not in new_sites  # today's stop will serve it
    again = [s for s in new_days if s.hotspot_id == hs[1].id]
    assert sum(s.persons.get("ktp_record", 0) for s in again) == hs[1].remaining_total
    locked = only_stop(plan, hs[4].id)
    assert (locked.route.team_id, locked.route.day, locked.locked) == (
        field_plan["teams"][1].id,
        THU,
        True,
    )
    assert hs[3].id in new_sites
    assert plan.params["kept_before"] == WED.isoformat()
    assert "replan_from" not in plan.params
    assert service.validate(plan) == []
    assert plan.kpis["routes"] == len([r for r in plan.routes if r.stops])
    # The re-planned plan can be published as the next version.
    pub = service.publish(plan, user, plan.version_id)
    assert pub.version == 2


def test_replan_from_a_chosen_date_keeps_the_days_before_it(field_plan):
    """A chosen date after tomorrow keeps every day before it too."""
    plan, user = field_plan["plan"], field_plan["user"]
    before = snapshot(plan, THU)
    service.replan_remaining(plan, user, plan.version_id, THU, now=TUESDAY_10)
    db.session.expire_all()
    plan = db.session.get(Plan, plan.id)
    assert snapshot(plan, THU) == before
    assert plan.params["kept_before"] == THU.isoformat()
    assert service.validate(plan) == []


def test_reoptimise_of_a_published_plan_keeps_today_and_the_past(field_plan):
    """An ordinary re-optimisation of a published plan cannot re-plan the past or today."""
    plan, user = field_plan["plan"], field_plan["user"]
    before = snapshot(plan, WED)
    service.reoptimise(plan, user, plan.version_id, now=TUESDAY_10)
    db.session.expire_all()
    plan = db.session.get(Plan, plan.id)
    assert snapshot(plan, WED) == before
    assert plan.params["kept_before"] == WED.isoformat()
    assert service.validate(plan) == []


def test_reoptimise_of_a_plan_never_published_replans_everything(solved_plan, office_data):
    """Without a publication nothing is in the field: every day is solved again."""
    # Ids may be reused after a delete (SQLite): mark the old rows instead.
    for r in solved_plan.routes:
        r.distance_m = 9_999_999
    db.session.commit()
    service.reoptimise(solved_plan, None, solved_plan.version_id, now=TUESDAY_10)
    db.session.expire_all()
    plan = db.session.get(Plan, solved_plan.id)
    assert plan.routes and all(r.distance_m != 9_999_999 for r in plan.routes)
    assert "kept_before" not in plan.params and "replan_from" not in plan.params


def test_a_full_solve_after_a_replan_forgets_the_kept_days(field_plan):
    """The snapshots of a re-plan (kept_before, card_stock) go with the next full solve."""
    plan, user = field_plan["plan"], field_plan["user"]
    service.replan_remaining(plan, user, plan.version_id, now=TUESDAY_10)
    db.session.expire_all()
    plan = db.session.get(Plan, plan.id)
    assert "kept_before" in plan.params and "card_stock" in plan.params
    service.reoptimise(plan, user, plan.version_id, now=datetime(2026, 12, 1, tzinfo=UTC))
    db.session.expire_all()
    plan = db.session.get(Plan, plan.id)
    assert "kept_before" not in plan.params and "card_stock" not in plan.params


@pytest.mark.parametrize(
    ("day", "field"),
    [(THU + timedelta(days=1), "from_date"), (TUE, "from_date"), (MON, "from_date")],
)
def test_replan_refuses_days_after_the_end_and_today_or_earlier(field_plan, day, field):
    """A date after the last day, or today or earlier once published, is refused by name."""
    plan, user = field_plan["plan"], field_plan["user"]
    version = plan.version_id
    with pytest.raises(service.PlanError) as exc:
        service.replan_remaining(plan, user, version, day, now=TUESDAY_10)
    assert exc.value.details[0]["field"] == field
    db.session.expire_all()
    plan = db.session.get(Plan, plan.id)
    assert plan.version_id == version and "replan_from" not in plan.params


def test_replan_refuses_a_stale_version_and_an_unsolved_plan(field_plan, office_data):
    """A stale version is a conflict; a draft has nothing to re-plan."""
    plan, user = field_plan["plan"], field_plan["user"]
    with pytest.raises(service.PlanConflict):
        service.replan_remaining(plan, user, plan.version_id - 1, now=TUESDAY_10)
    draft = service.create_plan(
        office_data["office"], user, name="Draf", start_date=MON, end_date=THU, time_limit_s=1
    )
    with pytest.raises(service.PlanError) as exc:
        service.replan_remaining(draft, user, draft.version_id, now=TUESDAY_10)
    assert exc.value.details[0]["field"] == "status"


def test_replan_after_the_last_day_is_refused(field_plan):
    """When the last day is today, nothing remains to re-plan (re-optimise says so too)."""
    plan, user = field_plan["plan"], field_plan["user"]
    thursday = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)
    with pytest.raises(service.PlanError):
        service.replan_remaining(plan, user, plan.version_id, now=thursday)
    with pytest.raises(service.PlanError):
        service.reoptimise(plan, user, plan.version_id, now=thursday)


def test_default_from_date_is_tomorrow_in_the_office_time_zone(field_plan):
    """The office's date decides, not UTC's: at 01:00 WIB on Tuesday (still Monday in UTC)
    tomorrow is Wednesday."""
    plan, user = field_plan["plan"], field_plan["user"]
    tuesday_early = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)  # 01:00 WIB Tuesday
    service.replan_remaining(plan, user, plan.version_id, now=tuesday_early)
    db.session.expire_all()
    plan = db.session.get(Plan, plan.id)
    assert plan.params["kept_before"] == WED.isoformat()


# -- demand and card stock of a re-plan (pure helpers) ------------------------------------------


def test_replan_demand_subtracts_only_kept_stops_without_an_outcome(app):
    """Remaining minus what unreported kept stops will still serve; reported stops are
    already in the remaining demand (served ones lowered it, not served ones did not)."""
    plan = make_plan(status=PlanStatus.DRAFT)
    route = make_route(plan, day=MON)
    pending = make_stop(route, persons={"ktp_record": 15})
    reported = make_stop(route, persons={"ktp_record": 40})
    outcome(reported, OutcomeResult.NOT_SERVED)
    for h, left in ((pending.hotspot, 40), (reported.hotspot, 40)):
        assert h.remaining_total == left
    demand = adapter.replan_demand([pending.hotspot, reported.hotspot], [pending, reported])
    assert demand == {
        str(pending.hotspot_id): {"ktp_record": 25},
        str(reported.hotspot_id): {"ktp_record": 40},
    }


def test_replan_card_stock_takes_off_used_and_still_planned_cards(app):
    """The office stock minus cards used by outcomes and cards of unreported kept stops."""
    plan = make_plan(status=PlanStatus.DRAFT)
    office = db.session.get(Office, plan.office_id)
    office.card_stock = 100
    route = make_route(plan, make_team(office, has_printer=True, cards_per_day=50), MON)
    pending = make_stop(route, persons={"ktp_print": 12}, cards=12)
    reported = make_stop(route, persons={"ktp_print": 20}, cards=20)
    outcome(reported, OutcomeResult.SERVED, cards_carried=20, cards_used=17)
    assert adapter.replan_card_stock(office, [pending, reported]) == 100 - 12 - 17
    office.card_stock = 5
    assert adapter.replan_card_stock(office, [pending, reported]) == 0


def test_demand_rows_are_not_touched_by_a_replan(field_plan):
    """Re-planning reads the remaining demand; it never writes it."""
    plan, user = field_plan["plan"], field_plan["user"]
    rows = lambda: sorted(  # noqa: E731
        db.session.execute(
            sa.select(HotspotDemand.id, HotspotDemand.requested, HotspotDemand.remaining)
        ).all()
    )
    before = rows()
    service.replan_remaining(plan, user, plan.version_id, now=TUESDAY_10)
    assert rows() == before


# -- the review page --------------------------------------------------------------------------


@pytest.fixture
def coord_client(client, field_plan):

    login(client, field_plan["user"])
    return client


def test_review_page_offers_the_replan_form_and_a_stale_version_answers_409(
    coord_client, field_plan
):
    """The form posts with the version; a stale version answers 409 and changes nothing."""
    plan = field_plan["plan"]
    page = coord_client.get(f"/coord/plans/{plan.id}")
    assert page.status_code == 200
    assert b'id="replan-form"' in page.data and b'name="from_date"' in page.data
    version = plan.version_id
    resp = coord_client.post(
        f"/coord/plans/{plan.id}/replan", data={"expected_version": str(version - 1)}
    )
    assert resp.status_code == 409
    db.session.expire_all()
    plan = db.session.get(Plan, plan.id)
    assert plan.version_id == version and "replan_from" not in plan.params


def test_replan_form_starts_the_solve_and_the_review_page_names_the_kept_days(
    coord_client, field_plan
):
    """A valid form goes to the solve's progress page; the plan then says what was kept."""
    plan = field_plan["plan"]
    resp = coord_client.post(
        f"/coord/plans/{plan.id}/replan",
        data={"expected_version": str(plan.version_id), "from_date": THU.isoformat()},
    )
    # The real clock may be after the plan; then the date is refused with a message.
    if resp.status_code == 302 and "/jobs/" in resp.headers["Location"]:
        page = coord_client.get(f"/coord/plans/{plan.id}")
        assert b'id="kept-notice"' in page.data
    else:
        assert resp.status_code == 302


def test_replan_form_refuses_a_date_that_is_not_a_date(coord_client, field_plan):
    """A malformed date is refused with a message; nothing changes."""
    plan = field_plan["plan"]
    version = plan.version_id
    resp = coord_client.post(
        f"/coord/plans/{plan.id}/replan",
        data={"expected_version": str(version), "from_date": "kemarin"},
        follow_redirects=True,
    )
    assert resp.status_code == 200
    db.session.expire_all()
    assert db.session.get(Plan, plan.id).version_id == version


def test_adding_a_site_after_a_partial_outcome_plans_what_is_left(field_plan, expect_violations):
    """A served stop that recorded fewer residents than planned leaves the rest to add;
    the stop's own residents are not counted twice. (The added visit is locked while the
    site's first visit is elsewhere: the checker's lock rule reports that, as for any
    second visit added by hand.)"""
    plan, hs = field_plan["plan"], field_plan["sites"]
    stop = only_stop(plan, hs[1].id)
    planned = stop.persons["ktp_record"]
    outcome(stop, OutcomeResult.SERVED, {"ktp_record": planned - 3})
    db.session.commit()
    added = service.add_hotspot(
        plan, hs[1].id, field_plan["teams"][0].id, THU, expected_version=plan.version_id
    )
    assert added.persons == {"ktp_record": 3}
