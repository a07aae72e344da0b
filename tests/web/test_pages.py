"""Entry pages: coordinator dashboard, field team page, public home; layout and language."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from outreach.extensions import db
from outreach.models import (
    HotspotKind,
    Plan,
    PlannedRoute,
    PlannedStop,
    PlanStatus,
    Role,
    StopStatus,
    VisitRequest,
)
from outreach.plans.service import snapshot_of
from outreach.public.schedule import sync_publication
from outreach.roles import PUBLIC_ATTR
from tests.factories import (
    PASSWORD,
    WIB,
    form_login,
    make_hotspot,
    make_office,
    make_team,
    make_user,
    today_wib,
)

SENTINELS = ("ZZNAMEZZ", "+6281200000000", "1271010101900001", "ZZADDRZZ")


def publish_route(team, day: date, hotspots, *, status=PlanStatus.PUBLISHED, cancelled=()):
    """Create a plan with one route of ``team`` on ``day`` visiting ``hotspots`` in order."""
    plan = Plan(
        office_id=team.office_id, name="Rencana uji", status=status, start_date=day, end_date=day
    )
    if status == PlanStatus.PUBLISHED:
        plan.published_at = datetime.now(UTC)
        plan.published_version = 1
    route = PlannedRoute(team=team, day=day)
    plan.routes.append(route)
    for position, hs in enumerate(hotspots):
        # Instants are stored in UTC (SQLite would drop a non-UTC offset silently).
        local = datetime.combine(day, datetime.min.time(), WIB) + timedelta(hours=8 + position)
        start = local.astimezone(UTC)
        route.stops.append(
            PlannedStop(
                hotspot=hs,
                position=position,
                arrival_at=start,
                start_at=start,
                end_at=start + timedelta(minutes=45),
                persons={"ktp_record": 10 + position},
                status=StopStatus.CANCELLED if hs in cancelled else StopStatus.PLANNED,
            )
        )
    db.session.add(plan)
    db.session.flush()
    if status == PlanStatus.PUBLISHED:  # what publish() writes for residents
        sync_publication(plan, snapshot_of(plan))
        db.session.flush()
    return plan


# --- public home -----------------------------------------------------------------------------


def test_public_home_is_indonesian_by_default(client, app):
    """Anonymous visitors get Bahasa Indonesia first, with html lang="id"."""
    make_office()
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="id">' in html
    assert "Jemput Bola: layanan KTP-el datang kepada Anda" in html
    assert "Yang perlu dibawa" in html


def test_public_home_switches_to_english(client, app):
    """?lang=en shows English and the choice sticks for the next page."""
    make_office()
    db.session.commit()
    html = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Jemput Bola: the e-ID service comes to you" in html
    assert "What to bring" in client.get("/").get_data(as_text=True)


def test_public_home_lists_official_complaint_channels(client, app):
    """The national complaint channels from the product brief are on the public page."""
    make_office(complaint_channels={"instagram": "@dukcapilmedan"})
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    for channel in (
        "1500537",
        "08118005373",
        "callcenter@dukcapil.kemendagri.go.id",
        "@ccdukcapil",
        "lapor.go.id",
        "@dukcapilmedan",
    ):
        assert channel in html
    assert 'href="tel:1500537"' in html
    assert 'href="https://wa.me/628118005373"' in html


def test_public_home_shows_published_days_by_kelurahan(client, app):
    """Published stops appear per day and kelurahan with the local time window."""
    team = make_team()
    school = make_hotspot(team.office, name="SMA Negeri 1 Medan", kelurahan_name="Pasar Baru")
    publish_route(team, today_wib() + timedelta(days=1), [school])
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "SMA Negeri 1 Medan" in html
    assert "Kel. Pasar Baru" in html
    assert "08:00–08:45" in html


def test_public_home_hides_draft_cancelled_and_past_stops(client, app):
    """Only published, not cancelled, not past stops are announced."""
    team = make_team()
    draft = make_hotspot(team.office, name="Sekolah Draf")
    cancelled = make_hotspot(team.office, name="Sekolah Batal")
    past = make_hotspot(team.office, name="Sekolah Lalu")
    kept = make_hotspot(team.office, name="Sekolah Tetap")
    day = today_wib() + timedelta(days=2)
    publish_route(team, day, [draft], status=PlanStatus.DRAFT)
    publish_route(make_team(team.office), day, [cancelled, kept], cancelled=(cancelled,))
    publish_route(make_team(team.office), today_wib() - timedelta(days=1), [past])
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "Sekolah Tetap" in html
    for hidden in ("Sekolah Draf", "Sekolah Batal", "Sekolah Lalu"):
        assert hidden not in html


def test_public_home_counts_home_visits_without_naming_them(client, app):
    """Home visits show only as "Layanan rumah" counts per kelurahan, never a name or address."""
    team = make_team()
    homes = [
        make_hotspot(
            team.office,
            name=f"Rumah ZZNAMEZZ {i}",
            address="Jl. ZZADDRZZ No. 1",
            kind=HotspotKind.HOME,
            demand={"ktp_record": 1},
        )
        for i in range(2)
    ]
    publish_route(team, today_wib() + timedelta(days=1), homes)
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "Layanan rumah (kunjungan rumah)" in html and ": 2 rumah tangga" in html
    assert "ZZNAMEZZ" not in html and "ZZADDRZZ" not in html


def test_public_home_filters_by_kecamatan(client, app):
    """?kecamatan= limits the schedule to one kecamatan."""
    team = make_team()
    a = make_hotspot(team.office, name="Sekolah Kota", kecamatan_code="12.71.01")
    b = make_hotspot(
        team.office, name="Sekolah Sunggal", kecamatan_code="12.71.02", kecamatan_name="Sunggal"
    )
    publish_route(team, today_wib() + timedelta(days=1), [a, b])
    db.session.commit()
    html = client.get("/?kecamatan=12.71.02").get_data(as_text=True)
    assert "Sekolah Sunggal" in html and "Sekolah Kota" not in html


def _public_get_routes(app) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        is_public = rule.endpoint.startswith("public.") or getattr(view, PUBLIC_ATTR, False)
        if is_public:
            paths.append(rule.rule)
    return paths


def test_public_pages_never_show_personal_data(client, app):
    """Crawl every public GET route (id and en): sentinel PII of a request never appears."""
    team = make_team()
    home = make_hotspot(
        team.office,
        name="Rumah ZZNAMEZZ",
        address="Jl. ZZADDRZZ, HP +6281200000000",
        notes="NIK 1271010101900001",
        kind=HotspotKind.HOME,
        demand={"ktp_record": 1},
    )
    db.session.add(
        VisitRequest(
            office_id=team.office_id,
            token_hash="0" * 64,
            requester_name="ZZNAMEZZ",
            phone="+6281200000000",
            address="Jl. ZZADDRZZ No. 7",
            notes="NIK 1271010101900001",
            consent_at=datetime.now(UTC),
            hotspot_id=home.id,
        )
    )
    publish_route(team, today_wib(), [home, make_hotspot(team.office, name="SMA Terbuka")])
    db.session.commit()
    paths = _public_get_routes(app)
    assert "/" in paths
    for path in paths:
        for query in ("", "?lang=en"):
            resp = client.get(path + query)
            body = resp.get_data(as_text=True)
            for sentinel in SENTINELS:
                assert sentinel not in body, f"{sentinel} leaked on {path}{query}"


# --- coordinator dashboard -------------------------------------------------------------------


def test_dashboard_needs_a_coordinator(client, app):
    """Anonymous users are sent to login; field members are refused."""
    make_user(Role.FIELD, username="petugas")
    db.session.commit()
    assert client.get("/coord/").status_code in (302, 401)
    form_login(client, "petugas")
    assert client.get("/coord/").status_code == 403


def test_dashboard_sums_remaining_per_kecamatan_sorted(client, app):
    """Rows are kecamatan sorted by remaining residents; done sites do not count."""
    office = make_office()
    make_hotspot(
        office,
        kecamatan_code="12.71.01",
        kecamatan_name="Medan Kota",
        demand={"ktp_record": 30, "kia": 5},
    )
    make_hotspot(
        office,
        kecamatan_code="12.71.02",
        kecamatan_name="Medan Sunggal",
        demand={"ktp_record": 300},
    )
    make_hotspot(office, kecamatan_code="12.71.02", kecamatan_name="Medan Sunggal",
                 demand={"ktp_record": 1000}, status="done")  # fmt: skip
    make_user(Role.COORDINATOR, username="koordinator", office_id=office.id)
    db.session.commit()
    form_login(client, "koordinator")
    html = client.get("/coord/").get_data(as_text=True)
    assert "Sisa penduduk per kecamatan" in html
    assert html.index("Medan Sunggal") < html.index("Medan Kota")
    table = html[html.index("<table") : html.index("</table>")]
    assert "1.000" not in table and "1335" not in table
    assert re.search(r"Semua kecamatan</th>\s*<td[^>]*>2</td>", table)
    assert "335" in table  # the grand total of open sites


def test_dashboard_map_and_table_follow_each_edit_of_a_site(client, app):
    """The dashboard reads its sites as columns and renders its map once per distinct content:
    a renamed, re-counted, moved, re-kinded or closed site shows on the next visit."""
    office = make_office()
    site = make_hotspot(
        office,
        name="SMA Satu Ceria",
        kecamatan_code="12.71.05",
        kecamatan_name="Medan Baru",
        demand={"ktp_record": 30, "kia": 4},
    )
    other = make_hotspot(office, name="Pasar Dua Ceria", demand={"ktp_record": 5})
    make_user(Role.COORDINATOR, username="koordinator", office_id=office.id)
    db.session.commit()
    form_login(client, "koordinator")
    html = client.get("/coord/?lang=en").get_data(as_text=True)
    assert "SMA Satu Ceria \\u2013 34 remaining" in html and "Pasar Dua Ceria" in html
    assert "#dc2626" not in html  # no hospital pin or legend entry
    assert re.search(r"Medan Baru</span>.*?<td class=\"num strong\">34</td>", html, re.S)

    site.name = "SMA Tiga Ceria"
    site.demand_of("ktp_record").remaining = 12
    site.kind = HotspotKind.HOSPITAL
    site.lat = 3.6123
    other.status = "archived"
    db.session.commit()
    html = client.get("/coord/?lang=en").get_data(as_text=True)
    assert "SMA Tiga Ceria \\u2013 16 remaining" in html
    assert "12 of 30 remaining" in html  # the popup's demand row
    assert "SMA Satu Ceria" not in html and "Pasar Dua Ceria" not in html
    assert "#dc2626" in html and "3.6123" in html
    assert re.search(r"Medan Baru</span>.*?<td class=\"num strong\">16</td>", html, re.S)
    assert re.search(r"All kecamatan</th>\s*<td[^>]*>1</td>", html)


def test_dashboard_in_english(client, app):
    """The dashboard switches to English with ?lang=en."""
    make_user(Role.COORDINATOR, username="koordinator", office_id=make_office().id)
    db.session.commit()
    form_login(client, "koordinator")
    html = client.get("/coord/?lang=en").get_data(as_text=True)
    assert "Remaining residents per kecamatan" in html
    assert "Outreach dashboard" in html


def test_dashboard_without_office_explains_what_to_do(client, app):
    """With no office yet the dashboard tells how to create the demo."""
    make_user(Role.ADMIN, username="admin")
    db.session.commit()
    form_login(client, "admin")
    html = client.get("/coord/").get_data(as_text=True)
    assert "flask seed-demo" in html


def test_layout_has_logout_form_with_csrf_token(client, app):
    """The top bar logs out with a POST form carrying a CSRF token, never a GET link."""
    app.config["WTF_CSRF_ENABLED"] = True  # read per request by Flask-WTF
    make_user(Role.COORDINATOR, username="koordinator", office_id=make_office().id)
    db.session.commit()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post(
        "/login", data={"username": "koordinator", "password": PASSWORD, "csrf_token": token}
    )
    html = client.get("/coord/").get_data(as_text=True)
    form = re.search(
        r'<form class="logout" method="post" action="/logout">(.*?)</form>', html, re.S
    )
    assert form is not None
    assert re.search(r'name="csrf_token" value="[^"]{20,}"', form.group(1))
    assert 'href="/logout"' not in html


def test_language_switch_keeps_other_query_parameters(client, app):
    """The EN/ID links point at the same page with the other parameters kept."""
    html = client.get("/?kecamatan=12.71.02").get_data(as_text=True)
    assert 'href="?kecamatan=12.71.02&amp;lang=en"' in html


def test_language_switch_never_echoes_the_path(client, app):
    """On a 404 for "//evil.example/" the language links stay on this site (no path echo)."""
    resp = client.get("/", environ_overrides={"PATH_INFO": "//evil.example/x"})
    assert resp.status_code == 404
    html = resp.get_data(as_text=True)
    assert "lang=en" in html
    assert "evil.example" not in html


# --- field team page -------------------------------------------------------------------------


def test_field_page_shows_todays_published_stops_in_order(client, app):
    """A field member sees the team, today's date and today's published stops in order."""
    team = make_team(name="Tim Uji Lapangan")
    first = make_hotspot(team.office, name="SMA Pertama", address="Jl. Merdeka 1")
    second = make_hotspot(team.office, name="Kantor Lurah Kedua")
    publish_route(team, today_wib(), [first, second])
    publish_route(
        team,
        today_wib() + timedelta(days=1),
        [make_hotspot(team.office, name="SD Hari Berikutnya")],
    )
    make_user(Role.FIELD, username="petugas", team=team)
    db.session.commit()
    form_login(client, "petugas")
    html = client.get("/field/").get_data(as_text=True)
    assert "Tim Uji Lapangan" in html
    assert today_wib().isoformat() in html
    assert html.index("SMA Pertama") < html.index("Kantor Lurah Kedua")
    assert "08:00–08:45" in html and "09:00–09:45" in html
    assert "SD Hari Berikutnya" not in html  # tomorrow's stop is one tap away, not here
    assert "Jl. Merdeka 1" in html
    assert "google.com/maps/dir/?api=1&amp;destination=" in html


def test_field_page_ignores_draft_plans(client, app):
    """Stops of an unpublished plan do not reach the field page; the empty state shows."""
    team = make_team()
    publish_route(team, today_wib(), [make_hotspot(team.office, name="Draf")], status="draft")
    make_user(Role.FIELD, username="petugas", team=team)
    db.session.commit()
    form_login(client, "petugas")
    html = client.get("/field/").get_data(as_text=True)
    assert "Draf" not in html
    assert "Tidak ada kunjungan hari ini" in html


def test_field_page_shows_only_the_members_team(client, app):
    """Another team's route of today is not shown to this member."""
    mine, other = make_team(), make_team()
    publish_route(other, today_wib(), [make_hotspot(other.office, name="Rute Tim Lain")])
    make_user(Role.FIELD, username="petugas", team=mine)
    db.session.commit()
    form_login(client, "petugas")
    assert "Rute Tim Lain" not in client.get("/field/").get_data(as_text=True)


def test_field_page_for_a_coordinator_without_team(client, app):
    """A coordinator may open the field page and is told there is no team route."""
    make_user(Role.COORDINATOR, username="koordinator")
    db.session.commit()
    form_login(client, "koordinator")
    html = client.get("/field/?lang=en").get_data(as_text=True)
    assert "not a member of a field team" in html


@pytest.mark.parametrize("path", ["/", "/coord/", "/field/"])
def test_entry_pages_have_one_h1_and_main_landmark(client, app, path):
    """Each entry page has a main landmark and exactly one h1 (screen readers, print)."""
    make_office()
    make_user(Role.ADMIN, username="admin")
    db.session.commit()
    form_login(client, "admin")
    html = client.get(path).get_data(as_text=True)
    assert html.count("<h1") == 1
    assert '<main id="main"' in html
