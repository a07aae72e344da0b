"""The plan review page's Folium map: a layer per team-day, numbered pins, clustered sites.

:func:`build_map` draws the routes of :func:`~outreach.coordinator.plan_review.route_views`
and the unplanned sites; :class:`BulkMarkers` carries the pins as one JSON block instead of
one Folium element per pin. Every text is escaped for the map (``map_safe``/``brace_safe``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from branca.element import MacroElement
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from folium.template import Template
from markupsafe import Markup

from .. import maps
from ..labels import SERVICE_LABELS
from ..models import Office, Plan
from ..navigation import format_count
from .plan_review import RouteView, UnplannedSite

UNPLANNED_COLOUR = "#6b7280"
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Why a site has several teams at one visit (see plan_review.split_visits).
SPLIT_REASON = _l("Demand beyond one team's day")


def map_safe(text: object) -> str:
    """``maps.map_text`` plus ``{`` and ``}`` as character references.

    Folium (branca) compiles every rendered macro's output as a Jinja template once more
    (``Element(rendered)``), so ``{{ ... }}`` inside a name would run on the server. As HTML
    the references show the braces literally.
    """
    return brace_safe(maps.map_text(text))


def brace_safe(html: str) -> str:
    return str(html).replace("{", "&#123;").replace("}", "&#125;")


class BulkMarkers(MacroElement):
    """Many pins from one JSON block: a loop over rows instead of one Folium element per pin.

    Folium compiles several Jinja templates per ``Marker`` (~15 ms a pin: a 500-stop plan took
    over 10 s), and branca compiles every macro's *output* as a template again. So the rows
    are not in the map script at all: the page carries them once as
    ``<script type="application/json" id="plan-pins">`` (see :func:`pins_json`) and this
    script only names its key. Texts went through ``maps.map_text``/``maps.popup_html``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var parent = {{ this._parent.get_name() }};
            window.JB_PLAN_PINS = window.JB_PLAN_PINS
                || JSON.parse(document.getElementById("plan-pins").textContent);
            (window.JB_PLAN_PINS[{{ this.key|tojson }}] || []).forEach(function (r) {
                var size = r.l ? 26 : 16;
                var icon = L.divIcon({
                    html: '<span class="jb-pin jb-pin--dot" style="background:' + r.c + '">'
                        + r.l + "</span>",
                    iconSize: [size, size],
                    iconAnchor: [size / 2, size / 2],
                    className: "jb-pin-icon"
                });
                L.marker([r.y, r.x], {icon: icon})
                    .bindTooltip(r.t, {sticky: true})
                    .bindPopup(r.p, {maxWidth: 320})
                    .addTo(parent);
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, key: str) -> None:
        super().__init__()
        self._name = "BulkMarkers"
        self.key = key
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        lat: float,
        lon: float,
        *,
        tooltip: object,
        popup: Markup,
        colour: str,
        label: object = "",
    ) -> None:
        row = pin_row(lat, lon, tooltip=tooltip, popup=popup, colour=colour, label=label)
        if row is not None:
            self.rows.append(row)


def pin_row(
    lat: float,
    lon: float,
    *,
    tooltip: object,
    popup: Markup,
    colour: str,
    label: object = "",
) -> dict[str, Any] | None:
    """One pin of :class:`BulkMarkers` as the page's JSON carries it (``None``: no place)."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None  # folium accepts inf; a map must never see it (SECURITY.md row 21)
    if not HEX_COLOUR.match(colour):
        raise ValueError(f"not a hex colour: {colour!r}")
    return {
        "y": lat,
        "x": lon,
        "t": map_safe(tooltip),
        "p": brace_safe(popup),
        "c": colour,
        "l": map_safe(label),
    }


def build_map(
    plan: Plan, views: list[RouteView], unplanned: list[UnplannedSite], office: Office
) -> tuple[Markup, dict[str, list[dict[str, Any]]]]:
    """The review map: a layer per team-day, numbered stops, lines, clustered unplanned sites.

    Returns the map's HTML and the pins per layer key, which the page embeds as JSON.

    Every text goes through ``maps.map_text``/``maps.popup_html`` (folium does not escape).
    The pins (which change with every edit and outcome) live only in that JSON; the Folium map
    itself holds the layers, lines and frame, and is rendered once per distinct map
    (:func:`outreach.maps.render_map_cached`), not on every visit of the page.
    """
    pin_rows: dict[str, list[dict[str, Any]]] = {}
    # Labels looked up once: gettext per pin costs more than the pin itself on big plans.
    services = {k: str(v) for k, v in SERVICE_LABELS.items()}
    t = {
        "route": _("Team-day"),
        "arrive": _("Arrival"),
        "service": _("Service"),
        "persons": _("Expected residents"),
        "cards": _("Blank cards"),
        "status": _("Status"),
        "locked": _("Locked"),
        "left": _("remaining"),
        "kel": _("Kelurahan"),
        "kec": _("Kecamatan"),
        "remaining": _("Residents remaining"),
        "priority": _("Priority"),
        "teams": _("Teams"),
        "why": _("Why several teams"),
        "split": str(SPLIT_REASON),
    }
    counts: dict[int, str] = {}

    def count(n: int) -> str:
        # format_count looks the request's language up on every call; a map repeats a few
        # hundred counts (several per pin), each formatted once here.
        text = counts.get(n)
        if text is None:
            text = counts[n] = format_count(n)
        return text

    # What the Folium map is drawn from: (layer key, label, colour, line) per team-day.
    layers: list[tuple[str, str, str, list[tuple[float, float]]]] = []
    bounds: list[tuple[float, float]] = []
    unplanned_bounds: list[tuple[float, float]] = []
    for rv in views:
        if not rv.stops:
            continue
        rows: list[dict[str, Any]] = []
        line: list[tuple[float, float]] = []
        for row in rv.stops:
            hs = row.stop.hotspot
            if hs.lat is None or hs.lon is None:
                continue
            line.append((hs.lat, hs.lon))
            details: list[tuple[object, object]] = [
                (t["route"], rv.label),
                (t["arrive"], row.arrival_hm),
                (t["service"], f"{row.start_hm}–{row.end_hm}"),
                (t["persons"], count(row.persons)),
            ]
            tooltip = f"{row.number}. {hs.name} ({row.start_hm})"
            if row.with_teams:
                # One visit by several teams: both pins (one per team-day layer) say so.
                teams = f"{rv.route.team.name} + {row.with_teams}"
                details[1:1] = [(t["teams"], teams), (t["why"], t["split"])]
                tooltip = f"{tooltip} · {teams}"
            details += [
                (services.get(k, k), count(int(v))) for k, v in (row.stop.persons or {}).items()
            ]
            if row.stop.cards:
                details.append((t["cards"], count(row.stop.cards)))
            if row.stop.locked:
                details.append((t["status"], t["locked"]))
            pin = pin_row(
                hs.lat,
                hs.lon,
                tooltip=tooltip,
                popup=maps.popup_html(f"{row.number}. {hs.name}", details),
                colour=rv.colour,
                label=row.number,
            )
            if pin is not None:
                rows.append(pin)
        layers.append((rv.key, rv.label, rv.colour, line))
        pin_rows[rv.key] = rows
        bounds += line
    if unplanned:
        rows = []
        for hs in unplanned:
            remaining = count(hs.remaining_total)
            pin = pin_row(
                hs.lat,
                hs.lon,
                tooltip=f"{hs.name} – {t['left']} {remaining}",
                popup=maps.popup_html(
                    hs.name,
                    [
                        (t["kel"], hs.kelurahan_name),
                        (t["kec"], hs.kecamatan_name),
                        (t["remaining"], remaining),
                        (t["priority"], hs.priority),
                    ],
                ),
                colour=UNPLANNED_COLOUR,
            )
            if pin is not None:
                rows.append(pin)
            unplanned_bounds.append((hs.lat, hs.lon))
        pin_rows["unplanned"] = rows
    # The map opens on the planned stops (the unplanned sites only when nothing is planned);
    # the legend sits beside the map (see review.html), so no corner needs to stay clear.
    framed = bounds or unplanned_bounds
    frame = None
    if framed:
        lats = [p[0] for p in framed]
        lons = [p[1] for p in framed]
        frame = [[min(lats), min(lons)], [max(lats), max(lons)]]
    not_planned = _("Not planned yet") if unplanned else None
    html = maps.render_map_cached(
        ("plan-review", office.lat, office.lon, layers, not_planned, frame),
        lambda: _folium_map(office, layers, not_planned, frame),
        height="560px",
        label=_("Map of plan %(n)s", n=plan.name),
    )
    return html, pin_rows


def _folium_map(
    office: Office,
    layers: list[tuple[str, str, str, list[tuple[float, float]]]],
    not_planned: str | None,
    frame: list[list[float]] | None,
) -> Any:
    """The Folium map of :func:`build_map`: the pins themselves come from the page's JSON."""
    import folium

    fmap = maps.base_map((office.lat, office.lon), zoom_start=12)
    # Quarter zoom steps: the opening frame fits the planned stops closely (whole steps can
    # leave them in the middle half of a tablet's map).
    fmap.options.update(zoom_snap=0.25)
    for key, label, colour, line in layers:
        layer = folium.FeatureGroup(name=map_safe(label), show=True)
        if len(line) > 1:
            folium.PolyLine(line, color=colour, weight=3, opacity=0.8).add_to(layer)
        BulkMarkers(key).add_to(layer)
        layer.add_to(fmap)
    if not_planned is not None:
        cluster = maps.cluster(fmap, not_planned)
        BulkMarkers("unplanned").add_to(cluster)
    if frame is not None:
        fmap.fit_bounds(frame, padding=(36, 36), max_zoom=16)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap
