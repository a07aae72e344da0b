"""Layout helpers for ``templates/base.html``: the role's navigation and the language switch.

Registered on the app by the public blueprint (the one blueprint every deployment has), so any
template can call ``endpoint_url(...)`` and use ``nav_items``, ``lang_links``, ``current_lang``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from babel import numbers as babel_numbers
from flask import Flask, current_app, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .models import Role


@dataclass(frozen=True)
class NavItem:
    """One link of the top bar."""

    label: Any  # a lazy translated string
    href: str
    active: bool


def endpoint_url(endpoint: str, fallback: str, **values: Any) -> str:
    """Return ``url_for(endpoint)`` if that view exists, else the plain ``fallback`` path.

    Pages built later (hotspots, import) are linked before their views land.
    """
    if endpoint in current_app.view_functions:
        return url_for(endpoint, **values)
    return fallback


# (label, endpoint, fallback path) per audience, in top-bar order.
_COORDINATOR_NAV = (
    (_l("Dashboard"), "coord.dashboard", "/coord/"),
    (_l("Sites"), "coord.hotspots", "/coord/hotspots"),
    (_l("Import"), "coord.imports", "/coord/imports"),
    (_l("Teams"), "coord.teams", "/coord/teams"),
    (_l("Plans"), "coord.plans_index", "/coord/plans"),
    (_l("Requests"), "coord.requests", "/coord/requests"),
)
_FIELD_NAV = (
    (_l("Today's route"), "field.home", "/field/"),
    (_l("My devices"), "field.devices", "/field/devices"),
)
_PUBLIC_NAV = ((_l("Service schedule"), "public.home", "/"),)


def nav_items() -> list[NavItem]:
    """Return the top-bar links for the current user's role (deny-by-default still applies)."""
    role = getattr(current_user, "role", None) if current_user.is_authenticated else None
    if role in (Role.COORDINATOR, Role.ADMIN):
        entries = _COORDINATOR_NAV
    elif role == Role.FIELD:
        entries = _FIELD_NAV
    else:
        entries = _PUBLIC_NAV
    items = []
    for label, endpoint, fallback in entries:
        href = endpoint_url(endpoint, fallback)
        # Section roots ("/coord/", "/") would match every page below them: exact match only.
        active = request.path == href or (
            not href.endswith("/") and request.path.startswith(href + "/")
        )
        items.append(NavItem(label, href, active))
    return items


def current_lang() -> str:
    """Return the language code of this response (``id`` or ``en``)."""
    locale = get_locale()
    return locale.language if locale is not None else current_app.config["BABEL_DEFAULT_LOCALE"]


def lang_links() -> list[dict[str, Any]]:
    """Links to this page in each language, keeping the other query parameters."""
    names = {"id": "Bahasa Indonesia", "en": "English"}
    short = {"id": "ID", "en": "EN"}
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    current = current_lang()
    return [
        {
            "code": code,
            "label": short.get(code, code.upper()),
            "title": names.get(code, code),
            # Query-only relative URL: the browser keeps the current path. Never echo
            # request.path, which could be "//evil.example/" on a 404 page.
            "href": "?" + urlencode([*args, ("lang", code)]),
            "active": code == current,
        }
        for code in current_app.config["LANGUAGES"]
    ]


@lru_cache(maxsize=8192, typed=True)
def _format_decimal(value: Any, pattern: str | None, locale: Any) -> str:
    return babel_numbers.format_decimal(value, format=pattern, locale=locale)


def format_decimal(value: Any, format: str | None = None) -> str:  # noqa: A002 - Babel's name
    """``flask_babel.format_decimal``, remembered per value, pattern and language.

    Babel parses the pattern and quantises the number on every call (~25 µs); a review page
    or a dashboard formats the same few hundred counts over and over (1,000+ calls a page).
    The result depends on nothing else, so it is computed once per process. ``typed``: 1 and
    1.0 are kept apart, like Babel would format them.
    """
    return _format_decimal(value, format, get_locale())


def format_count(value: int | float | None) -> str:
    """Format a count with the language's grouping (4.000 in Indonesian, 4,000 in English)."""
    return format_decimal(value or 0)


def format_fixed(value: int | float | None, digits: int = 1) -> str:
    """Format a measure with ``digits`` decimals in the language's style.

    ``600,8`` km in Indonesian, ``600.8`` in English; thousands grouped (``1.234,5``).
    ``None`` gives an en dash.
    """
    if value is None:
        return "–"
    pattern = "#,##0." + "0" * digits if digits > 0 else "#,##0"
    return format_decimal(round(float(value), digits), format=pattern)


def format_coordinate(value: float | None) -> str:
    """Format a latitude or longitude with five decimals (about a metre) in the language's style."""
    if value is None:
        return "–"
    return format_decimal(round(float(value), 5), format="0.00000")


def install(app: Flask) -> None:
    """Make the layout helpers available to every template."""
    app.add_template_global(endpoint_url)
    app.add_template_global(nav_items)
    app.add_template_global(lang_links)
    app.add_template_global(current_lang)
    app.add_template_filter(format_count, "num")
    app.add_template_filter(format_fixed, "dec")
    app.add_template_filter(format_coordinate, "coord")
