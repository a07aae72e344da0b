"""Plan services: edits re-validate, optimistic locking, re-optimise, atomic versioned publish."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from outreach.extensions import db
from outreach.models import PlanPublication, PlanStatus
from outreach.planning import Violation
from outreach.plans import adapter, service
from tests.checked_plans import assert_plan_passes_the_checker
from tests.factories import make_hotspot, make_team, monday


def _other_slot(plan):
    """A (team_id, day) pair different from the first stop's route."""
    first = plan.routes[0]
    team_ids = plan.params["team_ids"]
    other_team = next(t for t in team_ids if t != first.team_id)
    return first.stops[0], other_team, first.day


def test_move_stop_locks_it_recomputes_and_stays_valid(solved_plan):
    """Moving a stop to another team puts it there, locks it, bumps the version, no violations."""
    stop, team_id, day = _other_slot(solved_plan)
    version = solved_plan.version_id
    moved = service.move_stop(solved_plan, stop.id, team_id, day, 0, expected_version=version)
    assert moved.route.team_id == team_id and moved.position == 0 and moved.locked
    assert solved_plan.version_id > version
    assert solved_plan.violations == []
    assert_plan_passes_the_checker(solved_plan)
    positions = [s.position for s in moved.route.stops]
    assert positions == list(range(len(positions)))


def test_move_to_a_team_without_the_service_shows_a_violation_in_words(
    solved_plan, office_data, expect_violations
):
    """The checker re-validates at once: a team lacking the service yields a sentence."""
    kia_only = make_team(office_data["office"], services=["kia"])
    db.session.commit()
    stop = solved_plan.routes[0].stops[0]
    service.move_stop(
        solved_plan, stop.id, kia_only.id, solved_plan.start_date, 0, solved_plan.version_id
    )
    assert solved_plan.violations
    assert any("tidak dapat memberikan layanan" in v for v in solved_plan.violations)
    with pytest.raises(service.PlanError) as err:
        service.publish(solved_plan, None, solved_plan.version_id)
    assert err.value.details
    assert not db.session.scalars(sa.select(PlanPublication)).all()


def test_violation_sentence_names_the_site_team_and_date(
    solved_plan, office_data, expect_violations
):
    """The stored sentence names the hotspot and the team by name, and the date."""
    kia_only = make_team(office_data["office"], services=["kia"], name="Tim Khusus KIA")
    db.session.commit()
    stop = solved_plan.routes[0].stops[0]
    hotspot_name = stop.hotspot.name
    day = solved_plan.start_date
    service.move_stop(solved_plan, stop.id, kia_only.id, day, 0, solved_plan.version_id)
    skill = [v for v in solved_plan.violations if "tidak dapat memberikan layanan" in v]
    assert skill
    sentence = skill[0]
    assert sentence.startswith(f'Titik "{hotspot_name}", tim "Tim Khusus KIA", tanggal {day}: ')
    assert sentence.endswith(")")  # the checker's detail stays in parentheses


def test_violation_text_falls_back_to_ids_and_stays_compatible():
    """Without name lookups the ids are shown; a plain object gets no place at all."""
    v = Violation("WINDOW", "route 7 2026-12-07 stop 0 (3 visit 1): late", "7", monday(), "3", 1)
    assert service.violation_text(v) == (
        f'Titik "3" (kunjungan ke-2), tim "7", tanggal {monday().isoformat()}: '
        "Kunjungan berada di luar jam buka lokasi. (route 7 2026-12-07 stop 0 (3 visit 1): late)"
    )
    named = service.violation_text(v, {"3": "SD Negeri 1"}, {"7": "Tim Satu"})
    assert named.startswith('Titik "SD Negeri 1" (kunjungan ke-2), tim "Tim Satu", ')
    assert service.violation_text(Violation("CARD_STOCK", "plan uses 9 cards, stock is 3")) == (
        "Blangko KTP-el yang dibutuhkan melebihi stok kantor. (plan uses 9 cards, stock is 3)"
    )
    assert service.violation_text(Violation("NEW_CODE", "something")) == "something"


def test_stale_expected_version_raises_conflict(solved_plan):
    """A second coordinator saving with an old version gets PlanConflict, not an overwrite
    (SECURITY row 37)."""
    stop, team_id, day = _other_slot(solved_plan)
    stale = solved_plan.version_id
    service.lock_stop(solved_plan, stop.id, expected_version=stale)
    with pytest.raises(service.PlanConflict) as err:
        service.move_stop(solved_plan, stop.id, team_id, day, 0, expected_version=stale)
    assert "Muat ulang" in err.value.message
    assert err.value.status == 409


def test_concurrent_sessions_conflict_on_commit(app, solved_plan):
    """Two sessions hold the same version: the later commit raises PlanConflict
    (SECURITY row 37)."""
    ours = db.session()
    ours.expire_on_commit = False  # keep our (soon stale) copy of the plan in memory
    try:
        ours.commit()  # SQLite: release our write lock so the other coordinator can save
        other = sa.orm.Session(db.engine)
        try:
            theirs = other.get(type(solved_plan), solved_plan.id)
            theirs.name = "Diubah koordinator lain"
            other.commit()
        finally:
            other.close()
        solved_plan.name = "Perubahan kami"
        with pytest.raises(service.PlanConflict):
            service._commit()
    finally:
        ours.expire_on_commit = True
    db.session.expire_all()
    assert db.session.get(type(solved_plan), solved_plan.id).name == "Diubah koordinator lain"


def test_drop_stop_lists_the_hotspot_as_unserved_and_reoptimise_keeps_it_out(solved_plan):
    """A dropped hotspot is unserved with the coordinator reason and stays out after re-plan."""
    stop = solved_plan.routes[0].stops[0]
    hid = stop.hotspot_id
    service.drop_stop(solved_plan, stop.id, solved_plan.version_id)
    assert hid not in {s.hotspot_id for s in adapter.planned_stops(solved_plan)}
    row = next(u for u in solved_plan.unserved if u.hotspot_id == hid)
    assert row.reason_code == "dropped_by_coordinator"
    assert solved_plan.violations == []
    service.reoptimise(solved_plan, None, solved_plan.version_id)
    db.session.refresh(solved_plan)
    assert solved_plan.status == PlanStatus.SOLVED
    assert hid not in {s.hotspot_id for s in adapter.planned_stops(solved_plan)}
    assert_plan_passes_the_checker(solved_plan)


def test_reoptimise_keeps_locked_and_moved_stops(solved_plan):
    """Re-optimising keeps a moved (hence locked) stop on its team and day."""
    stop, team_id, day = _other_slot(solved_plan)
    hid = stop.hotspot_id
    service.move_stop(solved_plan, stop.id, team_id, day, 0, solved_plan.version_id)
    service.reoptimise(solved_plan, None, solved_plan.version_id)
    db.session.refresh(solved_plan)
    again = [s for s in adapter.planned_stops(solved_plan) if s.hotspot_id == hid]
    assert len(again) == 1
    assert (again[0].route.team_id, again[0].route.day, again[0].locked) == (team_id, day, True)
    assert_plan_passes_the_checker(solved_plan)


def test_add_hotspot_serves_what_is_left_and_validates(solved_plan, office_data):
    """Adding a new hotspot creates a locked stop with its remaining demand."""
    h = make_hotspot(office_data["office"], demand={"kia": 5})
    db.session.commit()
    route = solved_plan.routes[0]
    stop = service.add_hotspot(
        solved_plan, h.id, route.team_id, route.day, 0, solved_plan.version_id
    )
    assert stop.persons == {"kia": 5} and stop.locked and stop.position == 0
    assert solved_plan.violations == []
    assert_plan_passes_the_checker(solved_plan)
    with pytest.raises(service.PlanError):
        service.add_hotspot(solved_plan, h.id, route.team_id, route.day, 0)


def test_add_hotspot_without_location_is_refused(solved_plan, office_data):
    """A hotspot that still needs a pin cannot be added; the field is named."""
    nowhere = office_data["hotspots"][-1]
    route = solved_plan.routes[0]
    with pytest.raises(service.PlanError) as err:
        service.add_hotspot(solved_plan, nowhere.id, route.team_id, route.day)
    assert err.value.details[0]["field"] == "hotspot_id"


def test_edit_outside_the_horizon_names_the_field(solved_plan):
    """A date outside the plan's range is a 400 with the field, not a crash."""
    stop = solved_plan.routes[0].stops[0]
    with pytest.raises(service.PlanError) as err:
        service.move_stop(
            solved_plan, stop.id, stop.route.team_id, solved_plan.end_date + timedelta(days=3)
        )
    assert err.value.details[0]["field"] == "date"


def test_publish_is_versioned_and_records_changes(solved_plan):
    """v1 is the initial snapshot; after a move, v2 lists the moved visit."""
    pub1 = service.publish(solved_plan, None, solved_plan.version_id)
    assert (pub1.version, solved_plan.status) == (1, PlanStatus.PUBLISHED)
    assert pub1.changes["initial"] is True
    assert len(pub1.snapshot) == len(adapter.planned_stops(solved_plan))
    stop, team_id, day = _other_slot(solved_plan)
    hid = stop.hotspot_id
    # The other day of the two-day plan (the first route may be on either day).
    other_day = day + timedelta(days=1) if day < solved_plan.end_date else day - timedelta(days=1)
    service.move_stop(solved_plan, stop.id, team_id, other_day, 0)
    assert solved_plan.status == PlanStatus.SOLVED  # edited: a draft of the next version
    pub2 = service.publish(solved_plan, None, solved_plan.version_id)
    assert pub2.version == 2 and solved_plan.published_version == 2
    assert [m["hotspot_id"] for m in pub2.changes["moved"]] == [hid]
    assert pub2.changes["cancelled"] == [] and pub2.changes["added"] == []


def test_publish_records_cancelled_and_added_visits(solved_plan, office_data):
    """A dropped stop shows as cancelled, an added hotspot as added."""
    service.publish(solved_plan, None, solved_plan.version_id)
    stop = solved_plan.routes[0].stops[0]
    dropped = stop.hotspot_id
    service.drop_stop(solved_plan, stop.id)
    h = make_hotspot(office_data["office"], demand={"kia": 3})
    db.session.commit()
    route = solved_plan.routes[0]
    service.add_hotspot(solved_plan, h.id, route.team_id, route.day)
    pub = service.publish(solved_plan, None, solved_plan.version_id)
    assert [c["hotspot_id"] for c in pub.changes["cancelled"]] == [dropped]
    assert [a["hotspot_id"] for a in pub.changes["added"]] == [h.id]


def test_publish_is_atomic_when_a_flush_fails_midway(solved_plan):
    """A failure while flushing the publication writes nothing and leaves the status
    (SECURITY row 36)."""
    version = solved_plan.version_id

    def boom(session, flush_context, instances):
        if any(isinstance(o, PlanPublication) for o in session.new):
            raise RuntimeError("disk full")

    event.listen(db.session, "before_flush", boom)
    try:
        with pytest.raises(RuntimeError):
            service.publish(solved_plan, None, version)
    finally:
        event.remove(db.session, "before_flush", boom)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(PlanPublication.id))) == 0
    plan = db.session.get(type(solved_plan), solved_plan.id)
    assert (plan.status, plan.published_version, plan.version_id) == (
        PlanStatus.SOLVED,
        0,
        version,
    )


def test_publish_with_stale_version_is_a_conflict(solved_plan):
    """Publishing an outdated view of the plan is refused with 409 (SECURITY row 37)."""
    with pytest.raises(service.PlanConflict):
        service.publish(solved_plan, None, solved_plan.version_id - 1)


def test_create_plan_reports_every_bad_field(office_data):
    """Bad dates, unknown teams and a time limit out of range are listed per field."""
    with pytest.raises(service.PlanError) as err:
        service.create_plan(
            office_data["office"],
            None,
            name=" ",
            start_date=monday(),
            end_date=monday() - timedelta(days=1),
            team_ids=[999],
            time_limit_s=0,
        )
    fields = {d["field"] for d in err.value.details}
    assert {"name", "end_date", "team_ids", "time_limit_s"} <= fields


def test_plan_to_dict_has_routes_unserved_and_kpis(solved_plan):
    """The API shape: team id, date, stops with hotspot id and ISO times, unserved, KPIs."""
    data = service.plan_to_dict(solved_plan)
    assert data["version"] == solved_plan.version_id
    route = data["routes"][0]
    assert {"team_id", "date", "stops"} <= set(route)
    stop = route["stops"][0]
    assert {"hotspot_id", "arrival", "start", "end", "persons", "cards"} <= set(stop)
    assert data["unserved"][0]["reason"] and data["unserved"][0]["reason_code"]
    assert data["kpis"]["persons_served"] > 0
    assert data["job"]["status"] == "done"
