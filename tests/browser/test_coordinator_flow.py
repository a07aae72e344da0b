"""The coordinator's whole day in a real browser (Playwright + Debian Chromium).

Import a spreadsheet with broken rows → fix the file and import again → plan with a tiny time
limit → review on the map → move a stop → re-optimise → publish → download the CSV.

The app runs in a background thread (werkzeug ``make_server``) on 127.0.0.1 with a temporary
SQLite file, CSRF on and map tiles off. Screenshots at tablet (820×1180) and phone (390×844)
sizes go to the git-ignored ``screenshots/`` folder.
"""

from __future__ import annotations

import csv
import os
import re
import time
from collections.abc import Iterator

import pytest

from outreach import ROOT
from outreach.extensions import db
from outreach.models import Plan, PlanStatus, Role, VehicleKind
from tests.browser.conftest import PHONE, TABLET, live_site, log_in, open_page
from tests.factories import make_office, make_team, make_user

pytestmark = pytest.mark.browser

SHOTS = os.path.join(ROOT, "screenshots")
HEADERS = "kode,nama,jenis,alamat,kecamatan,kelurahan,kode_kelurahan,lintang,bujur,ktp_el,prioritas"
GOOD_ROWS = [
    "E2E-1,SMA Negeri 1 Medan,sekolah,Jl. Cut Meutia 1,Medan Kota,Pasar Baru,12.71.01.1001,"
    "3.5790,98.6850,45,2",
    "E2E-2,SMK Negeri 2 Medan,sekolah,Jl. STM 12,Medan Amplas,Harjosari I,12.71.02.1001,"
    "3.5450,98.7010,60,3",
    "E2E-3,Lapas Kelas I Medan,lapas,Jl. Lembaga Pemasyarakatan,Medan Area,Sukaramai I,"
    "12.71.03.1001,3.5720,98.7060,30,1",
    "E2E-4,Panti Werdha Binjai,panti,Jl. Binjai km 5,Medan Sunggal,Sunggal,12.71.04.1001,"
    "3.5880,98.6290,20,1",
    "E2E-5,Kantor Lurah Sei Sikambing,kantor kelurahan,Jl. Gatot Subroto,Medan Sunggal,"
    "Sei Sikambing B,12.71.04.1002,3.5900,98.6500,35,3",
]
BROKEN_ROWS = [
    # the latitude is not a number
    "E2E-6,SMA Swasta Harapan,sekolah,Jl. Imam Bonjol,Medan Polonia,Madras Hulu,12.71.05.1001,"
    "tiga koma lima,98.6700,25,2",
    # latitude and longitude swapped
    "E2E-7,RS Umum Pirngadi,rumah sakit,Jl. Prof. HM Yamin,Medan Timur,Perintis,12.71.06.1001,"
    "98.6870,3.5960,15,1",
    # no name
    "E2E-8,,sekolah,Jl. Tanpa Nama,Medan Kota,Pasar Baru,12.71.01.1001,3.5800,98.6900,10,3",
]
FIXED_ROWS = [
    "E2E-6,SMA Swasta Harapan,sekolah,Jl. Imam Bonjol,Medan Polonia,Madras Hulu,12.71.05.1001,"
    "3.5700,98.6700,25,2",
    "E2E-7,RS Umum Pirngadi,rumah sakit,Jl. Prof. HM Yamin,Medan Timur,Perintis,12.71.06.1001,"
    "3.5960,98.6870,15,1",
    "E2E-8,SD Negeri 060 Medan,sekolah,Jl. Tanpa Nama,Medan Kota,Pasar Baru,12.71.01.1001,"
    "3.5800,98.6900,10,3",
]


def csv_bytes(rows: list[str]) -> bytes:
    return ("\n".join([HEADERS, *rows]) + "\n").encode("utf-8")


def seed() -> None:
    office = make_office(name="Dinas Dukcapil Kota Medan")
    make_team(office, name="Tim Rekam A")
    make_team(office, name="Tim Rekam B", vehicle=VehicleKind.MOTORBIKE)
    make_user(Role.COORDINATOR, username="koordinator", office_id=office.id)


@pytest.fixture
def live_server(tmp_path) -> Iterator[tuple[str, object]]:
    """The app on 127.0.0.1:<free port>, a temp SQLite file, CSRF on, no map tiles."""
    overrides = {"JOB_BACKEND": "thread", "IMPORT_UPLOAD_DIR": str(tmp_path / "uploads")}
    with live_site(tmp_path / "e2e.sqlite3", seed, **overrides) as (base, app, _):
        yield base, app


def shot(page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    # From the top: sticky table headers would float mid-page in a scrolled full-page shot.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def wait_for_review(page, timeout_s: float = 40) -> int:
    """Wait until the progress page's script has gone on to the review page; return plan id."""
    page.wait_for_url(re.compile(r"/coord/plans/\d+(#.*)?$"), timeout=timeout_s * 1000)
    page.wait_for_selector(".leaflet-container")
    return int(re.search(r"/coord/plans/(\d+)", page.url).group(1))


def test_import_plan_adjust_publish_export(live_server, browser):
    """A coordinator goes from a broken spreadsheet to a published plan and a CSV export."""
    base, app = live_server
    started = time.monotonic()
    context, page, errors = open_page(
        browser, TABLET, console=True, accept_downloads=True, locale="id-ID"
    )
    page.on("dialog", lambda d: d.accept())

    # -- log in
    log_in(page, base, "koordinator")
    page.wait_for_url(re.compile(r"/coord/"))

    # -- import a file with broken rows: the preview names each problem, row by row
    page.goto(f"{base}/coord/imports")
    upload = {"name": "titik-layanan.csv", "mimeType": "text/csv"}
    page.set_input_files(
        "input[type=file]", files=[{**upload, "buffer": csv_bytes(GOOD_ROWS + BROKEN_ROWS)}]
    )
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    page.wait_for_url(re.compile(r"/coord/imports/[^/]+$"))
    shot(page, "01-import-preview-errors-tablet")
    preview = page.inner_text("main")
    for row in ("7", "8", "9"):  # header is row 1: the broken rows are rows 7–9
        assert re.search(rf"\b{row}\b", preview), f"row {row} not reported"
    # -- fix the file and import again: every row is valid now
    page.goto(f"{base}/coord/imports")
    page.set_input_files(
        "input[type=file]", files=[{**upload, "buffer": csv_bytes(GOOD_ROWS + FIXED_ROWS)}]
    )
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    page.wait_for_url(re.compile(r"/coord/imports/[^/]+$"))
    page.click("button[formaction$='/commit']")
    page.wait_for_load_state()
    with app.app_context():
        from outreach.models import Hotspot

        assert db.session.query(Hotspot).count() == 8
        db.session.remove()

    # -- plan: dates, teams (all checked), tiny time limit → progress → review
    page.goto(f"{base}/coord/plans/new")
    page.fill("input[name=start_date]", "2026-12-07")
    page.fill("input[name=end_date]", "2026-12-08")
    page.fill("input[name=time_limit_s]", "2")
    shot(page, "02-plan-form-tablet")
    page.click("#start-solve")
    page.wait_for_url(re.compile(r"/coord/jobs/"))
    page.wait_for_selector("#job-bar")
    shot(page, "03-progress-tablet")
    plan_id = wait_for_review(page)
    assert page.locator(".leaflet-control-layers").count() == 1
    # Every planned stop has a pin, inside the map and not hidden under the legend.
    hidden = page.evaluate(
        """() => {
            const box = document.querySelector('.leaflet-container').getBoundingClientRect();
            const legend = document.querySelector('.jb-legend').getBoundingClientRect();
            const pins = [...document.querySelectorAll('.leaflet-marker-pane .jb-pin')];
            const inside = (r, b) => r.left >= b.left && r.right <= b.right
                && r.top >= b.top && r.bottom <= b.bottom;
            const overlaps = (r, b) => !(r.right < b.left || r.left > b.right
                || r.bottom < b.top || r.top > b.bottom);
            return {pins: pins.length, bad: pins.filter(p => {
                const r = p.getBoundingClientRect();
                return !inside(r, box) || overlaps(r, legend);
            }).map(p => p.textContent)};
        }"""
    )
    assert hidden["pins"] >= page.locator("tr[id^=stop-]").count() > 0
    assert hidden["bad"] == [], hidden
    shot(page, "04-review-tablet")

    # -- move the first stop to the other team's first day
    first = page.locator(".js-move").first
    stop_id = first.get_attribute("data-stop-id")
    row = page.locator(f"#stop-{stop_id}")
    name = row.locator("td").nth(1).inner_text().splitlines()[0].strip()
    current_team = row.evaluate("r => r.closest('article').querySelector('h3').textContent")
    first.click()
    options = page.locator("#move-route option")
    labels = [options.nth(i).inner_text() for i in range(options.count())]
    target = next(label for label in labels if label.split(" · ")[0] not in current_team)
    page.select_option("#move-route", label=target)
    page.fill("#move-position", "1")
    page.click("#move-submit")
    page.wait_for_selector(".flash-success")
    assert "dipindahkan" in page.inner_text(".flashes")

    def stop_row(hotspot_name: str):
        """The schedule row of a hotspot and the heading of its team-day."""
        row = page.locator("tr[id^=stop-]", has_text=hotspot_name).first
        heading = row.evaluate("r => r.closest('article').querySelector('h3').textContent")
        return row, heading.strip()

    moved, heading = stop_row(name)
    assert target in heading and "locked" in (moved.get_attribute("class") or "")
    assert moved.locator("td").first.inner_text().strip() == "1"
    shot(page, "05-after-move-tablet")

    # -- re-optimise keeps the moved (locked) stop where the coordinator put it
    page.click("#reoptimise-submit")
    wait_for_review(page)
    moved, heading = stop_row(name)
    assert target in heading and "locked" in (moved.get_attribute("class") or "")

    # -- publish: a confirmation page lists what residents and teams will see, then publish
    page.click("#publish-submit")
    page.click("#publish-confirm")
    page.wait_for_selector("#changes")
    assert page.locator("#published-version").inner_text() == "1"
    with app.app_context():
        assert db.session.get(Plan, plan_id).status == PlanStatus.PUBLISHED
        db.session.remove()
    shot(page, "06-published-tablet")

    # -- change one visit and publish again: version 2 lists what moved
    row = page.locator("tr[id^=stop-]").last
    name = row.locator("td").nth(1).inner_text().splitlines()[0].strip()
    heading = row.evaluate("r => r.closest('article').querySelector('h3').textContent")
    row.locator(".js-move").click()
    labels = page.locator("#move-route option").all_inner_texts()
    page.select_option("#move-route", label=next(x for x in labels if x not in heading))
    page.click("#move-submit")
    page.wait_for_selector(".flash-success")
    page.click("#publish-submit")
    assert name in page.inner_text("#pending-moved")  # the confirmation names the moved visit
    page.click("#publish-confirm")
    page.wait_for_selector("#changes .change-moved")
    assert page.locator("#published-version").inner_text() == "2"
    assert name in page.inner_text("#changes .change-moved")
    shot(page, "06b-republished-changes-tablet")

    # -- export: download the CSV
    with page.expect_download() as info:
        page.click("#export-csv")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) >= 2 and any("SMA Negeri 1 Medan" in cell for r in rows for cell in r)

    # -- the same screens on a phone
    phone = browser.new_context(
        viewport=PHONE, storage_state=context.storage_state(), is_mobile=True, has_touch=True
    )
    mobile = phone.new_page()
    mobile.goto(f"{base}/coord/plans/{plan_id}")
    mobile.wait_for_selector(".leaflet-container")
    shot(mobile, "07-review-phone")
    mobile.goto(f"{base}/coord/plans/new")
    shot(mobile, "08-plan-form-phone")
    route_link = page.locator("a[href*='/sheet']").first.get_attribute("href")
    mobile.goto(f"{base}{route_link}")
    shot(mobile, "09-day-sheet-phone")
    mobile.goto(f"{base}/coord/plans")
    shot(mobile, "10-plans-list-phone")
    phone.close()
    context.close()

    assert not errors, errors
    assert time.monotonic() - started < 60
