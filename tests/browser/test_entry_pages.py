"""The entry pages in a real browser (Playwright + Debian Chromium), under the real CSP.

The dashboard map must load from our vendored assets with no script error and no CSP violation;
a hostile hotspot name must show as text in the popup and run nothing; no page may scroll
sideways on a 390 px phone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from outreach.models import Role
from tests.browser.conftest import PHONE, TABLET, live_site, log_in, open_page
from tests.factories import make_hotspot, make_office, make_team, make_user

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="globalThis.pwn=1"> ${globalThis.pwn=2} ` </script>'


def seed() -> None:
    office = make_office(name="Dinas Dukcapil Kota Medan")
    make_hotspot(office, name=HOSTILE, lat=3.60, lon=98.70)
    make_user(Role.COORDINATOR, username="koordinator", office_id=office.id)
    make_user(Role.FIELD, username="petugas", team=make_team(office, name="Tim Uji"))


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[str]:
    """The app on 127.0.0.1 with a hostile site, CSRF on, no tiles (no internet here)."""
    with live_site(tmp_path_factory.mktemp("entry") / "entry.sqlite3", seed) as (base, _, _):
        yield base


def test_dashboard_map_loads_and_hostile_name_stays_text(live_server, browser):
    """The map renders under the CSP; the hostile name shows literally and sets no global."""
    context, page, problems = open_page(browser, TABLET, console=True)
    log_in(page, live_server, "koordinator")
    page.goto(live_server + "/coord/")
    page.wait_for_selector(".leaflet-container .jb-pin--dot")
    page.click(".jb-pin--dot")
    popup = page.wait_for_selector(".leaflet-popup-content")
    assert HOSTILE in popup.inner_text()
    assert popup.query_selector("img") is None
    page.hover(".jb-pin--dot")
    page.wait_for_selector(".leaflet-tooltip")
    assert page.evaluate("globalThis.pwn === undefined")
    assert page.evaluate("document.querySelectorAll('.jb-legend li').length") >= 2
    assert problems == []
    context.close()


@pytest.mark.parametrize(
    ("user", "path"), [(None, "/"), ("koordinator", "/coord/"), ("petugas", "/field/")]
)
def test_entry_pages_fit_a_phone_without_errors(live_server, browser, user, path):
    """At 390 px no entry page scrolls sideways, and none logs a script or CSP error."""
    context, page, problems = open_page(browser, PHONE, console=True)
    if user:
        log_in(page, live_server, user)
    page.goto(live_server + path)
    page.wait_for_load_state("networkidle")
    if path == "/coord/":
        page.wait_for_selector(".leaflet-container .jb-pin")
    width = page.evaluate("document.documentElement.scrollWidth")
    # On failure, name the elements that stick out so the fix is obvious.
    wide = page.evaluate(
        """(limit) => Array.from(document.querySelectorAll('body *'))
            .filter((el) => el.getBoundingClientRect().right > limit + 1)
            .slice(0, 5)
            .map((el) => el.tagName + '.' + el.className)""",
        PHONE["width"],
    )
    assert width <= PHONE["width"], f"{path} is {width}px wide: {wide}"
    assert problems == []
    context.close()


def test_logout_button_ends_the_session(live_server, browser):
    """The top bar's logout form (POST with CSRF token) logs the user out."""
    context, page, problems = open_page(browser, TABLET, console=True)
    log_in(page, live_server, "koordinator")
    page.goto(live_server + "/coord/")
    page.click("form.logout button")
    page.wait_for_load_state("networkidle")
    page.goto(live_server + "/coord/")
    assert "/login" in page.url
    assert problems == []
    context.close()
