"""The progress page of a decomposed solve on a tablet and a phone, in Chromium (scale-out
issue, item 1): every part is listed with its state, residents and progress; the polling
script keeps the list current without script errors; the table fits the screen.

Screenshots go to /tmp/parts-progress-*.png."""

from __future__ import annotations

import pytest

from outreach.extensions import db
from outreach.models import JobStatus, Role, SolveJob
from tests.browser.conftest import PHONE, TABLET, live_site, log_in, open_page
from tests.factories import make_office, make_plan, make_user

pytestmark = pytest.mark.browser

PARTS = [
    {"index": 0, "territory": 1, "first": "2026-12-07", "last": "2026-12-18", "sites": 312,
     "teams": 5, "status": "done", "attempts": 1, "percent": 100, "persons_served": 4210},
    {"index": 1, "territory": 2, "first": "2026-12-07", "last": "2026-12-18", "sites": 287,
     "teams": 4, "status": "running", "attempts": 2, "percent": 41, "persons_served": 1388},
    {"index": 2, "territory": 3, "first": "2026-12-07", "last": "2026-12-18", "sites": 301,
     "teams": 5, "status": "queued", "attempts": 0, "percent": 0, "persons_served": None},
]  # fmt: skip


def _seed() -> dict:
    office = make_office()
    user = make_user(Role.COORDINATOR, office_id=office.id, username="koordinator")
    plan = make_plan(office)
    job = SolveJob(
        id="9" * 8 + "-0000-4000-8000-" + "0" * 12,
        plan_id=plan.id,
        status=JobStatus.RUNNING,
        backend="rq",
        progress={"time_limit_s": 480, "elapsed_s": 120, "percent": 25, "parts": PARTS,
                  "persons_served": 5598, "decomposed": True},
    )  # fmt: skip
    db.session.add(job)
    return {"user": user.username, "job": job.id}


@pytest.mark.parametrize("size", ["tablet", "phone"])
def test_every_part_is_listed_and_the_table_fits(browser, tmp_path, size):
    viewport = TABLET if size == "tablet" else PHONE
    with live_site(tmp_path / "db.sqlite3", _seed) as (base, _app, seeded):
        context, page, errors = open_page(browser, viewport, console=True)
        try:
            log_in(page, base, seeded["user"])
            page.goto(f"{base}/coord/jobs/{seeded['job']}")
            page.wait_for_timeout(2500)  # at least one poll of the job's JSON
            rows = page.locator("#job-parts tbody tr")
            assert rows.count() == len(PARTS)
            texts = [rows.nth(i).inner_text() for i in range(rows.count())]
            assert "Wilayah 1" in texts[0] and "07/12–18/12" in texts[0]
            assert "312 lokasi" in texts[0] and "5 tim" in texts[0]
            assert "4.210" in texts[0]  # Indonesian digit grouping, also after a poll
            assert page.locator("#job-persons").inner_text() == "5.598"
            assert "diulang" in texts[1] and "41%" in texts[1]
            assert "–" in texts[2]
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
            page.screenshot(path=f"/tmp/parts-progress-{size}.png", full_page=True)
            assert errors == []
        finally:
            context.close()
