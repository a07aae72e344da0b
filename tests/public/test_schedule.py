"""The public schedule: offices, filters, near, stop pages, calendars, notices, contacts."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlparse

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from outreach.extensions import db
from outreach.models import HotspotKind, PublicVisit, Role
from outreach.plans import service
from outreach.public.schedule import slugify
from tests.factories import make_hotspot, make_office, make_team, make_user
from tests.public.conftest import (
    add_route,
    make_medan_office,
    new_plan,
    publish_now,
    publish_plan,
)


@pytest.fixture
def medan(app, today):
    """Kota Medan with two schools, a market and a home visit published for tomorrow and the
    day after, in two kecamatan."""
    office = make_medan_office(whatsapp="0811-555-0100", opening_hours="Senin–Jumat 08.00–15.00")
    team = make_team(office)
    a = make_hotspot(
        office,
        name="SMA Negeri 1 Medan",
        address="Jl. Teuku Cik Ditiro No. 1",
        lat=3.5800,
        lon=98.6700,
    )
    b = make_hotspot(
        office,
        name="Pasar Sunggal",
        kind=HotspotKind.MARKET,
        kecamatan_code="12.71.02",
        kecamatan_name="Medan Sunggal",
        kelurahan_code="12.71.02.1001",
        kelurahan_name="Sunggal",
        lat=3.5870,
        lon=98.6280,
    )
    c = make_hotspot(office, name="SLB Karya Murni", lat=3.5600, lon=98.6900)
    home = make_hotspot(
        office,
        name="Rumah ZZNAMEZZ",
        address="Jl. ZZADDRZZ",
        kind=HotspotKind.HOME,
        lat=3.5811,
        lon=98.6711,
    )
    d1, d2 = today + timedelta(days=1), today + timedelta(days=2)
    plan = publish_plan(
        office,
        today,
        [
            (team, d1, [(a, "08:00", 120), (home, "11:00", 30)]),
            (team, d2, [(b, "09:00", 90, {"kia": 10}), (c, "13:00", 60)]),
        ],
    )
    return {"office": office, "team": team, "a": a, "b": b, "c": c, "home": home, "plan": plan}


def visit_of(hotspot) -> PublicVisit:
    return db.session.scalars(
        sa.select(PublicVisit)
        .where(PublicVisit.hotspot_id == hotspot.id)
        .order_by(PublicVisit.id.desc())
    ).first()


def text(resp) -> str:
    return resp.get_data(as_text=True)


# --- offices ---------------------------------------------------------------------------------


def test_slugify_makes_ascii_dashes():
    assert slugify("Dinas Dukcapil Kota Medan") == "dinas-dukcapil-kota-medan"
    assert slugify("  Kab. Deli   Serdang! ") == "kab-deli-serdang"
    assert slugify("***") == "kantor"


def test_one_office_shows_its_schedule_at_the_root(client, medan):
    html = text(client.get("/"))
    assert "SMA Negeri 1 Medan" in html and "Pasar Sunggal" in html


def test_a_province_lists_its_offices_and_each_has_its_own_schedule(client, medan, today):
    """Several offices in one database: / lists them; /o/<slug> shows only that office."""
    deli = make_office(name="Dinas Dukcapil Kab. Deli Serdang", slug="deli-serdang")
    school = make_hotspot(deli, name="SMA Negeri 1 Lubuk Pakam")
    publish_plan(
        deli, today, [(make_team(deli), today + timedelta(days=1), [(school, "08:00", 60)])]
    )

    root = text(client.get("/"))
    assert "/o/kota-medan" in root and "/o/deli-serdang" in root
    assert "SMA Negeri 1 Medan" not in root

    medan_page = text(client.get("/o/kota-medan"))
    deli_page = text(client.get("/o/deli-serdang"))
    assert "SMA Negeri 1 Medan" in medan_page and "Lubuk Pakam" not in medan_page
    assert "Lubuk Pakam" in deli_page and "SMA Negeri 1 Medan" not in deli_page
    # Each office's own contacts in its footer, never the other's.
    assert "dukcapil@medan.example.go.id" in medan_page
    assert "dukcapil@medan.example.go.id" not in deli_page
    # An office is reachable by id before it has a slug; unknown offices are 404.
    assert client.get(f"/o/{deli.id}").status_code == 200
    assert client.get("/o/no-such-office").status_code == 404
    assert client.get("/o/99999").status_code == 404


# --- the published version stays visible ---------------------------------------------------


def test_editing_a_published_plan_never_hides_or_changes_the_public_schedule(client, medan):
    """Edits make a draft beside the published version; residents see the published one until
    the coordinator publishes again."""
    plan, office, a = medan["plan"], medan["office"], medan["a"]
    extra = make_hotspot(office, name="SMK Negeri 9 Baru")
    route = plan.routes[0]
    # An edit (as the plan service does): a new stop and the plan back to a draft.
    add_route_stop = route.stops[-1]
    route.stops.append(
        type(add_route_stop)(
            hotspot=extra,
            position=len(route.stops),
            arrival_at=add_route_stop.end_at,
            start_at=add_route_stop.end_at,
            end_at=add_route_stop.end_at + timedelta(hours=1),
            persons={"ktp_record": 5},
        )
    )
    route.stops[0].start_at += timedelta(hours=1)
    route.stops[0].end_at += timedelta(hours=1)
    plan.status = "solved"
    db.session.commit()

    html = text(client.get("/o/kota-medan"))
    assert "SMA Negeri 1 Medan" in html and "08:00–10:00" in html
    assert "SMK Negeri 9 Baru" not in html
    assert "Belum ada hari layanan" not in html

    publish_now(plan)
    html = text(client.get("/o/kota-medan"))
    assert "SMK Negeri 9 Baru" in html and "09:00–11:00" in html
    stop = text(client.get(f"/stop/{visit_of(a).id}"))
    assert "Waktu kunjungan ini berubah" in stop  # the change notice, with the old time
    assert "08:00–10:00" in stop


def test_service_publish_writes_the_public_schedule_and_edits_keep_it(client, app, today):
    """Through the plan service: solve, publish, edit (a draft), publish again."""
    app.config["JOB_BACKEND"] = "inline"
    office = make_office(slug="kota-uji")
    make_team(office)
    make_team(office)
    sites = [make_hotspot(office, demand={"ktp_record": 10 + i}) for i in range(4)]
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    start = today + timedelta(days=(7 - today.weekday()) % 7 or 7)  # next Monday
    plan = service.create_plan(
        office, user, name="Uji", start_date=start, end_date=start, time_limit_s=1
    )
    service.start_solve(plan, user)
    db.session.refresh(plan)
    service.publish(plan, user, plan.version_id)
    before = {v.hotspot_id for v in db.session.scalars(sa.select(PublicVisit))}
    assert before and before <= {s.id for s in sites}

    # The reported case: adding a site to the published plan makes a draft beside it.
    extra = make_hotspot(office, name="SMP Tambahan", demand={"kia": 2})
    db.session.commit()
    route = plan.routes[0]
    service.add_hotspot(plan, extra.id, route.team_id, route.day)
    assert plan.status == "solved"
    html = text(client.get("/o/kota-uji"))
    assert "Belum ada hari layanan" not in html and "SMP Tambahan" not in html
    assert all(db.session.get(type(s), s.id).name in html for s in sites if s.id in before)

    stop = next(s for r in plan.routes for s in r.stops if s.hotspot_id != extra.id)
    service.drop_stop(plan, stop.id)
    assert plan.status == "solved"  # a draft of version 2
    html = text(client.get("/o/kota-uji"))
    assert stop.hotspot.name in html  # still published: no gap for residents
    assert "Belum ada hari layanan" not in html

    service.publish(plan, user, plan.version_id, notice="Sekolah libur mendadak.")
    assert "SMP Tambahan" in text(client.get("/o/kota-uji"))
    dropped = visit_of(stop.hotspot)
    assert dropped.cancelled and dropped.change["kind"] == "cancelled"
    page = text(client.get(f"/stop/{dropped.id}"))
    assert "Kunjungan ini dibatalkan" in page and "Sekolah libur mendadak." in page
    listing = text(client.get("/o/kota-uji"))
    assert "Dibatalkan" in listing  # cancelled visits say so in the list


def test_a_visit_moved_to_another_day_points_to_its_new_date(client, medan, today):
    plan, b = medan["plan"], medan["b"]
    d2 = today + timedelta(days=2)
    route = next(r for r in plan.routes if r.day == d2)
    moved = next(s for s in route.stops if s.hotspot_id == b.id)
    old = visit_of(b)
    route.stops.remove(moved)
    db.session.delete(moved)
    add_route(plan, make_team(medan["office"]), today + timedelta(days=3), [(b, "10:00", 60)])
    publish_now(plan, notice="Pasar tutup karena banjir.")

    db.session.refresh(old)
    assert old.cancelled and old.change["kind"] == "moved" and old.moved_to_id
    html = text(client.get(f"/stop/{old.id}"))
    assert "Kunjungan ini pindah ke hari lain" in html
    assert f'href="/stop/{old.moved_to_id}"' in html
    assert "Pasar tutup karena banjir." in html
    # The list shows the site once on its new day, the old day marked cancelled.
    listing = text(client.get("/o/kota-medan"))
    assert listing.count("Pasar Sunggal") == 2
    assert "Dibatalkan" in listing


def test_a_newer_plan_on_the_same_team_days_replaces_the_older_visits(client, medan, today):
    office, team, a = medan["office"], medan["team"], medan["a"]
    d1 = today + timedelta(days=1)
    publish_plan(office, today, [(team, d1, [(a, "13:00", 60)])], name="Rencana pengganti")
    old_visits = db.session.scalars(
        sa.select(PublicVisit).where(PublicVisit.plan_id == medan["plan"].id, PublicVisit.day == d1)
    ).all()
    assert old_visits and all(v.cancelled for v in old_visits)
    html = text(client.get("/o/kota-medan"))
    assert "13:00–14:00" in html and "08:00–10:00" not in html
    # The same site and day is one line, not a live line and a cancelled one.
    day_block = html.split(f'id="day-{d1.isoformat()}"')[1].split("</article>")[0]
    assert day_block.count("SMA Negeri 1 Medan") == 1


# --- listing ---------------------------------------------------------------------------------


def test_filters_by_kecamatan_kelurahan_service_and_place_name(client, medan):
    def names(query: str) -> set[str]:
        html = text(client.get("/o/kota-medan" + query))
        return {
            n
            for n in ("SMA Negeri 1 Medan", "Pasar Sunggal", "SLB Karya Murni")
            if f'class="visit-name">{n}<' in html
        }

    assert names("") == {"SMA Negeri 1 Medan", "Pasar Sunggal", "SLB Karya Murni"}
    assert names("?kecamatan=12.71.02") == {"Pasar Sunggal"}
    assert names("?kelurahan=12.71.01.1001") == {"SMA Negeri 1 Medan", "SLB Karya Murni"}
    assert names("?service=kia") == {"Pasar Sunggal"}
    assert names("?q=karya") == {"SLB Karya Murni"}
    assert names("?q=sunggal") == {"Pasar Sunggal"}  # the kelurahan name matches too
    assert names("?q=%25") == set()  # a LIKE wildcard is a literal character
    assert names("?service=nonsense") == names("")  # unknown service: no filter
    html = text(client.get("/o/kota-medan?q=zzzz"))
    assert "Tidak ada hari layanan yang cocok" in html


def test_home_visits_are_counted_never_named(client, medan):
    html = text(client.get("/o/kota-medan"))
    assert "Layanan rumah (kunjungan rumah)" in html and "1 rumah tangga" in html
    assert "ZZNAMEZZ" not in html and "ZZADDRZZ" not in html
    home = visit_of(medan["home"])
    assert home.is_home and home.name == "" and home.address == "" and home.lat is None
    assert client.get(f"/stop/{home.id}").status_code == 404
    assert client.get(f"/stop/{home.id}.ics").status_code == 404


def test_near_a_kelurahan_sorts_by_distance(client, medan):
    """Choosing a kelurahan sorts the visits by distance from its centre, with km."""
    html = text(client.get("/o/kota-medan?near=12.71.02.1001"))
    near = html.split('class="near-server"')[1].split("</section>")[0]
    order = [m for m in re.findall(r'class="visit-name">([^<]+)<', near)]
    assert order[0] == "Pasar Sunggal"
    assert set(order) == {"Pasar Sunggal", "SMA Negeri 1 Medan", "SLB Karya Murni"}
    assert re.search(r"\d+,\d km", near)  # Indonesian decimal comma


def test_past_days_disappear_and_pages_page_forward(client, medan, today):
    plan = medan["plan"]
    add_route(
        plan, make_team(medan["office"]), today - timedelta(days=1), [(medan["c"], "08:00", 60)]
    )
    add_route(
        plan, make_team(medan["office"]), today + timedelta(days=20), [(medan["a"], "08:00", 60)]
    )
    publish_now(plan)
    html = text(client.get("/o/kota-medan"))
    assert f'id="day-{(today - timedelta(days=1)).isoformat()}"' not in html
    assert f'id="day-{(today + timedelta(days=20)).isoformat()}"' not in html
    later = re.search(r'href="(/o/kota-medan\?from=[0-9-]+)"', html).group(1)
    assert f'id="day-{(today + timedelta(days=20)).isoformat()}"' in text(client.get(later))
    past = db.session.scalars(
        sa.select(PublicVisit).where(
            PublicVisit.day < today, PublicVisit.hotspot_id == medan["c"].id
        )
    ).first()
    assert "Hari layanan ini sudah lewat" in text(client.get(f"/stop/{past.id}"))


# --- one stop --------------------------------------------------------------------------------


def test_stop_page_has_everything_a_resident_needs(client, medan, today):
    v = visit_of(medan["a"])
    resp = client.get(f"/stop/{v.id}")
    html = text(resp)
    assert resp.status_code == 200
    assert "SMA Negeri 1 Medan" in html and "Jl. Teuku Cik Ditiro No. 1" in html
    assert "08:00–10:00" in html and "WIB" in html
    assert "Perekaman KTP-el" in html
    assert "Kartu Keluarga" in html  # what to bring for KTP-el recording
    assert f'href="/stop/{v.id}.ics"' in html
    assert "public, max-age=" in resp.headers["Cache-Control"]
    # WhatsApp: a wa.me link whose text carries the stop's own URL.
    link = re.search(r'href="(https://wa\.me/\?text=[^"]+)"', html).group(1)
    shared = unquote(parse_qs(urlparse(link.replace("&amp;", "&")).query)["text"][0])
    assert f"/stop/{v.id}" in shared and "SMA Negeri 1 Medan" in shared
    assert client.get("/stop/999999").status_code == 404


def test_stop_page_in_english(client, medan):
    html = text(client.get(f"/stop/{visit_of(medan['a']).id}?lang=en"))
    assert "What to bring" in html and "Add to calendar" in html and "Share on WhatsApp" in html


def test_stop_calendar_file_parses_with_the_office_time(client, medan):
    v = visit_of(medan["a"])
    resp = client.get(f"/stop/{v.id}.ics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/calendar")
    assert "attachment" in resp.headers["Content-Disposition"]
    cal = Calendar.from_ical(resp.data)
    (event,) = cal.walk("VEVENT")
    assert str(event["uid"]) == f"public-visit-{v.id}@jemput-bola"
    start = event.decoded("dtstart")
    assert (start.hour, start.minute, start.utcoffset()) == (8, 0, timedelta(hours=7))
    assert "SMA Negeri 1 Medan" in str(event["summary"])
    assert str(event["status"]) == "CONFIRMED"
    assert f"/stop/{v.id}" in str(event["url"])


def test_kelurahan_feed_lists_its_visits_with_cancellations(client, medan, today):
    plan, a = medan["plan"], medan["a"]
    route = plan.routes[0]
    stop = next(s for s in route.stops if s.hotspot_id == a.id)
    route.stops.remove(stop)
    db.session.delete(stop)
    publish_now(plan)
    resp = client.get("/o/kota-medan/kelurahan/12.71.01.1001.ics")
    cal = Calendar.from_ical(resp.data)
    events = {str(e["summary"]): str(e["status"]) for e in cal.walk("VEVENT")}
    assert events == {
        "Layanan KTP-el: SMA Negeri 1 Medan": "CANCELLED",
        "Layanan KTP-el: SLB Karya Murni": "CONFIRMED",
    }
    assert b"ZZNAMEZZ" not in resp.data and b"ZZADDRZZ" not in resp.data
    assert cal["X-WR-CALNAME"] == "Jemput Bola – Kel. Pasar Baru"
    cancelled = next(e for e in cal.walk("VEVENT") if str(e["status"]) == "CANCELLED")
    assert int(cancelled["sequence"]) == 1  # calendars replace the event they already have
    assert client.get("/o/kota-medan/kelurahan/99.99.ics").status_code == 404


def test_printable_notice_for_a_kelurahan(client, app, medan):
    html = text(client.get("/o/kota-medan/kelurahan/12.71.01.1001/notice"))
    assert "Layanan KTP-el gratis di Kel. Pasar Baru" in html
    assert "SMA Negeri 1 Medan" in html and "SLB Karya Murni" in html
    assert "Pasar Sunggal" not in html  # another kelurahan
    assert "ZZNAMEZZ" not in html
    assert "kota-medan?kelurahan=12.71.01.1001" in html  # where to check for changes
    with open(app.static_folder + "/app.css", encoding="utf-8") as f:
        assert "size: A4" in f.read()  # the print style the notice is made for


# --- contacts --------------------------------------------------------------------------------


def test_contact_page_and_footer_carry_office_and_national_channels(client, medan):
    html = text(client.get("/o/kota-medan/contact"))
    for value in ("(061) 555-0100", "dukcapil@medan.example.go.id", "Senin–Jumat 08.00–15.00"):
        assert value in html
    assert 'href="https://wa.me/628115550100"' in html
    assert "1500537" in html and "https://www.lapor.go.id" in html
    v = visit_of(medan["a"])
    for path in ("/", "/o/kota-medan", f"/stop/{v.id}", "/o/kota-medan/map"):
        page = text(client.get(path))
        footer = page.split('class="footer public-footer')[1]
        assert "1500537" in footer and "(061) 555-0100" in footer, path


def test_map_links_every_upcoming_site_to_its_page(client, medan):
    resp = client.get("/o/kota-medan/map")
    html = text(resp)
    assert resp.status_code == 200
    for hs in (medan["a"], medan["b"], medan["c"]):
        assert f"/stop/{visit_of(hs).id}" in html
    assert "ZZNAMEZZ" not in html and "3.5811" not in html  # the home visit is not on the map
    assert "leaflet" in html.lower() and "cdn" not in html.lower()


def test_a_phone_that_comes_back_gets_304_until_something_changes(client, medan, today):
    """ETags: the same page again costs a 304 (nothing rendered) until a publication, the
    office's contacts or the language change it."""
    first = client.get("/o/kota-medan")
    tag = first.headers["ETag"].strip('"')
    again = client.get("/o/kota-medan", headers={"If-None-Match": f'"{tag}"'})
    assert again.status_code == 304 and again.get_data() == b""
    english = client.get("/o/kota-medan?lang=en", headers={"If-None-Match": f'"{tag}"'})
    assert english.status_code == 200
    stop_tag = client.get(f"/stop/{visit_of(medan['a']).id}").headers["ETag"]

    medan["office"].phone = "(061) 555-0111"
    db.session.commit()
    changed = client.get("/o/kota-medan", headers={"If-None-Match": f'"{tag}"'})
    assert changed.status_code == 200 and "(061) 555-0111" in text(changed)

    tag = changed.headers["ETag"]
    add_route(
        medan["plan"],
        make_team(medan["office"]),
        today + timedelta(days=4),
        [(medan["c"], "08:00", 60)],
    )
    publish_now(medan["plan"])
    assert client.get("/o/kota-medan", headers={"If-None-Match": tag}).status_code == 200
    stop = client.get(f"/stop/{visit_of(medan['a']).id}", headers={"If-None-Match": stop_tag})
    assert stop.status_code == 200


def test_a_busy_office_gets_pages_of_whole_days_not_one_huge_page(client, app, today):
    """A province-size office: a page holds whole days up to PAGE_VISITS site visits; the
    next page starts on the first day left out. The map is capped the same way."""
    from outreach.public.views import MAP_VISITS, PAGE_VISITS

    office = make_office(slug="kota-besar")
    team = make_team(office)
    plan = new_plan(office, today)
    per_day = 60
    for d in range(1, 6):  # five days of 60 visits: 300 in all
        sites = [make_hotspot(office, name=f"Titik {d}-{i:02d}") for i in range(per_day)]
        add_route(plan, team, today + timedelta(days=d), [(h, "08:00", 5) for h in sites])
    publish_now(plan)
    html = text(client.get("/o/kota-besar"))
    shown = html.count('class="visit-name"')
    assert shown == per_day * (PAGE_VISITS // per_day) == 120
    later = re.search(r'href="(/o/kota-besar\?from=([0-9-]+))"', html)
    assert later.group(2) == (today + timedelta(days=3)).isoformat()
    assert text(client.get(later.group(1))).count('class="visit-name"') == 120
    map_html = text(client.get("/o/kota-besar/map"))
    assert map_html.count("/stop/") == per_day * (MAP_VISITS // per_day)
