"""Planning core: sites, teams and days in, checked routes out.

A pure package (no Flask, no SQLAlchemy). Build a :class:`Problem` (validated frozen
dataclasses, times in seconds, distances in metres), call :func:`solve` with
:class:`SolveParams`, get a :class:`Result` (routes, unserved sites with reason codes,
KPIs, ``to_dict()``); :func:`check` verifies any result against the problem alone.
Only :mod:`outreach.planning.solver` and :mod:`outreach.planning.model` import OR-Tools.
Seeded Medan-like instances live in :mod:`outreach.planning.synthetic`.
"""

from outreach.planning.checker import Violation, check
from outreach.planning.domain import (
    CARD_SERVICES,
    DEFAULT_SECONDS_PER_PERSON,
    FRIDAY_PRAYER,
    OFFICE_WEEK,
    Break,
    Location,
    Lock,
    Place,
    Problem,
    Service,
    Shift,
    Site,
    Team,
    TimeWindow,
    TravelProvider,
    Vehicle,
    build_shifts,
    date_range,
    hm,
    national_holidays,
)
from outreach.planning.explain import REASONS
from outreach.planning.result import BreakTaken, Result, Route, Stop, Unserved
from outreach.planning.solver import Progress, SolveParams, solve
from outreach.planning.travel import ExplicitMatrix, GreatCircleTravel, OsrmTableProvider

__all__ = [
    "REASONS",
    "BreakTaken",
    "Progress",
    "Result",
    "Route",
    "SolveParams",
    "Stop",
    "Unserved",
    "Violation",
    "check",
    "solve",
    "CARD_SERVICES",
    "DEFAULT_SECONDS_PER_PERSON",
    "FRIDAY_PRAYER",
    "OFFICE_WEEK",
    "Break",
    "ExplicitMatrix",
    "GreatCircleTravel",
    "Location",
    "Lock",
    "OsrmTableProvider",
    "Place",
    "Problem",
    "Service",
    "Shift",
    "Site",
    "Team",
    "TimeWindow",
    "TravelProvider",
    "Vehicle",
    "build_shifts",
    "date_range",
    "hm",
    "national_holidays",
]
