"""Folium maps that are safe to embed in our pages.

Three problems with Folium 0.20 out of the box, and how this module answers them:

1. **It does not escape.** ``Popup(html)`` inserts raw HTML and ``Tooltip`` text is not escaped
   at all; both land inside a JavaScript *template literal* (``$(`...`)``, ``bindTooltip(`...`)``),
   where ``${...}`` runs code and a backtick ends the literal. Every user text that reaches a
   map goes through :func:`map_text` (HTML *and* template-literal context). Layer names and
   DivIcon HTML are shown by Leaflet as HTML too, so they go through it as well.
2. **It loads Leaflet, jQuery and Bootstrap from CDNs**, which are unreachable from the field and
   forbidden by our CSP. We vendor the few assets we use under ``static/vendor/`` (see its
   README) and rewrite each element's ``default_js``/``default_css`` to those URLs;
   :func:`render_map` refuses to render any foreign asset.
3. **It renders a whole HTML document** with bare inline ``<script>`` tags. :func:`render_map`
   renders only the pieces we need into a fragment and puts the response's CSP nonce on every
   script.

Building blocks (also for the plan review map):

- :func:`base_map` — an empty map with our assets and the configured tile layer (or none).
- :func:`add_markers` — many pins at once (:class:`MapMarker`: coloured dot or numbered stop,
  escaped tooltip and popup); one JSON array and a loop, fast for hundreds of pins.
- :func:`add_marker` — a single pin as a regular ``folium.Marker`` (slow for many pins).
- :func:`popup_html` — a safe popup body from a title and label/value rows.
- :func:`cluster` — a marker cluster layer using the vendored plugin.
- :func:`add_legend` — a legend control.
- :func:`render_map` — the nonce'd HTML fragment (assets + map div + script) for a template:
  ``{{ map_html }}``.

Lines (routes) need no special care: ``folium.PolyLine(points, color=..., tooltip=...)`` is fine
as long as the tooltip text went through :func:`map_text`.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import folium
from branca.element import CssLink, Element, JavascriptLink, MacroElement
from flask import current_app, has_app_context, has_request_context
from folium.plugins import MarkerCluster
from folium.template import Template
from markupsafe import Markup, escape

from .config import DEFAULTS as CONFIG_DEFAULTS
from .gazetteer import KOTA_MEDAN
from .labels import KIND_LABELS, PRIORITY_LABELS, SERVICE_LABELS, service_label
from .models import HotspotKind
from .security import csp_nonce

TILE_REFERRER_POLICY = "strict-origin-when-cross-origin"

# Vendored assets (paths under static/). Leaflet needs no Bootstrap for what we draw; jQuery is
# needed because Folium's Popup template calls $(`...`).
LEAFLET_JS = (
    ("leaflet", "vendor/leaflet-1.9.4/leaflet.js"),
    ("jquery", "vendor/jquery-3.7.1/jquery.min.js"),
)
LEAFLET_CSS = (("leaflet_css", "vendor/leaflet-1.9.4/leaflet.css"),)
CLUSTER_JS = (("markerclusterjs", "vendor/leaflet.markercluster-1.5.3/leaflet.markercluster.js"),)
CLUSTER_CSS = (
    ("markerclustercss", "vendor/leaflet.markercluster-1.5.3/MarkerCluster.css"),
    ("markerclusterdefaultcss", "vendor/leaflet.markercluster-1.5.3/MarkerCluster.Default.css"),
)

KIND_COLORS: dict[str, str] = {
    HotspotKind.SCHOOL.value: "#2563eb",
    HotspotKind.OFFICE.value: "#475569",
    HotspotKind.HOSPITAL.value: "#dc2626",
    HotspotKind.SOCIAL_HOME.value: "#9333ea",
    HotspotKind.PRISON.value: "#111827",
    HotspotKind.MARKET.value: "#ea580c",
    HotspotKind.HOME.value: "#16a34a",
    HotspotKind.VILLAGE_HALL.value: "#92400e",
    HotspotKind.OTHER.value: "#0d9488",
}
PRIORITY_COLORS: dict[int, str] = {
    1: "#b91c1c",
    2: "#ea580c",
    3: "#ca8a04",
    4: "#2563eb",
    5: "#64748b",
}
OFFICE_COLOR = "#0f172a"

# Characters that are special inside a JavaScript template literal, replaced by HTML character
# references: the browser's HTML parser turns them back into text, JavaScript never sees them.
# Braces too: branca compiles each rendered macro again as a Jinja template, so "{{ ... }}"
# in a hotspot name would run on the server (template injection), not only in the browser.
_TEMPLATE_LITERAL_REFS = {"\\": "&#92;", "`": "&#96;", "$": "&#36;", "{": "&#123;", "}": "&#125;"}
# Every character map_text changes: markupsafe's five (& < > " ') and the ones above.
_MAP_SPECIAL_RE = re.compile(r"[&<>\"'\\`${}]")
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{3,8}$")
_CSS_SIZE_RE = re.compile(r"^\d{1,4}(\.\d+)?(px|vh|rem|em|%)$")


class UnsafeMapContent(ValueError):
    """Something that would make the rendered map unsafe (foreign asset, raw markup)."""


def map_text(value: object) -> str:
    """Escape user text for any place on a Folium map.

    The result is safe in HTML (``& < > " '`` become entities) and inside a JavaScript template
    literal (backslash, backtick and ``$`` become HTML character references), and it contains
    nothing that ends a ``<script>`` element. Folium puts popup and tooltip content in template
    literals that Leaflet/jQuery then parse as HTML, so the text shows literally.

    Parameters
    ----------
    value
        Any value; ``None`` gives an empty string.

    Returns
    -------
    str
        Escaped text, ready to pass to Folium (never escape it again).
    """
    if value is None:
        return ""
    text = str(value)
    if _MAP_SPECIAL_RE.search(text) is None:
        return text  # nothing to replace (most names, every number): 4x faster on a map's pins
    out = str(escape(text))
    for char, ref in _TEMPLATE_LITERAL_REFS.items():
        out = out.replace(char, ref)
    return out


def _check_safe_fragment(html: str) -> str:
    # A Markup fragment we built ourselves still must not break out of a template literal.
    if any(s in html for s in ("`", "${", "\\", "{{", "{%", "{#")) or "</script" in html.lower():
        raise UnsafeMapContent("map HTML contains a backtick, ${, a backslash, Jinja or </script")
    return html


def popup_html(title: object, rows: Iterable[tuple[object, object]] = ()) -> Markup:
    """Build a popup body from a title and ``(label, value)`` rows; everything is escaped.

    Parameters
    ----------
    title
        Shown in bold (e.g. the site's name).
    rows
        Label/value pairs shown as a definition list (e.g. ``("Kelurahan", "Pasar Baru")``).

    Returns
    -------
    Markup
        Safe HTML for :func:`add_marker`'s ``popup``.
    """
    parts = [f'<div class="jb-popup"><strong>{map_text(title)}</strong>']
    row_html = "".join(f"<dt>{map_text(k)}</dt><dd>{map_text(v)}</dd>" for k, v in rows)
    if row_html:
        parts.append(f"<dl>{row_html}</dl>")
    parts.append("</div>")
    return Markup("".join(parts))


def _static_url(path: str) -> str:
    prefix = current_app.static_url_path if has_app_context() else "/static"
    return f"{prefix}/{path}"


def _config(key: str) -> Any:
    return current_app.config[key] if has_app_context() else CONFIG_DEFAULTS[key]


def use_vendored_assets(
    element: Any, js: Sequence[tuple[str, str]], css: Sequence[tuple[str, str]]
) -> Any:
    """Point an element's JS/CSS assets at our static files (instance attributes only)."""
    # Instance attributes: folium's add_js_link mutates the class-level lists in place.
    element.default_js = [(name, _static_url(path)) for name, path in js]
    element.default_css = [(name, _static_url(path)) for name, path in css]
    return element


def base_map(
    center: tuple[float, float] | None = None,
    *,
    tiles_url: str | None = None,
    tiles_enabled: bool | None = None,
    attribution: str | None = None,
    zoom_start: int = 12,
    jquery: bool = True,
) -> folium.Map:
    """Return an empty map using our vendored assets and the configured tiles.

    Parameters
    ----------
    center
        ``(lat, lon)``; default: the centre of Kota Medan.
    tiles_url
        XYZ tile URL; default: ``MAP_TILE_URL`` from the app config.
    tiles_enabled
        ``False`` draws no tile layer (a plain background, for offline use); default:
        ``MAP_TILES_ENABLED`` from the app config.
    attribution
        Tile attribution; default: ``MAP_TILE_ATTRIBUTION``.
    zoom_start
        Initial zoom level.
    jquery
        Load jQuery (87 KB), which only Folium's own ``Popup``/``add_marker`` need. Maps built
        with :func:`add_markers` alone (the residents' map) pass ``False`` to stay light.

    Returns
    -------
    folium.Map
        Add markers and layers, then pass it to :func:`render_map`.
    """
    lat, lon = center if center is not None else (KOTA_MEDAN.lat, KOTA_MEDAN.lon)
    _check_coordinates(lat, lon)
    m = folium.Map(location=[lat, lon], tiles=None, zoom_start=zoom_start, control_scale=True)
    # The map itself needs zoom limits: without a tile layer, marker clustering fails with
    # "Map has no maxZoom specified".
    m.options.update(min_zoom=3, max_zoom=19)
    js = LEAFLET_JS if jquery else tuple(a for a in LEAFLET_JS if a[0] != "jquery")
    use_vendored_assets(m, js, LEAFLET_CSS)
    enabled = _config("MAP_TILES_ENABLED") if tiles_enabled is None else tiles_enabled
    m.jb_tiles_enabled = bool(enabled)  # read by render_map for the plain background
    if enabled:
        folium.TileLayer(
            tiles=tiles_url or _config("MAP_TILE_URL"),
            attr=attribution or _config("MAP_TILE_ATTRIBUTION"),
            name="tiles",
            control=False,
            max_zoom=19,
            # Tile servers (OSM) require a Referer; see SECURITY.md finding 4.
            referrer_policy=TILE_REFERRER_POLICY,
        ).add_to(m)
    return m


def cluster(parent: Any, name: object | None = None, **options: Any) -> MarkerCluster:
    """Add and return a marker cluster layer (vendored Leaflet.markercluster)."""
    layer = MarkerCluster(name=map_text(name) if name is not None else None, **options)
    use_vendored_assets(layer, CLUSTER_JS, CLUSTER_CSS)
    layer.add_to(parent)
    return layer


def _check_coordinates(lat: float, lon: float) -> None:
    # Folium accepts inf (SECURITY.md row 21); a map must never see it.
    if not (isinstance(lat, int | float) and isinstance(lon, int | float)):
        raise ValueError(f"coordinates must be numbers, got {lat!r}, {lon!r}")
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError(f"coordinates must be finite, got {lat!r}, {lon!r}")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"coordinates out of range: {lat!r}, {lon!r}")


def _check_color(color: str) -> str:
    if not _COLOR_RE.match(color):
        raise ValueError(f"colour must be a hex colour like #2563eb, got {color!r}")
    return color


def add_marker(
    parent: Any,
    lat: float,
    lon: float,
    *,
    tooltip: object,
    popup: Markup | str | None = None,
    color: str = "#2563eb",
    label: object | None = None,
    shape: str = "dot",
) -> folium.Marker:
    """Add a pin with an escaped tooltip and popup to a map, layer or cluster.

    Parameters
    ----------
    parent
        A ``folium.Map``, ``FeatureGroup`` or :func:`cluster` layer.
    lat, lon
        Finite WGS84 coordinates (``ValueError`` otherwise).
    tooltip
        Plain text shown on hover (escaped here).
    popup
        Either :func:`popup_html` output (``Markup``) or plain text (escaped here).
    color
        Hex colour of the pin.
    label
        Short text inside the pin, e.g. a stop number ``1`` (escaped here).
    shape
        ``"dot"`` (round) or ``"square"`` (e.g. the office).

    Returns
    -------
    folium.Marker
        The marker, already added to ``parent``.
    """
    _check_coordinates(lat, lon)
    html, size = _pin_html(color, label, shape)
    icon = folium.DivIcon(
        html=html,
        icon_size=(size, size),
        icon_anchor=(size // 2, size // 2),
        class_name="jb-pin-icon",
    )
    popup_obj = folium.Popup(_popup_body(popup), max_width=320) if popup is not None else None
    marker = folium.Marker(
        location=[lat, lon],
        icon=icon,
        tooltip=folium.Tooltip(map_text(tooltip)),
        popup=popup_obj,
    )
    marker.add_to(parent)
    return marker


@dataclass(frozen=True)
class MapMarker:
    """One pin for :func:`add_markers`; texts are escaped when the layer is built."""

    lat: float
    lon: float
    tooltip: object
    popup: Markup | str | None = None
    color: str = "#2563eb"
    label: object | None = None
    shape: str = "dot"


class _MarkerData(MacroElement):
    """Many pins as one JSON array and one loop: far smaller and faster than a Folium
    ``Marker`` per pin (each compiles several Jinja templates). No template literals: the
    texts travel as JSON strings and Leaflet inserts the already-escaped HTML."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function () {
                var parent = {{ this._parent.get_name() }};
                var decoder = document.createElement("textarea");
                var data = {{ this.data|tojson }};
                var icons = data.icons.map(function (i) {
                    return L.divIcon({
                        html: i[0], className: "jb-pin-icon",
                        iconSize: [i[1], i[1]], iconAnchor: [i[1] / 2, i[1] / 2]
                    });
                });
                data.pins.forEach(function (p) {
                    // p = [lat, lon, icon index, tooltip, popup or null]. The pin's accessible
                    // name (Leaflet gives it role=button): the escaped tooltip decoded back to
                    // plain text by a <textarea>, which never runs markup, set as a property.
                    decoder.innerHTML = p[3];
                    var marker = L.marker([p[0], p[1]], {icon: icons[p[2]], title: decoder.value});
                    marker.bindTooltip(p[3], {sticky: true});
                    if (p[4]) { marker.bindPopup(p[4], {maxWidth: 320}); }
                    parent.addLayer(marker);
                });
            })();
        {% endmacro %}
        """
    )

    def __init__(self, data: dict[str, list[Any]]):
        super().__init__()
        self._name = "MarkerData"
        self.data = data


def _pin_html(color: str, label: object | None, shape: str) -> tuple[str, int]:
    _check_color(color)
    if shape not in ("dot", "square"):
        raise ValueError(f"shape must be 'dot' or 'square', got {shape!r}")
    text = map_text(label) if label is not None else ""
    size = 26 if text else 16
    html = f'<span class="jb-pin jb-pin--{shape}" style="background:{color}">{text}</span>'
    return html, size


def _popup_body(popup: Markup | str) -> str:
    return _check_safe_fragment(str(popup)) if isinstance(popup, Markup) else map_text(popup)


def add_markers(parent: Any, markers: Iterable[MapMarker]) -> int:
    """Add many pins to a map, layer or cluster at once; return how many were added.

    Use this rather than :func:`add_marker` for more than a handful of pins (a few hundred
    pins render in milliseconds). Tooltips and labels are escaped with :func:`map_text`;
    popups are :func:`popup_html` output or plain text (escaped).
    """
    # Compact: each distinct pin icon once, then one short array per pin (a few hundred pins
    # stay a few dozen KB on a phone).
    icons: dict[tuple[str, int], int] = {}
    pins: list[list[Any]] = []
    for mk in markers:
        _check_coordinates(mk.lat, mk.lon)
        icon = _pin_html(mk.color, mk.label, mk.shape)
        index = icons.setdefault(icon, len(icons))
        pins.append(
            [
                round(float(mk.lat), 6),
                round(float(mk.lon), 6),
                index,
                map_text(mk.tooltip),
                _popup_body(mk.popup) if mk.popup is not None else None,
            ]
        )
    if pins:
        parent.add_child(_MarkerData({"icons": [list(i) for i in icons], "pins": pins}))
    return len(pins)


class _Legend(MacroElement):
    """A Leaflet control showing colour swatches with labels."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            (function () {
                var legend = L.control({position: "bottomright"});
                legend.onAdd = function () {
                    var div = L.DomUtil.create("details", "jb-legend");
                    div.innerHTML = {{ this.html|tojson }};
                    // Open on wide screens; on phones it would hide half the map.
                    div.open = window.innerWidth > 600;
                    L.DomEvent.disableClickPropagation(div);
                    return div;
                };
                legend.addTo({{ this._parent.get_name() }});
            })();
        {% endmacro %}
        """
    )

    def __init__(self, html: str):
        super().__init__()
        self._name = "Legend"
        self.html = html


def add_legend(m: folium.Map, title: object, items: Iterable[tuple[str, object]]) -> None:
    """Add a legend of ``(hex colour, label)`` items to the map; labels are escaped."""
    rows = "".join(
        f'<li><span class="jb-swatch" style="background:{_check_color(color)}"></span>'
        f"{map_text(label)}</li>"
        for color, label in items
    )
    _Legend(f"<summary>{map_text(title)}</summary><ul>{rows}</ul>").add_to(m)


_SCRIPT_TAG_RE = re.compile(r"<script\b(?![^>]*\bnonce=)", re.IGNORECASE)
_ABSOLUTE_URL_RE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)""", re.I)


def _is_local(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//")


def _script_body(js: str) -> str:
    # Nothing inside an inline script may close it or open an HTML comment; in JS source
    # "<\/" equals "</" inside strings and regular expressions.
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    return js.replace("<!--", "<\\!--")


def render_map(
    m: folium.Map,
    *,
    height: str = "480px",
    label: object = "",
    nonce: str | None = None,
) -> Markup:
    """Render a map into an HTML fragment for our templates, with CSP nonces.

    The fragment holds the vendored ``<link>``/``<script src>`` tags, the map's ``<div>`` and
    one inline ``<script nonce=...>``. Folium's page-level styles (``html, body {height:100%}``)
    are dropped; ``static/app.css`` styles ``.jb-map``.

    Parameters
    ----------
    m
        A map from :func:`base_map` (or any ``folium.Map`` whose assets are vendored).
    height
        CSS height of the map box, e.g. ``"480px"`` or ``"60vh"``.
    label
        Accessible name of the map region (escaped).
    nonce
        CSP nonce; default: this response's :func:`outreach.security.csp_nonce`.

    Returns
    -------
    Markup
        Safe to insert with ``{{ map_html }}``.

    Raises
    ------
    UnsafeMapContent
        If an element asks for an asset outside our origin.
    """
    _check_height(height)
    parts = getattr(m, "_jb_parts", None)
    if parts is None:
        # Folium's render mutates the tree (a Marker adds a SetIcon child each time), so the
        # map is rendered once and its parts kept; only the nonce changes per call.
        parts = _render_parts(m)
        m._jb_parts = parts
    return _fragment(parts, getattr(m, "jb_tiles_enabled", True), height, label, nonce)


def _check_height(height: str) -> None:
    if not _CSS_SIZE_RE.match(height):
        raise ValueError(f"height must be a CSS length like 480px or 60vh, got {height!r}")


def _fragment(
    parts: tuple[list[str], list[str], str, str, str],
    tiles_enabled: bool,
    height: str,
    label: object,
    nonce: str | None,
) -> Markup:
    """The HTML fragment of rendered map parts, with this response's nonce on every script."""
    nonce = nonce or csp_nonce()
    nonce_attr = f'nonce="{escape(nonce)}"'
    css, js, head_html, body_html, script = parts

    out = [f'<link rel="stylesheet" href="{escape(url)}">' for url in css]
    out += [f'<script src="{escape(url)}" {nonce_attr}></script>' for url in js]
    out.append(_SCRIPT_TAG_RE.sub(f"<script {nonce_attr}", head_html))
    classes = "jb-map" if tiles_enabled else "jb-map jb-map--plain"
    out.append(
        f'<div class="{classes}" style="height:{height}" role="region" '
        f'aria-label="{map_text(label)}">{body_html}</div>'
    )
    out.append(f"<script {nonce_attr}>{script}</script>")
    return Markup("\n".join(out))


# Rendered maps kept per app (see render_map_cached): a few per page kind are plenty, and
# entries whose key no longer matches the data are never served, only evicted.
MAP_CACHE_SIZE = 24


def _map_cache() -> tuple[threading.Lock, OrderedDict[str, Any]]:
    cache = current_app.extensions.get("jb_map_parts")
    if cache is None:
        cache = current_app.extensions.setdefault("jb_map_parts", (threading.Lock(), OrderedDict()))
    return cache


def render_map_cached(
    key: object,
    build: Callable[[], folium.Map],
    *,
    height: str = "480px",
    label: object = "",
    nonce: str | None = None,
) -> Markup:
    """``render_map(build())`` for a map whose whole content is described by ``key``.

    Building a Folium map and rendering it costs tens of milliseconds per page (branca
    compiles every element's rendered output as a Jinja template again, and a tile layer looks
    its URL up among every xyzservices provider), while the same map is shown again and again:
    a dashboard or a review page reloaded, residents opening the same public map. The rendered
    parts are kept per app in a small LRU under a digest of ``key`` and of everything else a
    map reads (tile settings, static URL, the request's language); only the nonce and the
    label change per response, exactly as with :func:`render_map`.

    ``key`` must hold every value the map is built from (``repr`` is hashed): a change of
    data gives another key, so a stale map is never served.
    """
    _check_height(height)
    from flask_babel import get_locale

    digest = hashlib.sha256(
        repr(
            (
                key,
                _config("MAP_TILES_ENABLED"),
                _config("MAP_TILE_URL"),
                _config("MAP_TILE_ATTRIBUTION"),
                _static_url(""),
                str(get_locale()) if has_request_context() else "",
            )
        ).encode()
    ).hexdigest()
    lock, cache = _map_cache()
    with lock:
        hit = cache.get(digest)
        if hit is not None:
            cache.move_to_end(digest)
    if hit is None:
        m = build()
        hit = (_render_parts(m), bool(getattr(m, "jb_tiles_enabled", True)))
        with lock:
            cache[digest] = hit
            while len(cache) > MAP_CACHE_SIZE:
                cache.popitem(last=False)
    parts, tiles_enabled = hit
    return _fragment(parts, tiles_enabled, height, label, nonce)


def _render_parts(m: folium.Map) -> tuple[list[str], list[str], str, str, str]:
    """Render a map once: asset URLs (CSS, JS), extra head HTML, body HTML and script."""
    figure = m.get_root()
    figure.render()  # fills figure.header / .html / .script from every element
    css: list[str] = []
    js: list[str] = []
    extra_head: list[str] = []
    for name, child in figure.header._children.items():
        if isinstance(child, JavascriptLink | CssLink):
            if not _is_local(child.url):
                raise UnsafeMapContent(f"foreign map asset {child.url!r}: vendor it")
            (js if isinstance(child, JavascriptLink) else css).append(child.url)
        elif name == m.get_name() or name == "meta_http":
            continue  # Folium's full-page styles and meta tags: not for an embedded map
        elif isinstance(child, Element):
            extra_head.append(child.render())
    head_html = "".join(extra_head)
    if _ABSOLUTE_URL_RE.search(head_html):
        raise UnsafeMapContent("a map element's header loads a foreign resource")
    return css, js, head_html, figure.html.render(), _script_body(figure.script.render())


def _count(value: int) -> str:
    """A count in the reader's locale (4.000 in Indonesian) inside a request, else plain."""
    if not has_request_context():
        return str(value)
    from .navigation import format_decimal  # memoised flask_babel.format_decimal

    return format_decimal(value)


def _hotspot_popup(hotspot: Any, text: dict[str, str]) -> Markup:
    rows: list[tuple[object, object]] = [
        (text["kind"], text["kind:" + str(hotspot.kind)]),
        (text["kelurahan"], f"{hotspot.kelurahan_name} ({hotspot.kelurahan_code})"),
        (text["kecamatan"], hotspot.kecamatan_name),
        (text["priority"], text.get(f"priority:{hotspot.priority}", str(hotspot.priority))),
    ]
    for demand in hotspot.demands:
        rows.append(
            (
                text.get("service:" + demand.service, demand.service),
                text["remaining_of"]
                % {"remaining": _count(demand.remaining), "requested": _count(demand.requested)},
            )
        )
    return popup_html(hotspot.name, rows)


def _popup_texts() -> dict[str, str]:
    """Resolve the popup's translated labels once per map (gettext per pin is slow)."""
    from flask_babel import gettext as _

    text = {
        "kind": _("Kind"),
        "kelurahan": _("Kelurahan"),
        "kecamatan": _("Kecamatan"),
        "priority": _("Priority"),
        # Without arguments gettext returns the %-format itself; filled in per pin.
        "remaining_of": _("%(remaining)s of %(requested)s remaining"),
    }
    text.update({f"kind:{k}": str(v) for k, v in KIND_LABELS.items()})
    text.update({f"priority:{k}": str(v) for k, v in PRIORITY_LABELS.items()})
    text.update({f"service:{k}": service_label(k) for k in SERVICE_LABELS})
    return text


def hotspot_map(
    hotspots: Iterable[Any],
    office: Any | None = None,
    *,
    tiles_url: str | None = None,
    tiles_enabled: bool | None = None,
    color_by: str = "kind",
    cluster_above: int = 40,
) -> folium.Map:
    """Build the coordinators' hotspot map: one pin per site, popups, clustering, a legend.

    Parameters
    ----------
    hotspots
        ``Hotspot`` rows (with ``demands`` loaded); sites without coordinates are skipped.
    office
        The ``Office``: centres the map and gets its own square pin.
    tiles_url, tiles_enabled
        See :func:`base_map`.
    color_by
        ``"kind"`` or ``"priority"``.
    cluster_above
        Cluster the pins when there are more sites than this.

    Returns
    -------
    folium.Map
        Ready for :func:`render_map`.
    """
    from flask_babel import gettext as _

    if color_by not in ("kind", "priority"):
        raise ValueError(f"color_by must be 'kind' or 'priority', got {color_by!r}")
    placed = [
        h
        for h in hotspots
        if h.lat is not None and h.lon is not None and math.isfinite(h.lat) and math.isfinite(h.lon)
    ]
    center = (office.lat, office.lon) if office is not None else None
    m = base_map(center, tiles_url=tiles_url, tiles_enabled=tiles_enabled)
    layer: Any = cluster(m, _("Sites")) if len(placed) > cluster_above else m

    text = _popup_texts()
    remaining_tip = _("%(name)s – %(remaining)d remaining")
    pins = []
    for h in placed:
        if color_by == "kind":
            color = KIND_COLORS.get(str(h.kind), KIND_COLORS[HotspotKind.OTHER.value])
        else:
            color = PRIORITY_COLORS.get(int(h.priority), PRIORITY_COLORS[3])
        tip = remaining_tip % {"name": h.name, "remaining": h.remaining_total}
        pins.append(
            MapMarker(h.lat, h.lon, tooltip=tip, popup=_hotspot_popup(h, text), color=color)
        )
    add_markers(layer, pins)

    if office is not None:
        add_marker(
            m,
            office.lat,
            office.lon,
            tooltip=office.name,
            popup=popup_html(office.name, [(_("Address"), office.address)]),
            color=OFFICE_COLOR,
            label="D",
            shape="square",
        )

    if color_by == "kind":
        present = {str(h.kind) for h in placed}
        items = [(KIND_COLORS[k], KIND_LABELS[k]) for k in KIND_COLORS if k in present]
        title = _("Kind of site")
    else:
        items = [(PRIORITY_COLORS[p], PRIORITY_LABELS[p]) for p in sorted(PRIORITY_COLORS)]
        title = _("Priority")
    if office is not None:
        items.append((OFFICE_COLOR, _("Dukcapil office")))
    add_legend(m, title, items)

    if placed:
        lats = [h.lat for h in placed]
        lons = [h.lon for h in placed]
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(20, 20))
    return m


def hotspot_map_key(
    hotspots: Iterable[Any],
    office: Any | None = None,
    *,
    color_by: str = "kind",
    cluster_above: int = 40,
) -> tuple:
    """Everything :func:`hotspot_map` reads, for :func:`render_map_cached` (keep in step)."""
    return (
        "hotspot-map",
        color_by,
        cluster_above,
        (office.lat, office.lon, office.name, office.address) if office is not None else None,
        [
            (
                h.lat,
                h.lon,
                str(h.kind),
                h.priority,
                h.name,
                h.kelurahan_name,
                h.kelurahan_code,
                h.kecamatan_name,
                [(d.service, d.remaining, d.requested) for d in h.demands],
            )
            for h in hotspots
        ],
    )
