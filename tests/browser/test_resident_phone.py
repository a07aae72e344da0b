"""A resident on a phone (390×844, Playwright + Debian Chromium), without an account.

Find the next service near the phone's location ("Terdekat dari saya", computed on the page) →
open that stop → download its calendar file and parse it with icalendar → ask for a home visit
→ check the request's status with the code. Every page: no sideways scrolling, no script
errors, and no serious or critical axe-core accessibility violation. Screenshots go to
/tmp/resident-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from outreach.extensions import db
from outreach.models import HotspotKind, VisitRequest
from tests.browser.conftest import PHONE, live_site, open_page
from tests.factories import make_hotspot, make_team
from tests.public.conftest import make_medan_office, publish_plan, today_wib

pytestmark = pytest.mark.browser

# The phone stands next to Pasar Petisah; the two schools are 3 km and 6 km away.
HERE = {"latitude": 3.5905, "longitude": 98.6650, "accuracy": 30}


def seed() -> None:
    office = make_medan_office()
    team = make_team(office)
    far = make_hotspot(office, name="SMA Negeri 2 Medan", lat=3.5400, lon=98.6900)
    mid = make_hotspot(office, name="SMK Negeri 7 Medan", lat=3.5650, lon=98.6650)
    near = make_hotspot(
        office,
        name="Pasar Petisah",
        kind=HotspotKind.MARKET,
        address="Jl. Kota Baru III",
        kecamatan_code="12.71.19",
        kecamatan_name="Medan Petisah",
        kelurahan_code="12.71.19.1001",
        kelurahan_name="Petisah Tengah",
        lat=3.5912,
        lon=98.6655,
    )
    today = today_wib()
    # The nearest site is not the soonest: "near me" must reorder the day-by-day list.
    publish_plan(
        office,
        today,
        [
            (team, today + timedelta(days=1), [(far, "08:00", 120)]),
            (team, today + timedelta(days=2), [(mid, "08:00", 60)]),
            (team, today + timedelta(days=3), [(near, "09:00", 180)]),
        ],
    )


@pytest.fixture
def live_server(tmp_path) -> Iterator[tuple[str, object]]:
    with live_site(tmp_path / "public.sqlite3", seed) as (base, app, _):
        yield base, app


def check_page(page, errors: list[str], name: str) -> None:
    """No sideways scrolling, no script errors, no serious axe violations; a screenshot."""
    from axe_playwright_python.sync_playwright import Axe

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: the page scrolls sideways ({width} px)"
    assert errors == [], f"{name}: {errors}"
    results = Axe().run(page)
    serious = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}× e.g. {v['nodes'][0]['target']})"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{name}: accessibility violations: {serious}"
    page.screenshot(path=f"/tmp/resident-{name}.png", full_page=True)


def test_resident_finds_a_stop_adds_it_to_the_calendar_and_asks_for_a_home_visit(
    live_server, browser, tmp_path
):
    base, app = live_server
    context, page, errors = open_page(
        browser,
        PHONE,
        geolocation=HERE,
        permissions=["geolocation"],
        locale="id-ID",
        accept_downloads=True,
    )

    # 1. The schedule, then "near me": the nearest site comes first, with its distance.
    page.goto(base + "/")
    first_by_day = page.locator("#by-day .visit-name").first.inner_text()
    assert first_by_day == "SMA Negeri 2 Medan"
    page.get_by_role("button", name="Terdekat dari saya").click()
    nearest = page.locator("#near-results .visit").first
    nearest.wait_for()
    assert nearest.locator(".visit-name").inner_text() == "Pasar Petisah"
    assert re.fullmatch(r"0,\d km", nearest.locator(".visit-dist").inner_text())
    check_page(page, errors, "schedule-near-me")

    # 2. Open the stop.
    nearest.locator("a").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Pasar Petisah"
    assert page.get_by_text("09:00–12:00").is_visible()
    check_page(page, errors, "stop")

    # 3. Its calendar file.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Tambahkan ke kalender").click()
    path = tmp_path / "stop.ics"
    download_info.value.save_as(path)
    (event,) = Calendar.from_ical(path.read_bytes()).walk("VEVENT")
    assert "Pasar Petisah" in str(event["summary"])
    start = event.decoded("dtstart")
    assert (start.date(), start.hour) == (today_wib() + timedelta(days=3), 9)
    assert start.utcoffset() == timedelta(hours=7)
    whatsapp = page.get_by_role("link", name="Bagikan lewat WhatsApp").get_attribute("href")
    assert whatsapp.startswith("https://wa.me/?text=") and "%2Fstop%2F" in whatsapp

    # 4. Ask for a home visit (the form works without the location).
    page.goto(base + "/o/kota-medan/home-visit")
    check_page(page, errors, "home-visit-form")
    page.fill("input[name=requester_name]", "Siti Aminah")
    page.select_option("select[name=requester_relation]", "family")
    page.fill("input[name=phone]", "0812 3456 7890")
    page.fill("input[name=person_name]", "Ibu Rahmah")
    page.check("input[name=reason][value=bedridden]")
    page.fill("input[name=persons]", "1")
    page.select_option("select[name=kelurahan]", "12.71.19.1001")
    page.fill("textarea[name=address]", "Jl. Kota Baru III No. 12, dekat masjid")
    page.check("input[name=consent]")
    page.locator("form.hv-form [type=submit]").click()
    page.wait_for_load_state()
    code = re.search(r"JB(?:-[0-9A-Z]{5}){4}-[0-9A-Z]{6}", page.content()).group(0)
    check_page(page, errors, "home-visit-done")
    with app.app_context():
        req = db.session.scalars(sa.select(VisitRequest)).one()
        assert (req.person_name, req.kelurahan_code, req.consent_version) == (
            "Ibu Rahmah",
            "12.71.19.1001",
            req.consent_version or "missing",
        )
        assert req.consent_version and req.consent_at is not None
        db.session.remove()

    # 5. Check the status with the code, typed in lower case with spaces.
    page.goto(base + "/request-status")
    page.fill("input[name=code]", code.lower().replace("-", " "))
    page.locator("form [type=submit]").last.click()
    page.wait_for_load_state()
    body = page.locator("main").inner_text()
    assert "Diterima" in body
    for secret in ("Siti Aminah", "Ibu Rahmah", "0812", "Kota Baru III No. 12"):
        assert secret not in body
    check_page(page, errors, "request-status")
    context.close()


def test_map_page_shows_the_stops_without_jquery_or_errors(live_server, browser):
    base, _app = live_server
    context, page, errors = open_page(browser, PHONE, locale="id-ID")
    page.goto(base + "/o/kota-medan/map")
    page.wait_for_selector(".leaflet-container")
    page.wait_for_function("document.querySelectorAll('.jb-pin, .marker-cluster').length > 0")
    assert page.evaluate("typeof window.jQuery") == "undefined"
    check_page(page, errors, "map")
    context.close()


def test_keyboard_alone_reaches_the_nearest_stop(live_server, browser):
    """Skip link first; "near me" and the nearest stop's page are reachable by Tab and Enter."""
    base, _app = live_server
    context = browser.new_context(
        viewport=PHONE, geolocation=HERE, permissions=["geolocation"], locale="id-ID"
    )
    page = context.new_page()
    page.goto(base + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "near-me":
            break
    else:
        pytest.fail("the near-me button is not reachable with Tab")
    page.keyboard.press("Enter")
    page.locator("#near-results .visit").first.wait_for()
    # Focus moved to the results' heading: the next Tab is the nearest stop's link.
    assert page.evaluate("document.activeElement.id") == "near-results-title"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/stop/*")
    assert page.get_by_role("heading", level=1).inner_text() == "Pasar Petisah"
    context.close()
