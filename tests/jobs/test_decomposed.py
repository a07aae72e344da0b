"""Decomposed solves in the app (scale-out issue, item 1): parts as rows with progress,
local processes without Redis, stitched plans that pass the checker, cancel of every part."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.jobs import parts
from outreach.models import JobStatus, Plan, Role, SolvePart
from outreach.plans import service
from tests.checked_plans import (
    assert_plan_passes_the_checker,
    assert_solved_plan_passes_the_checker,
)
from tests.factories import login, make_hotspot, make_office, make_team, make_user, monday
from tests.jobs.conftest import job_row, wait_for

KECAMATAN = ("12.71.01", "12.71.02", "12.71.03", "12.71.04")


@pytest.fixture
def app_config(app_config):
    app_config["JOB_BACKEND"] = "inline"
    app_config["DECOMPOSE_TARGET_SITES"] = 10
    app_config["DECOMPOSE_WORKERS"] = 2
    return app_config


@pytest.fixture
def city(app):
    """An office with four teams and 40 hotspots in four kecamatan (two clusters)."""
    office = make_office()
    teams = [make_team(office, kits=1 + i % 2) for i in range(4)]
    hotspots = []
    for i in range(40):
        k = i % 4
        hotspots.append(
            make_hotspot(
                office,
                demand={"ktp_record": 8 + (i * 7) % 30},
                priority=1 + i % 5,
                lat=3.55 + (0.08 if k >= 2 else 0.0) + (i % 5) * 0.004,
                lon=98.64 + (0.08 if k % 2 else 0.0) + (i % 3) * 0.004,
                kecamatan_code=KECAMATAN[k],
            )
        )
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    return {"office": office, "teams": teams, "hotspots": hotspots, "user": user}


def _plan(city, *, limit: int = 6, days: int = 4, decompose: bool | None = True) -> Plan:
    plan = service.create_plan(
        city["office"],
        city["user"],
        name="Rencana provinsi kecil",
        start_date=monday(),
        end_date=monday() + timedelta(days=days),
        time_limit_s=limit,
    )
    if decompose is not None:
        plan.params = {**plan.params, "decompose": decompose}
    db.session.commit()
    return plan


def _parts(job_id: str) -> list[SolvePart]:
    db.session.rollback()
    rows = list(
        db.session.scalars(
            sa.select(SolvePart).where(SolvePart.job_id == job_id).order_by(SolvePart.index)
        )
    )
    for r in rows:
        db.session.expunge(r)
    db.session.rollback()
    return rows


def test_a_decomposed_plan_is_stitched_checked_and_shows_every_part(app, city):
    """Inline backend: local processes solve the parts; every part's row ends done with its
    routes, the job's progress lists the parts, and the stored plan passes the checker.
    Kecamatan stay whole: every site of a kecamatan is in parts of one set of teams."""
    plan = _plan(city)
    job = service.start_solve(plan, city["user"])
    row = job_row(job.id)
    assert row.status == JobStatus.DONE, row.error
    rows = _parts(job.id)
    assert len(rows) >= 2
    assert all(r.status == "done" and r.attempts == 1 and r.routes is not None for r in rows)
    listed = row.progress["parts"]
    assert [p["index"] for p in listed] == [r.index for r in rows]
    assert all(p["status"] == "done" and p["percent"] == 100 for p in listed)
    assert row.progress["persons_served"] > 0
    teams_of_kecamatan: dict[str, set[tuple[str, ...]]] = {}
    code = {str(h.id): h.kecamatan_code for h in city["hotspots"]}
    for r in rows:
        for sid in r.spec["site_ids"]:
            teams_of_kecamatan.setdefault(code[sid], set()).add(tuple(r.spec["team_ids"]))
    assert all(len(v) == 1 for v in teams_of_kecamatan.values()), teams_of_kecamatan
    assert_solved_plan_passes_the_checker(plan.id)


def test_a_small_plan_is_not_decomposed_unless_asked(app, city):
    """Below ``DECOMPOSE_ABOVE_SITES`` a plan is one solve: no part rows."""
    plan = _plan(city, limit=2, decompose=None)
    job = service.start_solve(plan, city["user"])
    assert job_row(job.id).status == JobStatus.DONE
    assert _parts(job.id) == []
    assert "parts" not in job_row(job.id).progress


@pytest.mark.parametrize("backend", ["thread"])
def test_cancel_stops_every_part_and_keeps_the_best_plan(app, app_config, city, backend):
    """Thread backend: cancelling while the parts run ends every part well before its limit;
    the job is cancelled, no part is left queued or running, and what was found is stored
    and passes the checker."""
    app.config["JOB_BACKEND"] = backend
    app.config["DECOMPOSE_WORKERS"] = 1  # parts wait in line: some are still queued
    plan = _plan(city, limit=120)
    job = service.start_solve(plan, city["user"])
    wait_for(
        job.id,
        {JobStatus.RUNNING},
        timeout=60,
        predicate=lambda j: any(
            p["status"] == "running" for p in (j.progress or {}).get("parts", [])
        ),
    )
    time.sleep(1.0)
    t0 = time.monotonic()
    service.cancel_job(job_row(job.id), city["user"])
    final = wait_for(job.id, timeout=60)
    assert time.monotonic() - t0 < 30
    assert final.status == JobStatus.CANCELLED
    rows = _parts(job.id)
    assert {r.status for r in rows} <= {"done", "cancelled"}
    assert any(r.status == "cancelled" for r in rows)  # queued parts never started
    db.session.rollback()
    plan = db.session.get(Plan, plan.id)
    if plan.routes:
        assert_plan_passes_the_checker(plan)
    db.session.rollback()


def test_part_claim_is_exclusive_and_allows_one_retry(app, city):
    """Two claimers of one queued part: one wins. A part re-queued after its worker died is
    claimed once more (attempt 2); after that it cannot be claimed again."""
    plan = _plan(city, limit=2)
    from outreach.models import SolveJob

    job = SolveJob(id="0" * 36, plan_id=plan.id, status=JobStatus.RUNNING, backend="rq")
    db.session.add(job)
    part = SolvePart(job_id=job.id, index=0, label="wilayah 1", status="queued", attempts=0)
    db.session.add(part)
    db.session.commit()
    part_id = part.id
    db.session.rollback()
    got: list[int | None] = []

    def grab() -> None:
        with app.app_context():
            got.append(parts.claim(part_id, worker="test"))
            db.session.remove()

    threads = [threading.Thread(target=grab) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got, key=lambda x: x or 0) == [None, None, None, 1]
    db.session.execute(sa.update(SolvePart).values(status="queued"))
    db.session.commit()
    assert parts.claim(part_id) == 2
    db.session.execute(sa.update(SolvePart).values(status="queued"))
    db.session.commit()
    assert parts.claim(part_id) is None


def test_progress_page_lists_the_parts(app, city):
    """The coordinator's progress page shows each part's label, state and residents."""
    plan = _plan(city)
    job = service.start_solve(plan, city["user"])
    client = app.test_client()
    login(client, city["user"])
    page = client.get(f"/coord/jobs/{job.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = _parts(job.id)
    assert 'id="job-parts"' in html
    data = client.get(f"/coord/jobs/{job.id}.json").get_json()
    assert [p["index"] for p in data["parts"]] == [r.index for r in rows]
    for p, r in zip(data["parts"], rows, strict=True):
        first = r.spec["dates"][0]
        assert f"{first[8:10]}/{first[5:7]}" in p["label"]
        assert p["label"] in html and p["status"] == "done"
        assert p["persons"] == r.progress["persons_served"]
