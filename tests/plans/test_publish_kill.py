"""A process killed in the middle of publishing leaves no half-published plan (issue 12).

A child process publishes a solved plan on the test's SQLite file and SIGKILLs itself from an
``after_flush`` hook once some publication rows have been written but before the commit (no
``finally``, no rollback, no clean close: what the OOM killer does). The database, reopened,
holds no publication and no public visit, and the plan is still solved. PostgreSQL runs skip
it: the child writes to a file database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import Plan, PlannedStop, PlanPublication, PlanStatus, PublicVisit

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="the child process writes a SQLite file"
)

CHILD = r"""
import json, os, signal, sys
from sqlalchemy import event
from outreach import create_app
from outreach.extensions import db
from outreach.models import Plan
from outreach.plans import service

config = json.loads(os.environ["JB_CONFIG"])
plan_id, kill_after = int(os.environ["JB_PLAN_ID"]), int(os.environ["JB_KILL_AFTER"])
app = create_app(config)
with app.app_context():
    plan = db.session.get(Plan, plan_id)
    written = []

    def after_flush(session, _context):
        written.extend(type(obj).__name__ for obj in session.new)
        if len(written) >= kill_after:
            print("flushed", json.dumps(sorted(set(written))), len(written), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(db.session, "after_flush", after_flush)
    service.publish(plan, None, plan.version_id)
    print("published without being killed", flush=True)
"""


@pytest.mark.parametrize("kill_after", [1, 3])
def test_sigkill_mid_publish_leaves_the_plan_unpublished(app, app_config, solved_plan, kill_after):
    """SIGKILL after k rows of the publication are flushed: reopened, the database has no
    publication and no public visit, the plan is still solved with its stops, and the file
    passes SQLite's integrity check (SECURITY row 36)."""
    plan_id = solved_plan.id
    stops = db.session.scalar(sa.select(sa.func.count(PlannedStop.id)))
    assert solved_plan.status == PlanStatus.SOLVED and stops
    db.session.commit()
    db.session.close()
    db.engine.dispose()  # the child must find no connection of ours holding anything

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JB_CONFIG": json.dumps(app_config),
        "JB_PLAN_ID": str(plan_id),
        "JB_KILL_AFTER": str(kill_after),
    }
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert child.returncode == -signal.SIGKILL, (child.returncode, child.stdout, child.stderr)
    assert "flushed" in child.stdout, child.stdout
    flushed = int(child.stdout.split()[-1])
    assert flushed >= kill_after

    db.session.expire_all()
    assert db.session.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
    assert db.session.scalar(sa.select(sa.func.count(PlanPublication.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(PublicVisit.id))) == 0
    plan = db.session.get(Plan, plan_id)
    assert (plan.status, plan.published_version, plan.published_at) == (
        PlanStatus.SOLVED,
        0,
        None,
    )
    assert db.session.scalar(sa.select(sa.func.count(PlannedStop.id))) == stops
    db.session.rollback()
