"""Take the README screenshots: the demo in headless Debian Chromium, offline.

    .venv/bin/python docs/screenshots.py            # writes docs/screenshot-*.png

Starts the app on 127.0.0.1 with a throw-away SQLite database, seeds the Kota Medan demo, adds a
published route for today (so the field page has stops), logs in through the real login form and
captures the dashboard, the field page and the public page at desktop, tablet and phone sizes.
Map tiles are switched off (no internet here), so the map shows its plain background.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from outreach import create_app  # noqa: E402
from outreach.demo import seed_demo  # noqa: E402
from outreach.extensions import db  # noqa: E402
from outreach.models import Hotspot, HotspotKind, Plan, PlannedRoute, PlannedStop, Team  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SIZES = {"desktop": (1440, 1000), "tablet": (820, 1180), "phone": (390, 844)}


def _publish_today(office_id: int, tz: ZoneInfo) -> None:
    """A hand-made published route for the first team today: screenshot material only."""
    team = db.session.scalar(db.select(Team).where(Team.office_id == office_id).order_by(Team.id))
    today = datetime.now(tz).date()
    plan = Plan(
        office_id=office_id,
        name="Demo",
        status="published",
        start_date=today,
        end_date=today,
        published_at=datetime.now(UTC),
        published_version=1,
    )
    route = PlannedRoute(team=team, day=today)
    plan.routes.append(route)
    sites = db.session.scalars(
        db.select(Hotspot)
        .where(Hotspot.kecamatan_code == "12.71.01", Hotspot.kind != HotspotKind.HOME)
        .order_by(Hotspot.id)
        .limit(2)
    ).all()
    sites += db.session.scalars(
        db.select(Hotspot).where(Hotspot.kind == HotspotKind.HOME).order_by(Hotspot.id).limit(1)
    ).all()
    start = datetime.combine(today, datetime.min.time(), tz) + timedelta(hours=8, minutes=30)
    for i, hs in enumerate(sites):
        begin = start + timedelta(minutes=150 * i)
        route.stops.append(
            PlannedStop(
                hotspot=hs,
                position=i,
                arrival_at=begin.astimezone(UTC),
                start_at=begin.astimezone(UTC),
                end_at=(begin + timedelta(minutes=120)).astimezone(UTC),
                persons={d.service: min(d.remaining, 60) for d in hs.demands},
            )
        )
    db.session.add(plan)
    db.session.commit()


def main() -> None:
    from playwright.sync_api import sync_playwright

    tmp = tempfile.mkdtemp(prefix="jb-shots-")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/demo.sqlite3",
            "SECRET_KEY": os.urandom(32).hex(),
            "MAP_TILES_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.create_all()
        result = seed_demo(db.session)
        _publish_today(result["office_id"], ZoneInfo("Asia/Jakarta"))
    logins = {u["role"]: u for u in result["users"]}

    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = ROOT / "docs"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-dev-shm-usage", "--no-first-run"],
            )  # fmt: skip
            for role, path in (("coordinator", "/coord/"), ("field", "/field/"), (None, "/")):
                for size_name, (width, height) in SIZES.items():
                    context = browser.new_context(viewport={"width": width, "height": height})
                    page = context.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                    page.on(
                        "console",
                        lambda msg, errors=errors: (
                            errors.append(msg.text) if msg.type == "error" else None
                        ),
                    )
                    if role:
                        page.goto(base + "/login")
                        page.fill("input[name=username]", logins[role]["username"])
                        page.fill("input[name=password]", logins[role]["password"])
                        page.click("[type=submit]")
                        page.wait_for_load_state("networkidle")
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    page.wait_for_timeout(600)  # marker cluster animation
                    name = {"/coord/": "dashboard", "/field/": "field", "/": "public"}[path]
                    target = out / f"screenshot-{name}-{size_name}.png"
                    page.screenshot(path=str(target), full_page=size_name != "desktop")
                    print(target.relative_to(ROOT), "errors:", errors or "none")
                    context.close()
            browser.close()
    finally:
        server.shutdown()
    shutil_copy = out / "screenshot-dashboard.png"
    shutil_copy.write_bytes((out / "screenshot-dashboard-desktop.png").read_bytes())


if __name__ == "__main__":
    main()
