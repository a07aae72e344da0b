"""A field team's day in a real browser (Playwright + Debian Chromium), online and offline.

Log in through the form on a tablet (800×1280) → today's route → check in at stop 1 and record
its outcome online → the network drops (``context.set_offline``) → open stops 2 and 3 from the
route (the service worker serves the cached pages; the server sees no request) → record two
outcomes offline → the badge shows 2 waiting → the network returns → the badge goes to 0 →
the database holds exactly 3 outcomes and each stop's remaining demand went down once → after a
reload every stop says "selesai". Plus the phone size (390×844): no sideways scrolling, big
touch targets. Screenshots go to /tmp/field-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from outreach.extensions import db
from outreach.models import HotspotDemand, Role, StopCheckin, VisitOutcome
from tests.browser.conftest import PHONE, live_site, log_in, open_page
from tests.factories import (
    make_hotspot,
    make_office,
    make_plan,
    make_route,
    make_stop,
    make_team,
    make_user,
)
from tests.field.conftest import publish, today_wib

pytestmark = pytest.mark.browser

TABLET = {"width": 800, "height": 1280}
HERE = {"latitude": 3.5905, "longitude": 98.6790, "accuracy": 20}


class RequestLog:
    """WSGI middleware that remembers every path the server was asked for."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.paths: list[str] = []

    def __call__(self, environ, start_response):
        self.paths.append(environ.get("PATH_INFO", ""))
        return self.wsgi_app(environ, start_response)


@pytest.fixture
def live_server(tmp_path) -> Iterator[tuple[str, object, RequestLog, dict]]:
    """The app on 127.0.0.1 with one field team and three stops today, CSRF on, no tiles."""
    with live_site(tmp_path / "field.sqlite3", seed) as (base, app, seeded):
        log = RequestLog(app.wsgi_app)
        app.wsgi_app = log  # before the first request: Flask looks it up on each call
        yield base, app, log, seeded


def seed() -> dict:
    office = make_office(name="Dinas Dukcapil Kota Medan")
    team = make_team(office, name="Tim Rekam A")
    make_user(Role.FIELD, username="petugas", team=team)
    plan = make_plan(office, start_date=today_wib(), end_date=today_wib() + timedelta(days=1))
    route = make_route(plan, team, today_wib())
    names = ["SMA Negeri 1 Medan", "RSUD Dr. Pirngadi", "Lapas Kelas I Medan"]
    stops = []
    for i, name in enumerate(names):
        hs = make_hotspot(
            office,
            name=name,
            address=f"Jl. Uji No. {i + 1}",
            contact_name=f"Ibu Kontak {i + 1}",
            contact_phone=f"+62 812 0000 000{i + 1}",
            demand={"ktp_record": 40, "kia": 10},
            lat=3.585 + 0.006 * i,
            lon=98.672 + 0.005 * i,
        )
        stops.append(make_stop(route, hs, persons={"ktp_record": 30, "kia": 10}, cards=25))
    publish(plan)
    return {"stops": [s.id for s in stops], "hotspots": [s.hotspot_id for s in stops]}


def new_page(browser, viewport):
    return open_page(
        browser, viewport, geolocation=HERE, permissions=["geolocation"], locale="id-ID"
    )


def wait_until_offline_ready(page, stop_ids: list[int]) -> None:
    """The service worker controls the page and the stop pages are in its cache."""
    page.wait_for_function(
        "() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)"
    )
    urls = [f"/field/stop/{i}" for i in stop_ids]
    page.wait_for_function(
        """async (urls) => {
            for (const url of urls) {
                if (!(await caches.match(url, {ignoreVary: true}))) { return false; }
            }
            return true;
        }""",
        arg=urls,
        polling=200,
        timeout=15000,
    )


def fill_outcome(page, present: int, ktp: int, kia: int, used: int) -> None:
    form = page.locator('form[data-field-form="outcome"]')
    form.locator("input[name=present]").fill(str(present))
    form.locator('input[name="recorded.ktp_record"]').fill(str(ktp))
    form.locator('input[name="recorded.kia"]').fill(str(kia))
    form.locator("input[name=cards_used]").fill(str(used))
    form.locator("[type=submit]").click()


def sync_count(page) -> str:
    return page.locator("#sync-count").inner_text().strip()


def shot(page, name: str) -> None:
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=f"/tmp/field-{name}.png", full_page=True)


def counts(app, seed) -> tuple[int, int, list[tuple[int, int]]]:
    with app.app_context():
        outcomes = db.session.scalars(db.select(VisitOutcome.stop_id)).all()
        checkins = db.session.scalar(db.select(db.func.count(StopCheckin.id)))
        left = []
        for hotspot_id in seed["hotspots"]:
            rows = dict(
                db.session.execute(
                    db.select(HotspotDemand.service, HotspotDemand.remaining).filter_by(
                        hotspot_id=hotspot_id
                    )
                ).all()
            )
            left.append((rows["ktp_record"], rows["kia"]))
        db.session.remove()
    return sorted(outcomes), checkins, left


def test_field_day_online_then_offline_then_synced(live_server, browser):
    base, app, log, seed = live_server
    stops = seed["stops"]
    context, page, errors = new_page(browser, TABLET)
    log_in(page, base, "petugas")
    page.goto(base + "/field/")
    assert page.locator("h1").inner_text() == "Rute hari ini"
    assert page.locator("ol.stops > li").count() == 3
    wait_until_offline_ready(page, stops)
    # The member's own position is on the day's map (geolocation granted in this context).
    page.wait_for_selector(".field-map path.leaflet-interactive", timeout=10000)
    shot(page, "tablet-route")

    # Stop 1, online: check in, then the outcome.
    page.click(f'ol.stops a[href="/field/stop/{stops[0]}"] >> nth=0')
    page.wait_for_selector('form[data-field-form="checkin"]')
    shot(page, "tablet-stop")
    page.click('form[data-field-form="checkin"] [type=submit]')
    page.wait_for_selector("[data-checkin-section] .done-line")
    fill_outcome(page, present=35, ktp=30, kia=5, used=20)
    page.wait_for_selector("[data-outcome-section] .done-line")
    assert sync_count(page) == "0"
    outcomes, checkins, left = counts(app, seed)
    assert outcomes == [stops[0]] and checkins == 1
    assert left[0] == (10, 5)
    # Refresh the cached pages with the synced state before the network drops.
    page.goto(base + "/field/")
    wait_until_offline_ready(page, stops)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # the page script's pre-caching has finished

    # The network drops: stops 2 and 3 come from the service worker's cache.
    context.set_offline(True)
    served_before = len(log.paths)
    page.goto(base + "/field/")
    page.wait_for_selector("ol.stops")
    for n, stop_id in enumerate(stops[1:], start=1):
        page.click(f'ol.stops a[href="/field/stop/{stop_id}"] >> nth=0')
        page.wait_for_selector('form[data-field-form="outcome"]')
        assert page.locator(".stop-title").inner_text().strip()
        fill_outcome(page, present=32, ktp=30, kia=2, used=25)
        page.wait_for_selector("[data-outcome-section] .done-line")
        page.wait_for_function(
            "(n) => document.getElementById('sync-count').textContent === n", arg=str(n)
        )
        page.goto(base + "/field/")
        page.wait_for_selector("ol.stops")
    assert sync_count(page) == "2"
    # The route page shows the two visits recorded on this device, waiting to sync.
    assert page.locator(".state-waiting").count() == 2
    assert page.locator(".sync-offline").count() == 1
    shot(page, "tablet-offline-route")
    # Chromium applies the context's offline emulation to each new document a moment after it
    # starts, so the page script's first token fetch (``/field/csrf``, which carries no data)
    # can slip through on a slow machine; no page, route or outcome may.
    asked = [p for p in log.paths[served_before:] if p != "/field/csrf"]
    assert asked == [], "the server was asked while offline"
    outcomes, _, _ = counts(app, seed)
    assert outcomes == [stops[0]]

    # The network returns: the outbox is sent, each outcome once.
    context.set_offline(False)
    page.wait_for_function(
        "() => document.getElementById('sync-count').textContent === '0'", timeout=20000
    )
    outcomes, checkins, left = counts(app, seed)
    assert outcomes == sorted(stops), "exactly one outcome per stop"
    assert left == [(10, 5), (10, 8), (10, 8)]
    # Sending the outbox again (a retry after a lost answer) changes nothing.
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.wait_for_timeout(500)
    assert counts(app, seed)[0] == sorted(stops)

    page.reload()
    page.wait_for_selector("ol.stops")
    states = page.locator("ol.stops [data-state]").all_inner_texts()
    assert [s.strip() for s in states] == ["selesai"] * 3
    assert errors == []
    context.close()


def test_phone_size_route_and_stop_pages(live_server, browser):
    """At 390×844 nothing scrolls sideways and every button or input is at least 48 px high."""
    base, _app, _log, seed = live_server
    context, page, errors = new_page(browser, PHONE)
    log_in(page, base, "petugas")
    for path, name in (
        ("/field/", "phone-route"),
        (f"/field/stop/{seed['stops'][0]}", "phone-stop"),
    ):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width}px wide"
        small = page.evaluate(
            """() => Array.from(document.querySelectorAll(
                    '.field-page .button, .field-page input:not([type=hidden]), '
                    + '.field-page .choice'))
                .filter((el) => el.offsetParent !== null)
                .filter((el) => {
                    const r = el.getBoundingClientRect();
                    const box = el.matches('input[type=radio], input[type=checkbox]')
                        ? el.closest('label').getBoundingClientRect() : r;
                    return box.height < 48;
                })
                .map((el) => el.outerHTML.slice(0, 80))"""
        )
        assert small == [], f"small touch targets on {path}: {small}"
        font = page.evaluate(
            "() => parseFloat(getComputedStyle(document.querySelector('.stop-time')).fontSize)"
        )
        assert font >= 16
        shot(page, name)
    assert errors == []
    context.close()
