"""No personal data on any public page, calendar, map or JSON, nor in the logs.

Sentinel values (a name, a phone number, a NIK, an address, a note) are planted everywhere a
resident's or contact's data can live: a home-visit request sent through the public form, a
request that was approved into a home-visit site on the published schedule, a home-visit site a
coordinator named after the person by mistake, a school's contact person and internal notes.
Then every public URL is fetched — every public rule of the app, with every id, office key and
kelurahan code that exists filled in, plus every same-origin link found on the pages (in
Indonesian and English) — and the status page is asked with the real code. None of the
sentinels may appear in any body or header, and none in any log record.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from datetime import timedelta
from urllib.parse import urljoin, urlparse

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import HotspotKind, Office, PublicVisit, VisitRequest
from outreach.roles import PUBLIC_ATTR
from tests.factories import make_hotspot, make_office, make_team
from tests.public.conftest import add_route, new_plan, publish_now, today_wib

NAME = "Zulkarnain Sentinelwati"
PHONE = "0812 9999 0001"
PHONE_DIGITS = "81299990001"
NIK = "1271015508907701"
ADDRESS = "Gang Sentinel Rahasia No. 77"
NOTE = "catatan-rahasia-sentinel"
CONTACT = "Bu Kontak Sentinela"
SENTINELS = (NAME, "Sentinelwati", PHONE, PHONE_DIGITS, NIK, ADDRESS, "Sentinel Rahasia", NOTE)
SENTINELS += (CONTACT, "Sentinela")

LINK_RE = re.compile(r'(?:href|src|action)="([^"]+)"')


def public_endpoints(app) -> set[str]:
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        and (
            rule.endpoint.startswith("public.")
            or getattr(app.view_functions[rule.endpoint], PUBLIC_ATTR, False)
        )
    }


def seeded_urls(app) -> set[str]:
    """Every public GET rule with every existing value for its arguments."""
    offices = db.session.scalars(sa.select(Office)).all()
    values = {
        "office_key": [o.slug or str(o.id) for o in offices] + [str(o.id) for o in offices],
        "visit_id": [str(v) for v in db.session.scalars(sa.select(PublicVisit.id))] + ["999999"],
        "code": sorted(
            {c for c in db.session.scalars(sa.select(PublicVisit.kelurahan_code)) if c}
            | {r.kelurahan_code for r in db.session.scalars(sa.select(VisitRequest))}
        ),
    }
    urls = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint not in public_endpoints(app):
            continue
        combos = [{}]
        for arg in rule.arguments:
            assert arg in values, f"the crawl does not know how to fill <{arg}> in {rule.rule}"
            combos = [{**c, arg: v} for c in combos for v in values[arg]]
        for combo in combos:
            path = rule.rule
            for arg, v in combo.items():
                path = re.sub(rf"<(?:[a-z]+:)?{arg}>", v, path)
            urls.add(path)
    return urls


def leaks(text: str) -> list[str]:
    return [s for s in SENTINELS if s.lower() in text.lower()]


@pytest.fixture
def planted(app, client, caplog):
    """Plant the sentinels, sending one request through the public form."""
    caplog.set_level(logging.DEBUG)
    office = make_office(name="Dinas Dukcapil Kota Medan", slug="kota-medan", requires_nik=True)
    team = make_team(office)
    school = make_hotspot(
        office,
        name="SMA Negeri 3 Medan",
        contact_name=CONTACT,
        contact_phone=PHONE,
        notes=NOTE,
    )
    careless_home = make_hotspot(
        office,
        name=f"Rumah {NAME}",  # a coordinator typed the person's name: still never public
        address=ADDRESS,
        notes=f"NIK {NIK}, HP {PHONE}",
        kind=HotspotKind.HOME,
        demand={"ktp_record": 1},
    )
    db.session.commit()

    resp = client.post(
        "/o/kota-medan/home-visit",
        data={
            "requester_name": NAME,
            "requester_relation": "family",
            "person_name": f"Ibu {NAME}",
            "nik": NIK,
            "phone": PHONE,
            "kelurahan": school.kelurahan_code,
            "address": ADDRESS,
            "reason": "bedridden",
            "services": ["ktp_record"],
            "persons": "1",
            "notes": NOTE,
            "consent": "y",
            "lat": "3.58123",
            "lon": "98.67123",
        },
        follow_redirects=True,
    )
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    code = re.search(r"JB(?:-[0-9A-Z]{5}){4}-[0-9A-Z]{6}", body).group(0)
    req = db.session.scalars(sa.select(VisitRequest)).one()
    assert (req.nik, req.address) == (NIK, ADDRESS)  # the sentinels really were stored

    # The request approved into a home-visit site, and everything published for tomorrow.
    approved_home = make_hotspot(
        office,
        name=f"Kunjungan rumah #{req.id}",
        kind=HotspotKind.HOME,
        demand={"ktp_record": 1},
        lat=req.lat,
        lon=req.lon,
    )
    req.hotspot_id = approved_home.id
    req.status = "accepted"
    plan = new_plan(office, today_wib())
    add_route(
        plan,
        team,
        today_wib() + timedelta(days=1),
        [(school, "08:00", 60), (careless_home, "10:00", 30), (approved_home, "11:00", 30)],
    )
    publish_now(plan)
    return {"code": code, "office": office}


def test_no_public_url_shows_personal_data(app, client, planted, caplog):
    """Crawl every public page, calendar, map and JSON: no planted PII anywhere
    (SECURITY row 14)."""
    endpoints = public_endpoints(app)
    adapter = app.url_map.bind("localhost")
    queue = deque(sorted(seeded_urls(app)) + ["/"])
    seen: set[str] = set()
    fetched = 0
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        for lang in ("", "lang=en"):
            full = url + (("&" if "?" in url else "?") + lang if lang else "")
            resp = client.get(full)
            fetched += 1
            body = resp.get_data(as_text=True)
            headers = str(resp.headers)
            assert leaks(body) == [] and leaks(headers) == [], f"{full}: {leaks(body + headers)}"
            if not resp.content_type.startswith("text/html"):
                continue
            for link in LINK_RE.findall(body):
                link = link.replace("&amp;", "&")
                parsed = urlparse(urljoin("http://localhost" + url, link))
                if parsed.netloc not in ("localhost", "") or parsed.path.startswith("/static"):
                    continue
                try:
                    endpoint, _ = adapter.match(parsed.path)
                except Exception:  # noqa: BLE001 - 404/405/redirects: not a public page
                    continue
                if endpoint in endpoints:
                    queue.append(parsed.path + (f"?{parsed.query}" if parsed.query else ""))
    assert fetched > 60  # the crawl really went through stops, feeds, notices and maps
    assert any(u.startswith("/stop/") for u in seen)
    assert any(u.endswith(".ics") for u in seen)
    assert any(u.endswith("/notice") for u in seen)
    assert any(u.endswith("/map") for u in seen)

    # The status page, asked with the real code, shows the status and nothing personal.
    resp = client.post("/request-status", data={"code": planted["code"]})
    assert resp.status_code == 200
    assert leaks(resp.get_data(as_text=True)) == []
    # The home visits are on the schedule only as a count.
    html = client.get("/o/kota-medan").get_data(as_text=True)
    assert "2 rumah tangga" in html

    # Nothing personal in any log record of the whole test, the form submission included.
    for record in caplog.records:
        assert leaks(record.getMessage()) == [], record.getMessage()
