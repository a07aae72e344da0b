"""The coordinator's export downloads: attachment headers and inert cells (row 26)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from outreach.extensions import db
from outreach.models import Role
from tests.factories import form_login, make_user

SAFE_ATTACHMENT = re.compile(r'^attachment; filename="[A-Za-z0-9_-]+\.(csv|xlsx|gpx|ics)"')


@pytest.fixture
def coordinator_client(app, client, plan_setup):
    plan_setup["plan"].name = 'evil"; filename=x.html\r\nX-Injected: 1'
    make_user(Role.COORDINATOR, username="koordinator", office_id=plan_setup["plan"].office_id)
    db.session.commit()
    form_login(client, "koordinator")
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/coord/plans/{plan}/export.csv",
        "/coord/plans/{plan}/export.xlsx",
        "/coord/plans/{plan}/routes/{route}.gpx",
        "/coord/plans/{plan}/teams/{team}.ics",
    ],
)
def test_exports_download_as_safe_attachments(coordinator_client, plan_setup, path):
    """Each export is an attachment whose file name cannot break the header (SECURITY row 26)."""
    url = path.format(
        plan=plan_setup["plan"].id,
        route=plan_setup["route_a1"].id,
        team=plan_setup["team_a"].id,
    )
    resp = coordinator_client.get(url)
    assert resp.status_code == 200
    assert SAFE_ATTACHMENT.match(resp.headers["Content-Disposition"])
    assert "X-Injected" not in resp.headers


def test_downloaded_csv_cells_are_inert(coordinator_client, plan_setup):
    """The CSV served to the browser has every formula-like cell prefixed with ' (an
    apostrophe; SECURITY row 26)."""
    resp = coordinator_client.get(f"/coord/plans/{plan_setup['plan'].id}/export.csv")
    rows = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"), newline="")))
    cells = [c for row in rows[1:] for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r", "\0")]
    assert '\'=HYPERLINK("http://x","y")' in cells
