"""Field pages without JavaScript: the day's route, a stop's check-in and outcome forms,
isolation between teams, day navigation, the service worker and escaping of user text."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest

from outreach.extensions import db
from outreach.models import (
    AuditEvent,
    HotspotDemand,
    Role,
    StopCheckin,
    VisitOutcome,
)
from tests.factories import csrf_login, form_login, make_user
from tests.field.conftest import today_wib

pytestmark = pytest.mark.usefixtures("crews")


def count(model) -> int:
    db.session.expire_all()
    n = db.session.scalar(db.select(db.func.count(model.id)))
    db.session.rollback()  # release SQLite's lock for a second app in the same test
    return n


def remaining(hotspot_id, svc="ktp_record") -> int:
    db.session.expire_all()
    n = db.session.scalar(
        db.select(HotspotDemand.remaining).filter_by(hotspot_id=hotspot_id, service=svc)
    )
    db.session.rollback()
    return n


def snapshot() -> tuple:
    db.session.expire_all()
    demands = tuple(
        db.session.execute(
            db.select(HotspotDemand.id, HotspotDemand.remaining).order_by(HotspotDemand.id)
        ).all()
    )
    db.session.rollback()
    return count(StopCheckin), count(VisitOutcome), count(AuditEvent), demands


def outcome_form(**kw) -> dict:
    data = {
        "client_uuid": str(uuid.uuid4()),
        "result": "served",
        "present": "35",
        "recorded.ktp_record": "30",
        "recorded.kia": "5",
        "turned_away": "0",
        "cards_carried": "25",
        "cards_used": "0",
        "notes": "",
    }
    data.update(kw)
    return data


def html_of(resp) -> str:
    return resp.get_data(as_text=True)


# ------------------------------------------------------------------------------ route page


def test_route_page_shows_stops_contacts_kits_and_navigation(client, crews):
    """Today's stops in order with times, contact (tel: link), persons, the day's summary and
    both navigation links (geo: and Google Maps), properly encoded."""
    a = crews.a
    first = a.stops[0].hotspot
    first.name = "SMA Negeri 1 & Co"
    first.contact_name = "Ibu Sari"
    first.contact_phone = "+62 812-3456-7890"
    db.session.commit()
    form_login(client, a.user)
    html = html_of(client.get("/field/?lang=en"))
    assert "<h1>Today&#39;s route</h1>" in html or "<h1>Today's route</h1>" in html
    names = [s.hotspot.name for s in a.stops]
    positions = [html.index(n.replace("&", "&amp;")) for n in names]
    assert positions == sorted(positions)
    assert "08:30–09:30" in html  # first stop, WIB
    assert "Ibu Sari" in html and 'href="tel:+6281234567890"' in html
    assert f"geo:{first.lat:.6f},{first.lon:.6f}?q={first.lat:.6f},{first.lon:.6f}" in html
    assert "(SMA%20Negeri%201%20%26%20Co)" in html
    assert (
        f"https://www.google.com/maps/dir/?api=1&amp;destination={first.lat:.6f},{first.lon:.6f}"
        in html
    )
    # The day's summary: 3 stops × 25 blank cards, persons per service, kits.
    summary = html[html.index('class="card day-summary"') : html.index('<ol class="stops">')]
    assert ">75<" in summary and "90 persons" in summary and "30 persons" in summary
    assert f">{a.team.kits}" in summary
    # Every stop links to its page and shows its state.
    for s in a.stops:
        assert f'href="/field/stop/{s.id}"' in html
    assert html.count('data-state="pending"') + html.count('data-state="late"') == 3
    # One-tap day navigation.
    yesterday = (today_wib() - timedelta(days=1)).isoformat()
    tomorrow = (today_wib() + timedelta(days=1)).isoformat()
    assert f'href="/field/day/{yesterday}"' in html and f'href="/field/day/{tomorrow}"' in html
    # The map: route line and numbered stops, rendered from vendored assets under the CSP.
    assert "jb-map" in html and "L.polyline" in html and "data-map-var=" in html
    # The page script and its config (JSON, not executable).
    assert '<script type="application/json" id="field-config">' in html
    assert "/static/js/field.js" in html


def test_route_map_renders_without_tiles(client, crews, app):
    app.config["MAP_TILES_ENABLED"] = False
    form_login(client, crews.a.user)
    html = html_of(client.get("/field/"))
    assert "jb-map--plain" in html
    assert "tile.openstreetmap" not in html


def test_yesterday_and_tomorrow_pages(client, crews):
    """Any day by URL; yesterday/tomorrow show their own stops; a bad date is a 404."""
    a = crews.a
    form_login(client, a.user)
    tomorrow = (today_wib() + timedelta(days=1)).isoformat()
    html = html_of(client.get(f"/field/day/{tomorrow}?lang=en"))
    assert "Tomorrow&#39;s route" in html or "Tomorrow's route" in html
    for s in a.tomorrow:
        assert f'href="/field/stop/{s.id}"' in html
    for s in a.stops:
        assert f'href="/field/stop/{s.id}"' not in html
    assert 'href="/field/"' in html  # back to today
    yesterday = (today_wib() - timedelta(days=1)).isoformat()
    html = html_of(client.get(f"/field/day/{yesterday}?lang=en"))
    for s in a.yesterday:
        assert f'href="/field/stop/{s.id}"' in html
    far = (today_wib() + timedelta(days=30)).isoformat()
    assert "No stops on this day" in html_of(client.get(f"/field/day/{far}?lang=en"))
    for bad in ("2026-02-30", "tomorrow", "2026-1-1", "99999-01-01"):
        assert client.get(f"/field/day/{bad}").status_code == 404


def test_user_text_is_escaped_on_the_page_and_the_map(client, crews):
    """Hostile site names and addresses show as text: no script, no template evaluation
    (SECURITY row 28)."""
    hs = crews.a.stops[0].hotspot
    hs.name = "<script>alert(1)</script>{{7*7}}-Zq ${globalThis.pwn=1} `"
    hs.address = "<img src=x onerror=alert(2)>{{8*8}}-Yq"
    hs.contact_name = "<b>Pak</b>"
    hs.contact_phone = "javascript:alert(3)"
    db.session.commit()
    form_login(client, crews.a.user)
    for url in ("/field/", f"/field/stop/{crews.a.stops[0].id}"):
        html = html_of(client.get(url))
        assert "<script>alert(1)" not in html
        assert "<img src=x" not in html and "<b>Pak</b>" not in html
        assert "49-Zq" not in html and "64-Yq" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert 'href="javascript:' not in html and 'href="tel:3"' not in html
    html = html_of(client.get("/field/"))
    # On the map (JSON inside a nonce'd script): escaped, braces and ${ as character references.
    script = html[html.index("jb-map") :]
    data = script.replace("\\u0026", "&")  # tojson writes & as \u0026
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#123;&#123;7*7&#125;&#125;-Zq" in data
    assert "&#36;&#123;globalThis.pwn=1&#125;" in data and "&#96;" in data
    assert "<script>alert" not in data


# ------------------------------------------------------------------------------ stop page


def test_stop_page_has_forms_with_labels_and_a_fresh_client_uuid(client, crews):
    stop = crews.a.stops[0]
    form_login(client, crews.a.user)
    html = html_of(client.get(f"/field/stop/{stop.id}?lang=en"))
    uuids = re.findall(r'name="client_uuid" value="([0-9a-f-]{36})"', html)
    assert len(uuids) == 2 and len(set(uuids)) == 2  # check-in and outcome, each its own
    again = re.findall(
        r'name="client_uuid" value="([0-9a-f-]{36})"', html_of(client.get(f"/field/stop/{stop.id}"))
    )
    assert set(again).isdisjoint(uuids)
    assert 'name="cards_carried"' in html and re.search(
        r'name="cards_carried"[^>]*value="25"', html
    )
    for field in ("present", "recorded.ktp_record", "recorded.kia", "cards_used", "turned_away"):
        tag = re.search(rf'<input id="([^"]+)" name="{re.escape(field)}"[^>]*>', html)
        assert tag, field
        assert 'inputmode="numeric"' in tag.group(0)
        assert f'<label for="{tag.group(1)}">' in html
    assert 'id="f-notes"' in html and '<label for="f-notes">' in html
    for value in ("kit_broken", "no_power", "no_network", "site_closed", "no_documents"):
        assert f'value="{value}"' in html
    assert "Check in" in html and "Check out and save" in html
    assert f'action="/field/stop/{stop.id}/checkin"' in html
    assert f'action="/field/stop/{stop.id}/outcome"' in html


def test_checkin_by_form_post_once(client, crews):
    """A check-in form posted twice (double tap) stores one row (SECURITY row 38)."""
    stop = crews.a.stops[0]
    form_login(client, crews.a.user)
    data = {"client_uuid": str(uuid.uuid4()), "lat": "3.59", "lon": "98.67"}
    resp = client.post(f"/field/stop/{stop.id}/checkin?lang=en", data=data)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/field/stop/{stop.id}")
    assert count(StopCheckin) == 1
    html = html_of(client.get(resp.headers["Location"]))
    assert "Checked in at" in html and 'data-state="checked_in"' in html
    assert 'data-field-form="checkin"' not in html
    resp = client.post(f"/field/stop/{stop.id}/checkin", data=data)  # double tap
    assert resp.status_code == 302 and count(StopCheckin) == 1


def test_checkin_form_errors(client, crews):
    """A bad check-in form is a 400 with the reason on the page; nothing stored
    (SECURITY row 25)."""
    stop = crews.a.stops[0]
    form_login(client, crews.a.user)
    resp = client.post(
        f"/field/stop/{stop.id}/checkin?lang=en",
        data={"client_uuid": "not-a-uuid", "lat": "3.5"},
    )
    assert resp.status_code == 400
    html = html_of(resp)
    assert 'role="alert"' in html and "Latitude and longitude go together" in html
    assert count(StopCheckin) == 0


def test_outcome_by_form_post_counts_once(client, crews):
    """An outcome form submitted twice counts once; a second outcome is a 409 (SECURITY row 38)."""
    stop = crews.a.stops[0]
    before = remaining(stop.hotspot_id)
    form_login(client, crews.a.user)
    data = outcome_form()
    resp = client.post(f"/field/stop/{stop.id}/outcome?lang=en", data=data)
    assert resp.status_code == 302
    assert count(VisitOutcome) == 1
    assert remaining(stop.hotspot_id) == before - 30
    assert remaining(stop.hotspot_id, "kia") == 10 - 5
    html = html_of(client.get(resp.headers["Location"]))
    assert "Outcome saved" in html and 'data-state="done"' in html
    assert 'data-field-form="outcome"' not in html  # the summary replaces the form
    resp = client.post(f"/field/stop/{stop.id}/outcome?lang=en", data=data)  # double submit
    assert resp.status_code == 302
    assert "already saved" in html_of(client.get(resp.headers["Location"]))
    assert count(VisitOutcome) == 1 and remaining(stop.hotspot_id) == before - 30
    # Another outcome (new uuid) for a stop that has one: 409, shown on the page.
    resp = client.post(f"/field/stop/{stop.id}/outcome?lang=en", data=outcome_form())
    assert resp.status_code == 409 and "already recorded" in html_of(resp)
    assert count(VisitOutcome) == 1


def test_outcome_form_errors_are_shown_next_to_each_field(client, crews):
    """Inconsistent counts are refused next to each field and change nothing (SECURITY row 25)."""
    stop = crews.a.stops[0]
    form_login(client, crews.a.user)
    before = snapshot()
    data = outcome_form(
        present="5",
        **{"recorded.ktp_record": "10", "recorded.kia": "abc"},
        cards_used="30",
        turned_away="2",
        notes="catatan <b>tebal</b>",
    )
    resp = client.post(f"/field/stop/{stop.id}/outcome?lang=en", data=data)
    assert resp.status_code == 400
    html = html_of(resp)

    def error_for(name: str) -> str:
        m = re.search(
            rf'<span class="field-error" id="err-{re.escape(name.replace(".", "-"))}" '
            rf'data-error-for="{re.escape(name)}" role="alert">([^<]*)</span>',
            html,
        )
        assert m, f"no visible error for {name}"
        return m.group(1)

    assert "10 served but only 5 present" in error_for("recorded.ktp_record")
    assert "whole number" in error_for("recorded.kia")
    assert "30 blank cards used but only 25 carried" in error_for("cards_used")
    assert "Say why" in error_for("turned_away_reasons")
    # Inputs point at their message and are marked invalid; the typed values are kept.
    assert re.search(
        r'name="recorded\.ktp_record"[^>]*value="10" aria-describedby="err-recorded-ktp_record" '
        r'aria-invalid="true"',
        html,
    )
    assert re.search(r'name="recorded\.kia"[^>]*value="abc"', html)
    assert "catatan &lt;b&gt;tebal&lt;/b&gt;" in html
    assert 'role="alert" id="form-error"' in html
    assert snapshot() == before


def test_not_served_needs_a_problem_and_records_nobody(client, crews):
    """'Could not serve' needs a problem and records nobody (SECURITY row 25)."""
    stop = crews.a.stops[0]
    form_login(client, crews.a.user)
    resp = client.post(
        f"/field/stop/{stop.id}/outcome?lang=en",
        data=outcome_form(result="not_served"),
    )
    assert resp.status_code == 400
    html = html_of(resp)
    assert "Say what stopped the service" in html and "records nobody" in html
    assert re.search(r'name="result" value="not_served" checked', html)
    data = outcome_form(result="not_served", problems=["no_power", "kit_broken"], present="0")
    data.pop("recorded.ktp_record")
    data.pop("recorded.kia")
    before = remaining(stop.hotspot_id)
    resp = client.post(f"/field/stop/{stop.id}/outcome", data=data)
    assert resp.status_code == 302
    assert remaining(stop.hotspot_id) == before
    html = html_of(client.get(f"/field/stop/{stop.id}?lang=en"))
    assert 'data-state="not_served"' in html and "No electricity" in html


def test_future_stop_shows_no_forms_and_refuses_writes(client, crews):
    """A stop of a later day shows no forms and refuses writes with 409 (SECURITY row 25)."""
    stop = crews.a.tomorrow[0]
    form_login(client, crews.a.user)
    html = html_of(client.get(f"/field/stop/{stop.id}?lang=en"))
    assert "planned for a later day" in html
    assert 'data-field-form="outcome"' not in html and 'data-field-form="checkin"' not in html
    before = snapshot()
    assert client.post(f"/field/stop/{stop.id}/outcome", data=outcome_form()).status_code == 409
    data = {"client_uuid": str(uuid.uuid4())}
    assert client.post(f"/field/stop/{stop.id}/checkin", data=data).status_code == 409
    assert snapshot() == before


# ------------------------------------------------------------------------------ isolation


@pytest.mark.parametrize("other", ["b", "x"])
@pytest.mark.parametrize("which", ["yesterday", "stops", "tomorrow"])
def test_another_teams_stop_is_404_everywhere_and_writes_nothing(client, crews, other, which):
    """Team b (same office) and team x (another office): every field URL answers 404
    (SECURITY row 11)."""
    stop = getattr(getattr(crews, other), which)[0]
    form_login(client, crews.a.user)
    before = snapshot()
    assert client.get(f"/field/stop/{stop.id}").status_code == 404
    for data in (
        {"client_uuid": str(uuid.uuid4())},
        {"client_uuid": "garbage", "lat": "999"},
    ):
        assert client.post(f"/field/stop/{stop.id}/checkin", data=data).status_code == 404
    for data in (outcome_form(), outcome_form(present="-1", cards_used="999")):
        assert client.post(f"/field/stop/{stop.id}/outcome", data=data).status_code == 404
    html = html_of(client.get("/field/"))
    assert stop.hotspot.name not in html
    assert snapshot() == before


def test_unknown_stop_ids_are_404(client, crews):
    """Unknown and out-of-range stop ids answer 404 (SECURITY row 11)."""
    form_login(client, crews.a.user)
    for stop_id in (0, 999999, 2**31, 2**40):
        assert client.get(f"/field/stop/{stop_id}").status_code == 404
        assert client.post(f"/field/stop/{stop_id}/outcome", data=outcome_form()).status_code == 404


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ADMIN])
def test_coordinators_see_the_message_and_cannot_write(client, crews, role):
    """Coordinators and admins cannot write field records (403/404) (SECURITY row 12)."""
    user = make_user(role, office_id=crews.a.office.id)
    db.session.commit()
    form_login(client, user)
    html = html_of(client.get("/field/?lang=en"))
    assert "not a member of a field team" in html
    stop = crews.a.stops[0]
    before = snapshot()
    assert client.get(f"/field/stop/{stop.id}").status_code in (403, 404)
    data = {"client_uuid": str(uuid.uuid4())}
    assert client.post(f"/field/stop/{stop.id}/checkin", data=data).status_code in (403, 404)
    assert client.post(f"/field/stop/{stop.id}/outcome", data=outcome_form()).status_code in (
        403,
        404,
    )
    assert snapshot() == before


def test_anonymous_is_sent_to_login(client, crews):
    """Anonymous users are sent to login and cannot write (SECURITY row 12)."""
    stop = crews.a.stops[0]
    assert client.get("/field/").status_code == 302
    assert client.get(f"/field/stop/{stop.id}").status_code == 302
    before = snapshot()
    client.post(f"/field/stop/{stop.id}/outcome", data=outcome_form())
    assert snapshot() == before


# ------------------------------------------------------------------------------ offline support


def test_service_worker_is_served_with_its_headers(client, crews):
    form_login(client, crews.a.user)
    resp = client.get("/field/sw.js")
    assert resp.status_code == 200
    assert resp.mimetype == "application/javascript"
    assert resp.headers["Service-Worker-Allowed"] == "/field/"
    # The worker is never taken from the HTTP cache (no-cache; the app's private-page rule may
    # tighten it to no-store, which browsers treat the same for worker updates).
    assert resp.headers["Cache-Control"] in ("no-cache", "no-store")
    body = html_of(resp)
    assert "/*__CONFIG__*/" not in body
    config = re.search(r"const CONFIG = (\{.*?\});", body).group(1)
    assert '"scope": "/field/"' in config and "/static/js/field.js" in config
    assert '"version": "' in config


def test_csrf_route_gives_a_token(client, crews):
    form_login(client, crews.a.user)
    resp = client.get("/field/csrf")
    assert resp.status_code == 200 and resp.is_json
    assert resp.get_json()["csrf_token"]
    assert "no-store" in resp.headers["Cache-Control"]


def test_route_page_lists_pages_to_precache(client, crews):
    form_login(client, crews.a.user)
    html = html_of(client.get("/field/"))
    cfg = re.search(r'id="field-config">(.*?)</script>', html).group(1)
    for s in crews.a.stops:
        assert f"/field/stop/{s.id}" in cfg
    assert "/api/v1/field/route?date=" in cfg
    assert "<" not in cfg  # JSON in a script element is escaped


def test_form_posts_need_the_csrf_token(csrf_app, crews):
    """With CSRF on, an outcome form without the token is 400 and writes nothing
    (SECURITY row 16)."""
    client = csrf_app.test_client()
    username, stop_id = crews.a.user.username, crews.a.stops[0].id
    db.session.rollback()  # SQLite: free the write lock for the second app
    csrf_login(client, username)
    before = snapshot()
    assert client.post(f"/field/stop/{stop_id}/outcome", data=outcome_form()).status_code == 400
    assert snapshot() == before
    html = html_of(client.get(f"/field/stop/{stop_id}"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    resp = client.post(f"/field/stop/{stop_id}/outcome", data=outcome_form(csrf_token=token))
    assert resp.status_code == 302 and count(VisitOutcome) == 1
