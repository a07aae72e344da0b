"""Human labels for enums and plan reasons, translated (English msgids, Indonesian catalogue).

Lazy strings: they resolve to the request's language when rendered. Use ``str(label)`` when a
plain string is needed (e.g. before escaping it for a map).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from babel.lists import format_list
from flask_babel import format_date, format_decimal, get_locale
from flask_babel import lazy_gettext as _l

from .extensions import db
from .models import HotspotKind, OutcomeProblem, Role, Service, Team, TurnAwayReason, VehicleKind

SERVICE_LABELS = {
    Service.KTP_RECORD.value: _l("KTP-el recording"),
    Service.KTP_PRINT.value: _l("KTP-el printing"),
    Service.BIRTH_CERT.value: _l("Birth certificate"),
    Service.KIA.value: _l("Child ID card (KIA)"),
}

# Column headers where space is short (tables); the full label goes in a title attribute.
SERVICE_SHORT_LABELS = {
    Service.KTP_RECORD.value: _l("Recording"),
    Service.KTP_PRINT.value: _l("Printing"),
    Service.BIRTH_CERT.value: _l("Birth cert."),
    Service.KIA.value: _l("KIA"),
}

# What a field team reports at a stop (field pages and the coordinator dashboard).
PROBLEM_LABELS = {
    OutcomeProblem.KIT_BROKEN.value: _l("Recording kit broken"),
    OutcomeProblem.NO_POWER.value: _l("No electricity"),
    OutcomeProblem.NO_NETWORK.value: _l("No network"),
    OutcomeProblem.SITE_CLOSED.value: _l("Site closed"),
}

TURN_AWAY_LABELS = {
    TurnAwayReason.NO_DOCUMENTS.value: _l("No documents (KK or birth certificate)"),
    TurnAwayReason.NOT_ELIGIBLE.value: _l("Not eligible (age or residence)"),
    TurnAwayReason.ALREADY_RECORDED.value: _l("Already recorded"),
    TurnAwayReason.OUT_OF_TIME.value: _l("Out of time"),
    TurnAwayReason.OUT_OF_CARDS.value: _l("Out of blank cards"),
    TurnAwayReason.EQUIPMENT.value: _l("Kit or network failed"),
}

KIND_LABELS = {
    HotspotKind.SCHOOL.value: _l("School"),
    HotspotKind.OFFICE.value: _l("Kelurahan office"),
    HotspotKind.HOSPITAL.value: _l("Hospital"),
    HotspotKind.SOCIAL_HOME.value: _l("Social or nursing home"),
    HotspotKind.PRISON.value: _l("Prison"),
    HotspotKind.MARKET.value: _l("Market or mall"),
    HotspotKind.HOME.value: _l("Home visit"),
    HotspotKind.VILLAGE_HALL.value: _l("Village hall"),
    HotspotKind.OTHER.value: _l("Other"),
}

VEHICLE_LABELS = {
    VehicleKind.CAR.value: _l("Car"),
    VehicleKind.MOTORBIKE.value: _l("Motorbike"),
    VehicleKind.BOAT.value: _l("Boat"),
}

ROLE_LABELS = {
    Role.ADMIN.value: _l("Administrator"),
    Role.COORDINATOR.value: _l("Coordinator"),
    Role.FIELD.value: _l("Field team"),
}

# Priority 1–5 as documented on the model: 1 = most urgent … 5 = can wait.
PRIORITY_LABELS = {
    1: _l("1 – most urgent"),
    2: _l("2 – urgent"),
    3: _l("3 – normal"),
    4: _l("4 – low"),
    5: _l("5 – can wait"),
}


def service_label(service: str) -> str:
    """Return the translated label of a service code (the code itself if unknown)."""
    label = SERVICE_LABELS.get(str(service))
    return str(label) if label is not None else str(service)


def kind_label(kind: str) -> str:
    """Return the translated label of a hotspot kind (the code itself if unknown)."""
    label = KIND_LABELS.get(str(kind))
    return str(label) if label is not None else str(kind)


# -- why a hotspot is left out of a plan --------------------------------------------------------

# Reason code -> sentence. The codes are those of ``outreach.planning.explain`` (the planning
# engine) and ``outreach.plans.adapter`` (left out before solving); they are spelled out here so
# that this module does not import the planner (tests check that the two lists agree). The
# %(name)s values are the engine's message parameters, rendered by ``unserved_reason``.
UNSERVED_REASONS = {
    "LOCK_CONFLICT": _l("It is locked to team %(team)s on %(date)s, where it cannot be served."),
    "NO_TEAM_OFFERS_SERVICE": _l("No team offers %(services)s."),
    "NO_PRINTER": _l("KTP-el printing is requested but no team offering it has a printer."),
    "HOURS_NEVER_MEET_SHIFT": _l(
        "Its opening hours never overlap a working shift of a team that offers its services."
    ),
    "UNREACHABLE_WITHIN_SHIFT": _l(
        "No team can reach it, serve %(persons)s persons within its opening hours and return "
        "before the end of the shift."
    ),
    "CARDS_EXHAUSTED": _l("Not enough blank cards left for %(cards)s KTP-el prints."),
    "SEARCH_STOPPED": _l(
        "The search stopped before placing it, although a team-day is still free; plan again "
        "with more time."
    ),
    "OUTRANKED": _l(
        "It would fit on its own, but the teams' time on the days that could take it went to "
        "sites of the same or higher priority."
    ),
    "NOT_PLACED": _l(
        "%(team)s could serve it on %(date)s only in place of %(persons)s residents of lower "
        "priority, who count for more by priority and number. Lock it to that day to put it "
        "first."
    ),
    "IDLE_TIME_UNUSED": _l(
        "%(team)s has idle time on %(date)s while it is open, long enough to serve it, but the "
        "drive there and on to the next stop does not fit that time and the search found no "
        "other arrangement. Plan again with more time, or lock it to that day."
    ),
    "needs_location": _l(
        "The location is not known yet: put a pin on the map so this point can be planned."
    ),
    "dropped_by_coordinator": _l("Removed from the plan by the coordinator."),
}

# NO_TEAM_OFFERS_SERVICE when each service has a team but no team offers all of them: the
# engine then sends services as "ktp_record + ktp_print together".
_SERVICES_TOGETHER = _l("No single team offers %(services)s together.")
_TOGETHER_SUFFIX = " together"


def _service_list(codes: list[str]) -> str:
    labels = [service_label(c.strip()) for c in codes if c.strip()]
    if not labels:
        raise ValueError("no services")
    return format_list(labels, locale=get_locale() or "id")


def _param(name: str, value: str, team_names: Mapping[str, str] | None) -> str:
    if name == "date":
        return format_date(date.fromisoformat(value), "EEEE, d MMMM y")
    if name in ("persons", "cards"):
        return format_decimal(int(value))
    if name == "team":
        return (team_names or {}).get(value, value)
    if name == "services":
        return _service_list(value.split(","))
    return value


def unserved_reason(
    code: str | None,
    params: Mapping[str, Any] | None,
    fallback_text: str | None,
    team_names: Mapping[str, str] | None = None,
) -> str:
    """Why a hotspot is left out of a plan, as a sentence in the request's language.

    ``code`` and ``params`` are what the plan stores (``PlanUnserved.reason_code`` and
    ``reason_params``): services are shown with their labels, dates in the language's long
    form, counts with its grouping and a team by its name from ``team_names`` (team id ->
    name). An unknown code, or a sentence whose values are missing or malformed, gives
    ``fallback_text`` (the sentence stored with the row).
    """
    fallback = fallback_text or code or ""
    template = UNSERVED_REASONS.get(code or "")
    if template is None:
        return fallback
    raw = {str(k): str(v) for k, v in (params or {}).items()}
    if code == "NO_TEAM_OFFERS_SERVICE" and raw.get("services", "").endswith(_TOGETHER_SUFFIX):
        template = _SERVICES_TOGETHER
        raw["services"] = raw["services"].removesuffix(_TOGETHER_SUFFIX).replace("+", ",")
    try:
        values = {k: _param(k, v, team_names) for k, v in raw.items()}
        return str(template) % values
    except (KeyError, ValueError, TypeError):
        return fallback


def unserved_reasons(rows: Iterable[Any]) -> dict[Any, str]:
    """``unserved_reason`` of each ``PlanUnserved`` row, keyed by the row (teams named from DB)."""
    rows = list(rows)
    team_ids = {
        int(p["team"]) for r in rows if (p := r.reason_params) and str(p.get("team", "")).isdigit()
    }
    names = {}
    if team_ids:
        teams = db.session.execute(sa.select(Team.id, Team.name).where(Team.id.in_(team_ids)))
        names = {str(i): n for i, n in teams}
    # Most rows share their reason (the same code, often without values): each distinct
    # (code, values, stored text) is worded once, not once per row (dates and lists are slow).
    worded: dict[tuple[Any, ...], str] = {}
    out: dict[Any, str] = {}
    for r in rows:
        params = r.reason_params
        # the sentence reads the values as strings (see unserved_reason)
        values = tuple(sorted((str(k), str(v)) for k, v in (params or {}).items()))
        key = (r.reason_code, values, r.reason_text)
        if key not in worded:
            worded[key] = unserved_reason(r.reason_code, params, r.reason_text, names)
        out[r] = worded[key]
    return out


# -- home-visit requests (issue 9) --------------------------------------------------------------

# Who files a home-visit request for the person to visit (``VisitRequest.requester_relation``).
# A relative or a health worker often asks for a bedridden or disabled person (UU PDP: the
# relationship is recorded with the consent).
REQUEST_RELATION_LABELS = {
    "self": _l("Myself"),
    "family": _l("Family member"),
    "neighbour": _l("Neighbour"),
    "health_worker": _l("Health worker or carer"),
    "rt_rw": _l("Head of RT/RW"),
    "other": _l("Other"),
}

# Why the person cannot come to the office (``VisitRequest.reason``).
REQUEST_REASON_LABELS = {
    "bedridden": _l("Bedridden (cannot leave bed)"),
    "elderly": _l("Elderly, cannot travel"),
    "disability": _l("Disability"),
    "hospital": _l("Patient in hospital"),
}

# Why a coordinator turned a request down (``VisitRequest.rejection_reason``): the requester
# sees this label on the status page, so it is a fixed category, never free text.
REQUEST_REJECTION_LABELS = {
    "outside_area": _l("The address is outside this office's area"),
    "duplicate": _l("The same request was already received"),
    "can_visit_office": _l("The person can come to the office"),
    "already_recorded": _l("Not eligible: the person is already recorded"),
    "unreachable": _l("We could not reach you by phone"),
}

# Request status for coordinators (the queue tabs and the detail page).
REQUEST_STATUS_LABELS = {
    "received": _l("New"),
    "accepted": _l("Accepted"),
    "rejected": _l("Rejected"),
    "done": _l("Done"),
}


# -- break names (issue 10) ---------------------------------------------------------------------

# Team shifts store a break's name as typed (the defaults are Indonesian: "Istirahat",
# "Sholat Jumat"); the known default names are shown in the reader's language.
BREAK_LABELS = {
    "istirahat": _l("Break"),
    "istirahat siang": _l("Lunch break"),
    "makan siang": _l("Lunch break"),
    "sholat jumat": _l("Friday prayer"),
    "shalat jumat": _l("Friday prayer"),
    "salat jumat": _l("Friday prayer"),
    "jumatan": _l("Friday prayer"),
    "break": _l("Break"),
    "lunch": _l("Lunch break"),
    "lunch break": _l("Lunch break"),
    "friday prayer": _l("Friday prayer"),
}


def break_label(name: str | None) -> str:
    """A break's name in the reader's language: known default names translated, others as typed."""
    key = " ".join(str(name or "").replace("'", "").lower().split())
    if not key:
        return str(_l("Break"))
    label = BREAK_LABELS.get(key)
    return str(label) if label is not None else str(name)
