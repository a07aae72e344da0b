"""The plan review at a glance on a tablet (820×1180) and a desktop, in Chromium (issue 10).

* the map opens framed to the planned stops (every numbered pin inside the visible map, an
  unplanned site far away left out of the frame);
* the legend lists every team-day grouped by day, folds, and never covers the map;
* the solver's status is a sentence; numbers read Indonesian (``2.400``, ``600,8``);
* publishing goes through a confirmation page and lands with the confirmation in view;
* the import preview's table fits the tablet (or shows that it scrolls) with the service
  counts as plain numbers in columns.

Screenshots go to /tmp/review-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from outreach.models import Role
from tests.browser.conftest import TABLET, live_site, log_in, open_page
from tests.factories import (
    make_hotspot,
    make_office,
    make_plan,
    make_real_solved_plan,
    make_route,
    make_stop,
    make_team,
    make_user,
)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
SHOT = "/tmp/review-{}.png"
FAR = (3.95, 99.25)  # an unplanned site some 60 km away
IMPORT_CSV = (
    "kode;nama;jenis;kecamatan;kelurahan;kode_kelurahan;lintang;bujur;ktp_el;cetak_ktp;"
    "akta_lahir;kia;prioritas\r\n"
    + "".join(
        f"T-{i};Sekolah Menengah Atas Negeri {i} Medan Tembung;sekolah;Medan Tembung;"
        f"Bantan Timur;12.71.07.100{i % 9};3,{5700 + i};98,{7100 + i};{1200 + i};{i * 10};"
        f"{i};{i % 3};{1 + i % 5}\r\n"
        for i in range(1, 9)
    )
).encode()


def seed() -> dict:
    """A factory plan of 3 teams × 5 days with a split site, and a tiny really solved plan."""
    office = make_office()
    teams = [make_team(office, name=f"Tim {n} Medan") for n in ("Kota", "Area", "Timur")]
    plan = make_plan(
        office,
        name="Rencana pekan ini",
        params={"time_limit_s": 20},
        solver_status="ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NO",
    )
    plan.kpis = {"runtime_s": 20.2}
    big = make_hotspot(office, name="SMA Negeri 1 Medan", lat=3.58, lon=98.68)
    n = 0
    for day in range(5):
        for t, team in enumerate(teams):
            route = make_route(plan, team, plan.start_date + timedelta(days=day))
            route.distance_m = 40_053 + 1_000 * n
            for k in range(3):
                n += 1
                hs = make_hotspot(
                    office,
                    lat=3.55 + 0.004 * ((n * 7) % 17),
                    lon=98.64 + 0.005 * ((n * 5) % 13),
                    demand={"ktp_record": 160},
                )
                make_stop(route, hs, persons={"ktp_record": 150 + k, "kia": 10})
            if day == 0 and t < 2:  # the split site: two teams, same school, same minute
                start = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
                make_stop(route, big, start_at=start, persons={"ktp_record": 200})
    make_hotspot(office, name="Desa Jauh", lat=FAR[0], lon=FAR[1])
    make_user(Role.COORDINATOR, username="koordinator", office_id=office.id)
    # A small plan solved by the real solver (publishable: it passes the checker).
    sites = [
        {"name": f"SMK Uji {i + 1}", "lat": 3.59 + 0.004 * i, "lon": 98.66 + 0.003 * i}
        for i in range(4)
    ]
    tiny, _ = make_real_solved_plan(office, teams[:2], sites, seconds=1, name="Rencana kecil")
    return {"plan": plan.id, "tiny": tiny.id, "routes": 15}


@pytest.fixture
def site(tmp_path) -> Iterator[tuple[str, dict]]:
    """The review data (see ``seed``) served with the thread job backend and an upload folder."""
    overrides = {"JOB_BACKEND": "thread", "IMPORT_UPLOAD_DIR": str(tmp_path / "up")}
    with live_site(tmp_path / "review.sqlite3", seed, **overrides) as (base, _, ids):
        yield base, ids


GEOMETRY = """() => {
    const map = document.querySelector('.leaflet-container').getBoundingClientRect();
    const legend = document.getElementById('plan-legend').getBoundingClientRect();
    const stops = [...document.querySelectorAll('.leaflet-marker-pane .jb-pin')]
        .filter(p => p.textContent.trim() !== '');
    const inside = (r) => r.left >= map.left && r.right <= map.right
        && r.top >= map.top && r.bottom <= map.bottom;
    const overlaps = (a, b) => !(a.right <= b.left || a.left >= b.right
        || a.bottom <= b.top || a.top >= b.bottom);
    return {
        stops: stops.length,
        outside: stops.filter(p => !inside(p.getBoundingClientRect())).map(p => p.textContent),
        legendOverMap: overlaps(map, legend),
        legendRight: legend.left >= map.right, legendBelow: legend.top >= map.bottom,
        // how much of the map the planned stops fill: framed to them, not to far sites
        spread: (() => {
            const rs = stops.map(p => p.getBoundingClientRect());
            const w = Math.max(...rs.map(r => r.right)) - Math.min(...rs.map(r => r.left));
            const h = Math.max(...rs.map(r => r.bottom)) - Math.min(...rs.map(r => r.top));
            return Math.max(w / map.width, h / map.height);
        })()
    };
}"""


def open_review(browser, base: str, ids: dict, viewport: dict):
    context, page, errors = open_page(browser, viewport, locale="id-ID")
    log_in(page, base, "koordinator")
    page.goto(f"{base}/coord/plans/{ids['plan']}?lang=id")
    page.wait_for_selector(".leaflet-marker-pane .jb-pin")
    page.wait_for_timeout(300)
    return context, page, errors


def test_review_at_a_glance_on_a_tablet(site, browser):
    """Framed map, legend by day beside (below) the map and foldable, sentence, Indonesian
    numbers, split site; at 820×1180."""
    base, ids = site
    context, page, errors = open_review(browser, base, ids, TABLET)
    geo = page.evaluate(GEOMETRY)
    # 45 stops plus the split visit's two pins (some pins share a site: count >= stops)
    assert geo["stops"] >= 47, geo
    assert geo["outside"] == [], geo
    assert geo["spread"] > 0.5, geo  # the far unplanned site does not widen the frame
    assert not geo["legendOverMap"] and geo["legendBelow"], geo
    legend = page.locator("#plan-legend")
    assert legend.locator(".legend-day h3").count() == 5
    assert legend.locator("li").count() == ids["routes"]
    page.locator("#plan-map").scroll_into_view_if_needed()
    page.screenshot(path=SHOT.format("tablet-map"))
    legend.scroll_into_view_if_needed()
    page.screenshot(path=SHOT.format("tablet-legend"))
    # the legend folds away and opens again
    legend.locator("summary").click()
    assert legend.get_attribute("open") is None
    assert not legend.locator("li").first.is_visible()
    legend.locator("summary").click()
    assert legend.get_attribute("open") is not None

    sentence = page.inner_text("#solver-status")
    assert sentence and "ROUTING" not in sentence and "_" not in sentence
    assert "20" in sentence
    # Indonesian numbers: 45×(150..152 + 10) + 2×200 residents, 15 routes of 40,053 km and up
    served = sum(150 + k + 10 for k in range(3)) * 15 + 400
    assert page.inner_text("#kpi-served") == f"{served:,}".replace(",", ".")
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*,\d", page.inner_text("#kpi-km"))
    assert page.inner_text("#kpi-cards") == "0"
    assert "4.000" in page.inner_text(".kpis")
    # the split site: both teams' rows say it is one visit, and why
    notes = page.locator(".split-note").all_inner_texts()
    assert len(notes) == 2 and all(
        "Tim Kota Medan + Tim Area Medan" in n or "Tim Area Medan + Tim Kota Medan" in n
        for n in notes
    )
    page.locator(".split-note").first.scroll_into_view_if_needed()
    page.screenshot(path=SHOT.format("tablet-split"))
    sheet = page.locator("article.route", has=page.locator(".split-note")).first
    sheet.locator("a[href$='/sheet']").first.click()
    page.wait_for_selector(".day-sheet")
    assert "Tim Area Medan" in page.inner_text(".day-sheet .split-note")
    assert "Istirahat 12:00–13:00" in page.inner_text(".day-sheet header")
    page.screenshot(path=SHOT.format("tablet-day-sheet"))
    page.goto(f"{base}/coord/plans/{ids['plan']}?lang=en")
    page.wait_for_selector(".leaflet-marker-pane .jb-pin")
    assert "Istirahat" not in page.inner_text("main")
    assert page.inner_text("#solver-status") == (
        "Best plan found in 20 s; a longer run may shorten the routes."
    )
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d", page.inner_text("#kpi-km"))
    page.screenshot(path=SHOT.format("tablet-top-en"))
    assert errors == []
    context.close()


def test_review_legend_beside_the_map_on_a_desktop(site, browser):
    """On a desktop the legend is a column to the right of the map; every stop is in view."""
    base, ids = site
    context, page, errors = open_review(browser, base, ids, DESKTOP)
    geo = page.evaluate(GEOMETRY)
    assert geo["outside"] == [] and geo["stops"] >= 47, geo
    assert geo["legendRight"] and not geo["legendOverMap"], geo
    page.locator("#plan-map").scroll_into_view_if_needed()
    page.screenshot(path=SHOT.format("desktop-map"))
    assert errors == []
    context.close()


def test_publish_asks_for_confirmation_and_lands_in_view(site, browser):
    """Publish → the confirmation page lists what changes → confirm → the review page with
    the confirmation visible in the viewport."""
    base, ids = site
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    log_in(page, base, "koordinator")
    page.goto(f"{base}/coord/plans/{ids['tiny']}")
    page.click("#publish-submit")
    page.wait_for_url(re.compile(r"/publish$"))
    assert page.locator("#publish-summary").is_visible()
    assert page.locator("#public-visits").is_visible()
    page.screenshot(path=SHOT.format("tablet-publish-confirm"), full_page=True)
    page.click("#publish-confirm")
    page.wait_for_selector("#publish-done")
    page.wait_for_timeout(400)
    box = page.locator("#publish-done").bounding_box()
    height = page.evaluate("window.innerHeight")
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= height, box
    assert page.locator("#published-version").inner_text() == "1"
    page.screenshot(path=SHOT.format("tablet-published"))
    context.close()


def test_import_preview_fits_a_tablet(site, browser):
    """At 820×1180 the rows table fits (or its box scrolls); service counts are numbers in
    their own columns, on one line, never pills."""
    base, _ids = site
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    log_in(page, base, "koordinator")
    page.goto(f"{base}/coord/imports?lang=id")
    page.set_input_files(
        "input[type=file]",
        files=[{"name": "titik.csv", "mimeType": "text/csv", "buffer": IMPORT_CSV}],
    )
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    page.wait_for_url(re.compile(r"/coord/imports/[^/]+$"))
    page.locator("#rows").scroll_into_view_if_needed()
    page.screenshot(path=SHOT.format("tablet-import"), full_page=True)
    table = page.evaluate(
        """() => {
            const box = document.getElementById('rows-scroll');
            const cells = [...box.querySelectorAll('td[data-service]')];
            // line boxes of each count's text (a wrapped pill or number has two or more)
            const lines = cells.map(c => {
                const range = document.createRange();
                range.selectNodeContents(c);
                return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
            });
            return {
                fits: box.scrollWidth <= box.clientWidth,
                scrolls: getComputedStyle(box).overflowX === 'auto',
                page: document.documentElement.scrollWidth <= window.innerWidth,
                pills: box.querySelectorAll('td[data-service] .badge').length,
                cells: cells.length,
                maxLines: Math.max(...lines),
                first: cells.slice(0, 4).map(c => c.textContent.trim()),
            };
        }"""
    )
    assert table["page"], table  # the page itself never scrolls sideways
    assert table["fits"] or table["scrolls"], table
    assert table["fits"], table  # at 820 px it actually fits
    assert table["pills"] == 0 and table["cells"] == 8 * 4, table
    assert table["maxLines"] == 1, table  # one line per count
    assert table["first"] == ["1.201", "10", "1", "1"], table
    context.close()
