"""Public pages for residents: the schedule of each office, stop pages, calendars, notices.

Everything here reads :class:`PublicVisit` rows (what was last *published*), never the plans
being edited, and never a person: home visits are counts per kelurahan and day. Pages are
server-rendered, small, and may be cached for a minute by browsers and proxies.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import Response, abort, current_app, g, render_template, request, session, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from icalendar import Calendar, Event, vGeo
from markupsafe import Markup

from ..demo import NATIONAL_COMPLAINT_CHANNELS
from ..exporting.ical import add_timezones
from ..extensions import db
from ..labels import SERVICE_LABELS, kind_label, service_label
from ..maps import MapMarker, add_markers, base_map, cluster, map_text, render_map_cached
from ..models import Office, PublicVisit
from ..navigation import current_lang, format_decimal
from ..navigation import install as install_layout_helpers
from ..plans.adapter import aware, office_zone
from ..roles import public_view
from ..security import csp_nonce
from . import bp
from .schedule import (
    HORIZON_DAYS,
    ScheduleFilter,
    day_window,
    kelurahan_visits,
    nearest_first,
    office_areas,
    office_today,
    public_offices,
    public_visit,
    resolve_office,
    schedule_days,
    upcoming_visits,
)
from .schedule import (
    office_key as key_of,
)

bp.record_once(lambda state: install_layout_helpers(state.app))

PAGE_DAYS = 14  # at most this many days per schedule page ...
PAGE_VISITS = 150  # ... and whole days up to this many site visits: a phone page stays small
MAP_VISITS = 200  # pins on the public map (whole days): the map page stays under 300 KB
CACHE_SECONDS = 60
FEED_PAST_DAYS = 30  # a subscribed calendar keeps last month's visits

# How each complaint channel is shown and linked; unknown keys (an office's own) show as text.
CHANNEL_LABELS = {
    "call_centre": _l("Call centre"),
    "whatsapp": _l("WhatsApp"),
    "sms": _l("SMS"),
    "email": _l("Email"),
    "facebook": _l("Facebook"),
    "x": _l("X (Twitter)"),
    "lapor": _l("SP4N-LAPOR!"),
}

# What to bring, per service (the national requirements; the same for every office).
BRING = {
    "ktp_record": _l(
        "Your family card (Kartu Keluarga, KK). You must come in person: photo, fingerprints "
        "and iris cannot be taken for someone else. From age 17, or younger if married."
    ),
    "ktp_print": _l(
        "Your family card (KK). Printing is for residents whose recording is complete; bring "
        "your old KTP-el if it is damaged or changed."
    ),
    "birth_cert": _l(
        "The birth letter from the midwife or hospital, the family card, and the parents' "
        "marriage certificate if you have it."
    ),
    "kia": _l(
        "The family card, the child's birth certificate and, from age 5, a photo of the child."
    ),
}

CHANGE_TEXT = {
    "retimed": _l("The time of this visit changed."),
    "moved": _l("This visit moved to another day."),
    "cancelled": _l("This visit is cancelled."),
    "replaced": _l("This visit is cancelled: a newer schedule replaced it."),
    "restored": _l("This visit takes place again."),
}


def _channel_href(key: str, value: str) -> str | None:
    digits = "".join(c for c in value if c.isdigit())
    if key in ("call_centre", "phone") and digits:
        return f"tel:{digits}"
    if key == "sms" and digits:
        return f"sms:{digits}"
    if key == "whatsapp" and digits:
        international = "62" + digits[1:] if digits.startswith("0") else digits
        return f"https://wa.me/{international}"
    if key == "email" and "@" in value and " " not in value:
        return f"mailto:{value}"
    if value.startswith("https://"):
        return value
    return None


def complaint_channels(office: Office | None) -> list[dict[str, Any]]:
    """The national channels, with an office's own channels added or overriding."""
    channels = dict(NATIONAL_COMPLAINT_CHANNELS)
    if office is not None and office.complaint_channels:
        channels.update({str(k): str(v) for k, v in office.complaint_channels.items()})
    return [
        {"label": CHANNEL_LABELS.get(k, k), "value": v, "href": _channel_href(k, v)}
        for k, v in channels.items()
        if v
    ]


def office_contacts(office: Office | None) -> list[dict[str, Any]]:
    """The office's own contacts (address, phone, WhatsApp, e-mail, hours), those it has."""
    if office is None:
        return []
    rows = [
        ("address", _("Address"), office.address),
        ("phone", _("Telephone"), office.phone),
        ("whatsapp", _("WhatsApp"), office.whatsapp),
        ("email", _("Email"), office.email),
        ("hours", _("Opening hours"), office.opening_hours),
    ]
    return [
        {"label": label, "value": value, "href": _channel_href(key, value)}
        for key, label, value in rows
        if value
    ]


@bp.app_template_global()
def public_contacts(office: Office | None) -> dict[str, Any]:
    """What every public page's footer shows."""
    return {
        "key": key_of(office) if office is not None else "",
        "office": office_contacts(office),
        "channels": complaint_channels(office),
    }


# ------------------------------------------------------------------------------ helpers


def _state_tag(office: Office | None) -> str:
    """An ETag for a public page: it changes when anything the page may show changes (a
    publication of this office, the office's contacts, the day, the language, the URL)."""
    stamp: tuple = ()
    if office is not None:
        stamp = tuple(
            db.session.execute(
                sa.select(sa.func.max(PublicVisit.updated_at), sa.func.count(PublicVisit.id)).where(
                    PublicVisit.office_id == office.id
                )
            ).one()
        ) + (
            office.name,
            office.slug,
            office.address,
            office.phone,
            office.whatsapp,
            office.email,
            office.opening_hours,
            repr(sorted((office.complaint_channels or {}).items())),
            office_today(office),
        )
    parts = (*stamp, current_lang(), request.full_path, current_app.config.get("APP_VERSION"))
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _not_modified(office: Office | None) -> Response | None:
    """A 304 when the browser already holds this version of the page (nothing rendered)."""
    tag = _state_tag(office)
    g.public_etag = tag
    if request.if_none_match.contains(tag):
        return _cached(Response(status=304))
    return None


def _cached(resp: Response, seconds: int = CACHE_SECONDS) -> Response:
    """Let browsers and proxies keep a public page briefly; one copy per language. With an
    ETag a phone that comes back later gets a 304 instead of the page again."""
    resp.headers["Cache-Control"] = f"public, max-age={seconds}"
    resp.vary.add("Accept-Language")
    resp.vary.add("Cookie")
    tag = g.get("public_etag")
    if tag:
        resp.set_etag(tag)
    return resp


# Rendered public pages, per app: the page a resident gets depends only on what the page's
# ETag covers (the office's publication, contacts, the day, the language, the URL) plus the
# few inputs named in each view's key, so the same page is rendered once for everybody and
# then only gets this response's CSP nonce. Anonymous requests only (a signed-in user's
# page has their menu); an entry lives at most CACHE_SECONDS, like a browser's copy.
PAGE_CACHE_SIZE = 64
_NONCE_SLOT = "\x00csp-nonce\x00"


def _page_cache() -> tuple[threading.Lock, OrderedDict[str, tuple[float, str]]]:
    cache = current_app.extensions.get("jb_public_pages")
    if cache is None:
        cache = current_app.extensions.setdefault(
            "jb_public_pages", (threading.Lock(), OrderedDict())
        )
    return cache


def _page(key: Any, render: Any) -> str:
    """``render()``'s HTML, rendered once per distinct page (see PAGE_CACHE_SIZE).

    ``key`` holds whatever the page shows that its ETag (``g.public_etag``, set by
    :func:`_not_modified`) does not cover. Not cached: signed-in users, a pending flash
    message (it is shown once), a request without an ETag.
    """
    tag = g.get("public_etag")
    if not tag or current_user.is_authenticated or "_flashes" in session:
        return render()
    digest = hashlib.sha256(
        repr((request.endpoint, tag, request.host_url, key)).encode()
    ).hexdigest()
    nonce = csp_nonce()
    now = time.monotonic()
    lock, cache = _page_cache()
    with lock:
        hit = cache.get(digest)
    if hit is not None and hit[0] > now:
        return hit[1].replace(_NONCE_SLOT, nonce)
    html = render()
    with lock:
        cache[digest] = (now + CACHE_SECONDS, html.replace(nonce, _NONCE_SLOT))
        cache.move_to_end(digest)
        while len(cache) > PAGE_CACHE_SIZE:
            cache.popitem(last=False)
    return html


def _local(dt: datetime, office: Office) -> datetime:
    return aware(dt).astimezone(office_zone(office))


def _date_text(day: date, fmt: str) -> str:
    """Babel's date formatting, once per day and format in a request (it is slow per call)."""
    cache = g.setdefault("public_date_texts", {})
    key = (day, fmt)
    if key not in cache:
        cache[key] = format_date(day, fmt)
    return cache[key]


def _memo(kind: str, key: Any, make: Any) -> Any:
    """A per-request memo (labels, the office's zone, URL prefixes repeat for every visit)."""
    cache = g.setdefault("public_memo", {})
    if (kind, key) not in cache:
        cache[(kind, key)] = make()
    return cache[(kind, key)]


def visit_view(v: PublicVisit, office: Office) -> dict[str, Any]:
    """What a template shows of a visit, in the reader's language and the office's zone."""
    zone = _memo("zone", office.id, lambda: office_zone(office))
    start, end = aware(v.start_at).astimezone(zone), aware(v.end_at).astimezone(zone)
    stop_prefix = _memo("url", "stop", lambda: url_for("public.stop", visit_id=1)[:-1])
    change = v.change or {}
    return {
        "id": v.id,
        "visit": v,
        "day": v.day,
        "date_text": _date_text(v.day, "full"),
        "short_date": _date_text(v.day, "EEE, d MMM"),
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "tz": start.tzname() or "",
        "kind": _memo("kind", v.kind, lambda: kind_label(v.kind)),
        "services": [_memo("service", s, lambda s=s: service_label(s)) for s in v.services or []],
        "service_codes": list(v.services or []),
        "cancelled": v.cancelled,
        "change_kind": change.get("kind", ""),
        "change_text": CHANGE_TEXT.get(change.get("kind", ""), ""),
        "url": f"{stop_prefix}{v.id}",
    }


def _previous_text(v: PublicVisit, office: Office) -> str:
    prev = (v.change or {}).get("previous")
    if not prev:
        return ""
    try:
        day = date.fromisoformat(prev["day"])
        start = datetime.fromisoformat(prev["start"]).astimezone(office_zone(office))
        end = datetime.fromisoformat(prev["end"]).astimezone(office_zone(office))
    except (KeyError, TypeError, ValueError):
        return ""
    return _(
        "Before: %(date)s, %(start)s–%(end)s",
        date=format_date(day, "full"),
        start=start.strftime("%H:%M"),
        end=end.strftime("%H:%M"),
    )


def _km(value: float) -> str:
    return format_decimal(round(value, 1), format="#,##0.0")


def _page_start(today: date) -> date:
    raw = request.args.get("from", "")[:10]
    try:
        start = date.fromisoformat(raw) if raw else today
    except ValueError:
        start = today
    return max(today, min(start, today + timedelta(days=HORIZON_DAYS)))


def _coordinate(name: str, low: float, high: float) -> float | None:
    try:
        value = float(request.args.get(name, "")[:20])
    except ValueError:
        return None
    return value if low <= value <= high else None


# ------------------------------------------------------------------------------ schedule


def _render_schedule(office: Office) -> Response:
    unchanged = _not_modified(office)
    if unchanged is not None:
        return unchanged
    # what the page shows beyond its ETag: the area lists (from the office's sites) and
    # whether there are other offices
    kecamatan, kelurahan = office_areas(office)
    offices = public_offices()
    return _cached(
        Response(
            _page(
                (kecamatan, kelurahan, [(o.id, o.name, o.slug) for o in offices]),
                lambda: _schedule_html(office, kecamatan, kelurahan, offices),
            )
        )
    )


def _schedule_html(office: Office, kecamatan: list, kelurahan: list, offices: list) -> str:
    today = office_today(office)
    start = _page_start(today)
    flt = ScheduleFilter.from_args(request.args)
    span = day_window(office, start, flt, max_days=PAGE_DAYS, max_visits=PAGE_VISITS)
    visits = upcoming_visits(office, start, flt, horizon_days=span)
    days = schedule_days(visits)
    views = {v.id: visit_view(v, office) for d in days for v in d.visits}

    # "Near" from a kelurahan chosen in the list (no location leaves the phone: the browser's
    # own location is handled in static/js/near-me.js, on the page, without a request).
    near_code = request.args.get("near", "")[:20]
    near_area = next((a for a in kelurahan if a.code == near_code), None)
    near = None
    if near_area is not None and near_area.lat is not None:
        near = [
            (views[v.id] if v.id in views else visit_view(v, office), _km(km))
            for v, km in nearest_first(visits, near_area.lat, near_area.lon)
        ][:40]

    next_start = start + timedelta(days=span)
    later = next_start < today + timedelta(days=HORIZON_DAYS)
    args = {k: v for k, v in request.args.items() if k not in ("from", "lang")}
    return render_template(
        "public/schedule.html",
        office=office,
        key=key_of(office),
        offices=offices,
        today=today,
        start=start,
        days=days,
        views=views,
        flt=flt,
        kecamatan=kecamatan,
        kelurahan=kelurahan,
        services=[(code, label) for code, label in SERVICE_LABELS.items()],
        near=near,
        near_area=near_area,
        next_url=url_for(
            "public.office_home", office_key=key_of(office), **args, **{"from": next_start}
        )
        if later
        else None,
        prev_url=url_for(
            "public.office_home",
            office_key=key_of(office),
            **args,
            **{"from": max(today, start - timedelta(days=span))},
        )
        if start > today
        else None,
        page_days=span,
        horizon_days=HORIZON_DAYS,
        bring=BRING,
    )


@bp.get("/")
@public_view
def home():
    """The schedule of the one office, or the list of offices of a province."""
    offices = public_offices()
    if len(offices) == 1:
        return _render_schedule(offices[0])
    unchanged = _not_modified(None)
    if unchanged is not None:
        return unchanged
    resp = Response(
        render_template(
            "public/offices.html",
            office=None,
            offices=[(o, key_of(o)) for o in offices],
        )
    )
    return _cached(resp)


@bp.get("/o/<office_key>")
@public_view
def office_home(office_key: str):
    """One office's upcoming service days, with filters and "near me"."""
    return _render_schedule(resolve_office(office_key))


@bp.get("/o/<office_key>/map")
@public_view
def office_map(office_key: str):
    """The upcoming stops on a map; each pin links to its stop page."""
    office = resolve_office(office_key)
    unchanged = _not_modified(office)
    if unchanged is not None:
        return unchanged
    # the map opens on the office when no stop is coming: its position is part of the page
    return _cached(Response(_page((office.lat, office.lon), lambda: _map_html(office))))


def _map_html(office: Office) -> str:
    today = office_today(office)
    flt = ScheduleFilter.from_args(request.args)
    span = day_window(office, today, flt, max_days=PAGE_DAYS, max_visits=MAP_VISITS)
    visits = [
        v
        for v in upcoming_visits(office, today, flt, horizon_days=span, include_home=False)
        if not v.cancelled and v.lat is not None
    ]
    focus = None
    if request.args.get("visit", "").isdigit():
        focus = next((v for v in visits if v.id == int(request.args["visit"])), None)
    center = (focus.lat, focus.lon) if focus else (office.lat, office.lon)
    zoom = 16 if focus else 12
    places = _("Service places")
    markers = []
    for v in visits:
        view = visit_view(v, office)
        popup = Markup(
            f'<strong><a href="{map_text(view["url"])}">{map_text(v.name)}</a></strong><br>'
            f"{map_text(view['short_date'])}, {view['start']}–{view['end']}"
        )
        markers.append(
            MapMarker(
                v.lat,
                v.lon,
                tooltip=v.name,
                popup=popup,
                color="#0b5cab" if v.day != today else "#b3261e",
            )
        )
    frame = None
    if visits and focus is None:  # frame the coming stops, not the office
        lats, lons = [v.lat for v in visits], [v.lon for v in visits]
        frame = [[min(lats), min(lons)], [max(lats), max(lons)]]

    def build():
        m = base_map(center, zoom_start=zoom, jquery=False)  # pins only: no Popup
        add_markers(cluster(m, places), markers)
        if frame is not None:
            m.fit_bounds(frame, max_zoom=15, padding=(24, 24))
        return m

    # The same map for every resident until a publication (or the day) changes its pins:
    # rendered once per distinct map, not on every request (the key holds all it shows).
    map_html = render_map_cached(
        ("public-map", center, zoom, places, markers, frame),
        build,
        height="70vh",
        label=_("Map of upcoming service places"),
    )
    return render_template(
        "public/map.html",
        office=office,
        key=key_of(office),
        map_html=map_html,
        count=len(markers),
        flt=flt,
        page_days=span,
    )


@bp.get("/o/<office_key>/contact")
@public_view
def contact(office_key: str):
    """The office's own contacts and the official complaint channels."""
    office = resolve_office(office_key)
    unchanged = _not_modified(office)
    if unchanged is not None:
        return unchanged
    return _cached(
        Response(
            render_template(
                "public/contact.html",
                office=office,
                key=key_of(office),
                contacts=office_contacts(office),
                channels=complaint_channels(office),
            )
        ),
        300,
    )


# ------------------------------------------------------------------------------ one stop


def share_text(v: PublicVisit, office: Office, url: str) -> str:
    view = visit_view(v, office)
    return _(
        "Free e-ID service (Jemput Bola) at %(place)s, %(date)s, %(start)s–%(end)s. "
        "Details: %(url)s",
        place=v.name,
        date=view["date_text"],
        start=view["start"],
        end=view["end"],
        url=url,
    )


@bp.get("/stop/<int:visit_id>")
@public_view
def stop(visit_id: int):
    """One visit: place, date, hours, services, what to bring, and any change notice."""
    v = public_visit(visit_id)
    office = v_office(v)
    unchanged = _not_modified(office)
    if unchanged is not None:
        return unchanged
    # the visit (and the one it moved to) is the office's: its ETag covers them
    return _cached(Response(_page((), lambda: _stop_html(v, office))))


def _stop_html(v: PublicVisit, office: Office) -> str:
    today = office_today(office)
    view = visit_view(v, office)
    moved_to = None
    if v.moved_to_id:
        target = public_visit_or_none(v.moved_to_id)
        if target is not None and not target.cancelled:
            moved_to = visit_view(target, office)
    url = url_for("public.stop", visit_id=v.id, _external=True)
    wa = "https://wa.me/?text=" + quote(share_text(v, office, url), safe="")
    return render_template(
        "public/stop.html",
        office=office,
        key=key_of(office),
        v=v,
        view=view,
        past=v.day < today,
        is_today=v.day == today,
        moved_to=moved_to,
        previous=_previous_text(v, office),
        message=(v.change or {}).get("message", ""),
        bring=[(service_label(s), BRING.get(s, "")) for s in v.services or []],
        whatsapp_url=wa,
        maps_url=(
            f"https://www.openstreetmap.org/?mlat={v.lat:.5f}&mlon={v.lon:.5f}"
            f"#map=17/{v.lat:.5f}/{v.lon:.5f}"
            if v.lat is not None
            else None
        ),
    )


def v_office(v: PublicVisit) -> Office:
    return db.session.get(Office, v.office_id)


def public_visit_or_none(visit_id: int) -> PublicVisit | None:
    v = db.session.get(PublicVisit, visit_id)
    return None if v is None or v.is_home else v


# ------------------------------------------------------------------------------ calendars

PRODID = "-//Jemput Bola//Jadwal layanan//ID"


def _event(v: PublicVisit, office: Office) -> Event:
    tz = office_zone(office)
    url = url_for("public.stop", visit_id=v.id, _external=True)
    event = Event()
    event.add("uid", f"public-visit-{v.id}@jemput-bola")
    event.add("sequence", int(v.sequence or 0))
    event.add("dtstamp", aware(v.updated_at))
    event.add("dtstart", aware(v.start_at).astimezone(tz))
    event.add("dtend", aware(v.end_at).astimezone(tz))
    event.add("summary", _("e-ID service: %(place)s", place=v.name))
    area = ", ".join(
        p
        for p in (
            _("Kel. %(name)s", name=v.kelurahan_name) if v.kelurahan_name else "",
            _("Kec. %(name)s", name=v.kecamatan_name) if v.kecamatan_name else "",
        )
        if p
    )
    event.add("location", ", ".join(p for p in (v.name, v.address, area) if p))
    lines = [", ".join(service_label(s) for s in v.services or [])]
    lines += [f"{service_label(s)}: {BRING[s]}" for s in v.services or [] if s in BRING]
    message = (v.change or {}).get("message")
    if message:
        lines.append(message)
    lines.append(url)
    event.add("description", "\n".join(str(x) for x in lines if x))
    event.add("url", url)
    if v.lat is not None and v.lon is not None:
        event.add("geo", vGeo((v.lat, v.lon)))
    event.add("status", "CANCELLED" if v.cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT")
    return event


def _calendar(name: str, office: Office, visits: list[PublicVisit]) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", office_zone(office).key)
    cal.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT6H")
    for v in visits:
        cal.add_component(_event(v, office))
    add_timezones(cal)  # each zone's VTIMEZONE is computed once per process
    return cal.to_ical()


def _ics_response(data: bytes, filename: str) -> Response:
    resp = Response(data, mimetype="text/calendar")
    resp.headers["Content-Type"] = "text/calendar; charset=utf-8"
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return _cached(resp, 300)


@bp.get("/stop/<int:visit_id>.ics")
@public_view
def stop_calendar(visit_id: int):
    """The visit as an iCalendar file (add to the phone's calendar)."""
    v = public_visit(visit_id)
    office = v_office(v)
    data = _calendar(_("Jemput Bola: %(place)s", place=v.name), office, [v])
    return _ics_response(data, f"jemput-bola-{v.id}.ics")


def _kelurahan_or_404(office: Office, code: str):
    _kec, kelurahan = office_areas(office)
    area = next((a for a in kelurahan if a.code == code[:20]), None)
    if area is None:
        abort(404)
    return area


@bp.get("/o/<office_key>/kelurahan/<code>.ics")
@public_view
def kelurahan_calendar(office_key: str, code: str):
    """A feed of every visit in one kelurahan, for calendar apps to subscribe to."""
    office = resolve_office(office_key)
    area = _kelurahan_or_404(office, code)
    since = office_today(office) - timedelta(days=FEED_PAST_DAYS)
    visits = kelurahan_visits(office, area.code, since)
    data = _calendar(_("Jemput Bola – Kel. %(name)s", name=area.name), office, visits)
    return _ics_response(data, f"jemput-bola-{area.code}.ics")


@bp.get("/o/<office_key>/kelurahan/<code>/notice")
@public_view
def kelurahan_notice(office_key: str, code: str):
    """A printable A4 notice of the coming visits in one kelurahan, for notice boards."""
    office = resolve_office(office_key)
    area = _kelurahan_or_404(office, code)
    today = office_today(office)
    visits = [
        visit_view(v, office)
        for v in kelurahan_visits(office, area.code, today)
        if v.day < today + timedelta(days=HORIZON_DAYS)
    ]
    services = sorted({c for v in visits if not v["cancelled"] for c in v["service_codes"]})
    resp = Response(
        render_template(
            "public/notice.html",
            office=office,
            key=key_of(office),
            area=area,
            visits=visits,
            bring=[(service_label(s), BRING[s]) for s in services if s in BRING],
            schedule_url=url_for(
                "public.office_home",
                office_key=key_of(office),
                kelurahan=area.code,
                _external=True,
            ),
            printed=format_date(today, "long"),
        )
    )
    return _cached(resp)


@bp.app_template_filter("km")
def km_filter(value: float) -> str:
    return _km(value)
