"""The result of a solve: routes, stops, unserved sites and KPIs, as a value object.

Times are stored as integer seconds from the horizon's first local midnight (the
solver's clock) and rendered as ISO 8601 with the office's UTC offset on output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from outreach.planning.domain import Service

FEASIBLE_STATUSES = frozenset(
    {
        "ROUTING_SUCCESS",
        "ROUTING_OPTIMAL",
        "ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED",
        "GREEDY_FALLBACK",
    }
)


@dataclass(frozen=True)
class Stop:
    """One visit: a team serves ``persons`` at a site.

    ``arrival`` ≤ ``start`` < ``end`` are seconds on the solver clock; ``end - start`` is
    setup plus service time for the visiting team.
    """

    site_id: str
    visit: int
    arrival: int
    start: int
    end: int
    persons: Mapping[Service, int] = field(hash=False)
    cards: int
    distance_m: int
    travel_s: int

    @property
    def total_persons(self) -> int:
        return sum(self.persons.values())


@dataclass(frozen=True)
class BreakTaken:
    """A break as scheduled within a route.

    During a ``fixed`` break (Friday prayer) no site is served but the team may drive;
    a flexible break pauses everything, travel included.
    """

    name: str
    start: int
    end: int
    fixed: bool = False


@dataclass(frozen=True)
class Route:
    """The stops of one team on one date, from leaving the start to reaching the end."""

    team_id: str
    date: date
    depart: int
    arrive: int
    stops: tuple[Stop, ...]
    breaks: tuple[BreakTaken, ...]
    distance_m: int
    travel_s: int

    @property
    def duration_s(self) -> int:
        return self.arrive - self.depart if self.stops else 0

    @property
    def service_s(self) -> int:
        return sum(s.end - s.start for s in self.stops)

    @property
    def persons(self) -> int:
        return sum(s.total_persons for s in self.stops)

    @property
    def cards(self) -> int:
        return sum(s.cards for s in self.stops)


@dataclass(frozen=True)
class Unserved:
    """Persons of a site the plan does not serve, with the reason why."""

    site_id: str
    persons: Mapping[Service, int] = field(hash=False)
    reason: str
    message: str
    partial: bool = False
    params: Mapping[str, str] = field(default_factory=dict, hash=False)
    """The values named in the reason's message template (for translating by code)."""

    @property
    def total_persons(self) -> int:
        return sum(self.persons.values())


@dataclass(frozen=True)
class Result:
    """Outcome of :func:`outreach.planning.solve`.

    Attributes
    ----------
    status
        Solver status name (``RoutingSearchStatus`` enum name, e.g. ``ROUTING_SUCCESS``),
        or ``CANCELLED`` / ``NO_VEHICLES``, or ``GREEDY_FALLBACK`` when the solver's
        construction found nothing in time and the greedy plan was returned.
    routes
        Non-empty routes, ordered by date then team.
    unserved
        Sites (or remainders of split sites) left out, each with a reason code.
    horizon_start
        Date of the solver clock's zero (local midnight).
    utc_offset_minutes
        Office offset used for ISO output.
    objective
        Solver objective (penalties + travel cost), for comparison between runs.
    runtime_s
        Wall time of the solve.
    required_missing
        Ids of ``required`` sites not fully served.
    """

    status: str
    routes: tuple[Route, ...]
    unserved: tuple[Unserved, ...]
    horizon_start: date
    utc_offset_minutes: int
    objective: int
    runtime_s: float
    requested: Mapping[str, Mapping[Service, int]] = field(hash=False, default_factory=dict)
    priorities: Mapping[str, int] = field(hash=False, default_factory=dict)
    team_capacity_s: Mapping[str, int] = field(hash=False, default_factory=dict)
    required_missing: tuple[str, ...] = ()
    progress: tuple[tuple[float, int, float], ...] = ()
    timings: Mapping[str, float] = field(hash=False, default_factory=dict)
    """Seconds per phase: build, construction, search, extract (for benchmarks)."""
    search_routes: tuple[Route, ...] | None = field(default=None, hash=False, compare=False)
    """The routes as the search left them, before the gap-filling step (``None`` when the
    step changed nothing or did not run); for benchmarks and tests."""

    # -- time -------------------------------------------------------------------------

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(minutes=self.utc_offset_minutes))

    def iso(self, seconds: int) -> str:
        """Render a solver-clock time as ISO 8601 with the office's offset."""
        base = datetime(
            self.horizon_start.year,
            self.horizon_start.month,
            self.horizon_start.day,
            tzinfo=self.tz,
        )
        return (base + timedelta(seconds=seconds)).isoformat()

    # -- KPIs -------------------------------------------------------------------------

    @property
    def distance_m(self) -> int:
        return sum(r.distance_m for r in self.routes)

    @property
    def served(self) -> dict[Service, int]:
        out: dict[Service, int] = {s: 0 for s in Service}
        for r in self.routes:
            for stop in r.stops:
                for s, n in stop.persons.items():
                    out[s] += n
        return out

    @property
    def requested_total(self) -> dict[Service, int]:
        out: dict[Service, int] = {s: 0 for s in Service}
        for demand in self.requested.values():
            for s, n in demand.items():
                out[s] += n
        return out

    @property
    def persons_served(self) -> int:
        return sum(self.served.values())

    @property
    def persons_requested(self) -> int:
        return sum(self.requested_total.values())

    def served_by_priority(self) -> dict[int, tuple[int, int]]:
        """Priority -> (persons served, persons requested)."""
        out = {p: [0, 0] for p in range(1, 6)}
        for site_id, demand in self.requested.items():
            out[self.priorities.get(site_id, 3)][1] += sum(demand.values())
        for r in self.routes:
            for stop in r.stops:
                out[self.priorities.get(stop.site_id, 3)][0] += stop.total_persons
        return {p: (v[0], v[1]) for p, v in out.items() if v[1]}

    def utilisation(self) -> dict[str, float]:
        """Team id -> share of shift time (minus breaks) spent serving residents."""
        busy: dict[str, int] = {t: 0 for t in self.team_capacity_s}
        for r in self.routes:
            busy[r.team_id] = busy.get(r.team_id, 0) + r.service_s
        return {
            t: (busy[t] / cap if cap else 0.0)
            for t, cap in self.team_capacity_s.items()
            if t in busy
        }

    def is_feasible(self) -> bool:
        """Whether the solver found a plan and every required site is served."""
        return self.status in FEASIBLE_STATUSES and not self.required_missing

    def summary(self) -> str:
        """A short human-readable summary."""
        lines = [
            f"status: {self.status} ({'feasible' if self.is_feasible() else 'NOT feasible'})",
            f"residents served: {self.persons_served} of {self.persons_requested}",
            f"routes: {len(self.routes)}, distance: {self.distance_m / 1000:.1f} km, "
            f"runtime: {self.runtime_s:.1f} s",
        ]
        for p, (got, want) in sorted(self.served_by_priority().items()):
            lines.append(f"  priority {p}: {got}/{want}")
        reasons: dict[str, int] = {}
        for u in self.unserved:
            reasons[u.reason] = reasons.get(u.reason, 0) + 1
        if reasons:
            lines.append("unserved: " + ", ".join(f"{k} × {v}" for k, v in sorted(reasons.items())))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable representation (ISO 8601 times, km with 3 decimals)."""
        return {
            "status": self.status,
            "feasible": self.is_feasible(),
            "objective": self.objective,
            "runtime_s": round(self.runtime_s, 3),
            "distance_km": round(self.distance_m / 1000, 3),
            "routes": [
                {
                    "team_id": r.team_id,
                    "date": r.date.isoformat(),
                    "depart": self.iso(r.depart),
                    "arrive": self.iso(r.arrive),
                    "distance_km": round(r.distance_m / 1000, 3),
                    "minutes": round(r.duration_s / 60, 1),
                    "travel_minutes": round(r.travel_s / 60, 1),
                    "persons": r.persons,
                    "cards": r.cards,
                    "breaks": [
                        {
                            "name": b.name,
                            "start": self.iso(b.start),
                            "end": self.iso(b.end),
                            "fixed": b.fixed,
                        }
                        for b in r.breaks
                    ],
                    "stops": [
                        {
                            "site_id": s.site_id,
                            "visit": s.visit,
                            "arrival": self.iso(s.arrival),
                            "start": self.iso(s.start),
                            "end": self.iso(s.end),
                            "persons": {k.value: v for k, v in s.persons.items()},
                            "cards": s.cards,
                            "distance_km": round(s.distance_m / 1000, 3),
                            "travel_minutes": round(s.travel_s / 60, 1),
                        }
                        for s in r.stops
                    ],
                }
                for r in self.routes
            ],
            "unserved": [
                {
                    "site_id": u.site_id,
                    "persons": {k.value: v for k, v in u.persons.items()},
                    "reason": u.reason,
                    "message": u.message,
                    "partial": u.partial,
                }
                for u in self.unserved
            ],
            "kpis": {
                "served": {k.value: v for k, v in self.served.items()},
                "requested": {k.value: v for k, v in self.requested_total.items()},
                "by_priority": {
                    str(p): {"served": a, "requested": b}
                    for p, (a, b) in self.served_by_priority().items()
                },
                "utilisation": {t: round(u, 4) for t, u in self.utilisation().items()},
            },
            "required_missing": list(self.required_missing),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "progress": [
                {"elapsed_s": round(t, 3), "persons": p, "km": round(km, 3)}
                for t, p, km in self.progress
            ],
        }
