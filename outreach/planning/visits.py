"""Visit planning: sites in, the visit nodes of the routing model out.

A visit is (part of) one site's demand with the team-days allowed to serve it and one
interval of allowed start times. :func:`plan_visits` splits a site no team-day can serve
in one visit into chunks that sum exactly to its demand (:func:`split_persons`), and cuts
fixed breaks out of the opening windows (:func:`service_segments`); see the design notes
of :mod:`outreach.planning.solver` (*Splitting*, *Breaks*, one node per window).

``params`` is a :class:`outreach.planning.solver.SolveParams`; it is typed ``Any`` here
because the solver imports this module, never the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from outreach.planning.domain import CARD_SERVICES, Problem, Service, Site, Vehicle
from outreach.planning.explain import Matrices, fits_alone, place_matrices


@dataclass(frozen=True)
class Visit:
    """A visit node the solver may schedule: (part of) one site's demand."""

    site_index: int
    chunk: int
    persons: Mapping[Service, int]
    cards: int
    service_s: Mapping[int, int]
    """Visit duration (setup + service) in seconds per number of kits."""
    vehicles: tuple[int, ...]
    starts: tuple[int, int]
    """Allowed start of the visit in ticks from local midnight of the visiting vehicle's
    date (inclusive): the whole visit fits one opening window and the shift."""


def split_persons(demand: Mapping[Service, int], parts: int) -> list[dict[Service, int]]:
    """Split ``demand`` into ``parts`` chunks whose per-service sums equal it exactly.

    Chunk sizes differ by at most one person and each chunk takes a near-proportional
    share of every service; no chunk is empty as long as ``parts <= total persons``.
    """
    total = sum(demand.values())
    parts = max(1, min(parts, total))
    remaining = dict(demand)
    chunks: list[dict[Service, int]] = []
    for k in range(parts):
        left_parts = parts - k
        size = (k + 1) * total // parts - k * total // parts
        if left_parts == 1:
            chunk = dict(remaining)
        else:
            chunk = {s: n // left_parts for s, n in remaining.items()}
            missing = size - sum(chunk.values())
            # top up (or trim) from the services with the most persons left over
            for s in sorted(remaining, key=lambda s: (-(remaining[s] - chunk[s]), s.value)):
                if missing <= 0:
                    break
                extra = min(missing, remaining[s] - chunk[s])
                chunk[s] += extra
                missing -= extra
            for s in sorted(chunk, key=lambda s: (-chunk[s], s.value)):
                if missing >= 0:
                    break
                cut = min(-missing, chunk[s])
                chunk[s] -= cut
                missing += cut
        for s, n in chunk.items():
            remaining[s] -= n
        chunks.append({s: n for s, n in chunk.items() if n})
    assert not any(remaining.values()), "split must use up the demand exactly"
    return chunks


_SEGMENTS: dict[tuple[int, Any], tuple[Site, list[tuple[int, int]]]] = {}


def service_segments(site: Site, vehicle: Vehicle) -> list[tuple[int, int]]:
    """Stretches of the vehicle's shift when the site is open, cut by fixed breaks.

    Seconds of the day, sorted. No visit may overlap a fixed break, so a visit lies
    within one segment.
    """
    shift = vehicle.shift
    # memo keyed by the site's identity (the entry keeps the site alive, so the id
    # cannot be reused) and the shift (dates, hours and breaks)
    key = (id(site), shift)
    cached = _SEGMENTS.get(key)
    if cached is not None and cached[0] is site:
        return cached[1]
    if len(_SEGMENTS) > 100_000:
        _SEGMENTS.clear()
    out = _segments(site, shift)
    _SEGMENTS[key] = (site, out)
    return out


def _segments(site: Site, shift: Any) -> list[tuple[int, int]]:
    return _cut(site.windows_on(shift.date), shift)


def _cut(windows: Sequence[Any], shift: Any) -> list[tuple[int, int]]:
    """The parts of ``windows`` inside the shift, with its fixed breaks cut out."""
    out: list[tuple[int, int]] = []
    for w in windows:
        pieces = [(max(w.start, shift.start), min(w.end, shift.end))]
        for b in shift.breaks:
            if not b.is_fixed:
                continue
            pieces = [
                part
                for lo, hi in pieces
                for part in ((lo, min(hi, b.start)), (max(lo, b.end), hi))
                if part[0] < part[1]
            ]
        out.extend(p for p in pieces if p[0] < p[1])
    return sorted(out)


def _usable_seconds(problem: Problem, site: Site, vehicle: Vehicle) -> int:
    """Longest segment during which the team could serve the site on its date."""
    return max((hi - lo for lo, hi in service_segments(site, vehicle)), default=0)


class _Fleet:
    """The team-days of a problem, grouped so that per-site questions cost lookups.

    A site's open segments on a team-day depend only on its windows that weekday and on
    the shift's hours and breaks, and a province has few distinct ones of each (a few
    window patterns, a few shift patterns) against thousands of sites and team-days. So
    :meth:`site_view` interns each site's windows per date and every segment, longest
    segment and start interval is computed once per (windows, shift) pair, not once per
    (site, team-day): the visit pass is linear in sites × team-days with a dictionary
    lookup as the unit, instead of recomputing windows for every pair.
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.vehicles = problem.vehicles
        shift_ids: dict[tuple[int, int, tuple[Any, ...]], int] = {}
        self.shift_id = [
            shift_ids.setdefault((v.shift.start, v.shift.end, v.shift.breaks), len(shift_ids))
            for v in self.vehicles
        ]
        self.dates = sorted({v.date for v in self.vehicles})
        self.by_team: dict[str, list[Vehicle]] = {}
        for v in self.vehicles:
            self.by_team.setdefault(v.team.id, []).append(v)
        self._windows: dict[tuple[Any, ...], int] = {}
        self._window_list: list[tuple[Any, ...]] = []
        self._segments: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self._longest: dict[tuple[int, int], int] = {}
        self._starts: dict[tuple[int, int, int, int], tuple[tuple[int, int], ...]] = {}

    def window_ids(self, site: Site) -> dict[Any, int]:
        """Per date of the horizon, an id of the site's opening windows that day."""
        by_weekday: dict[int, int] = {}
        out = {}
        for d in self.dates:
            wd = d.weekday()
            if wd not in by_weekday:
                windows = site.windows_on(d)
                if windows not in self._windows:
                    self._windows[windows] = len(self._window_list)
                    self._window_list.append(windows)
                by_weekday[wd] = self._windows[windows]
            out[d] = by_weekday[wd]
        return out

    def segments(self, wid: int, v: Vehicle) -> list[tuple[int, int]]:
        key = (wid, self.shift_id[v.index])
        out = self._segments.get(key)
        if out is None:
            out = self._segments[key] = _cut(self._window_list[wid], v.shift)
            self._longest[key] = max((hi - lo for lo, hi in out), default=0)
        return out

    def longest(self, wid: int, v: Vehicle) -> int:
        key = (wid, self.shift_id[v.index])
        if key not in self._longest:
            self.segments(wid, v)
        return self._longest[key]

    def starts(self, wid: int, v: Vehicle, cut: int, tick: int) -> tuple[tuple[int, int], ...]:
        """Allowed start intervals (ticks) of a visit ``cut`` ticks long that must end
        inside its segment where the segment closes before the shift does."""
        key = (wid, self.shift_id[v.index], cut, tick)
        out = self._starts.get(key)
        if out is None:
            starts: list[tuple[int, int]] = []
            for seg_lo, seg_hi in self.segments(wid, v):
                lo = -(-seg_lo // tick)
                hi = v.shift.end // tick if seg_hi >= v.shift.end else seg_hi // tick - cut
                if lo <= hi:
                    starts.append((lo, hi))
            out = self._starts[key] = _merge(starts)
        return out

    def eligible(self, site: Site, wids: Mapping[Any, int]) -> list[Vehicle]:
        """Team-days that may serve the site: skills, lock, and an opening on that date."""
        out = []
        lock = site.lock
        for team in self.problem.teams:
            if not team.can_serve(site):
                continue
            if lock is not None and team.id != lock.team_id:
                continue
            if site.cards and team.cards_per_day <= 0:
                continue
            for v in self.by_team.get(team.id, ()):
                if lock is not None and v.date != lock.date:
                    continue
                if self.longest(wids[v.date], v) > 0:
                    out.append(v)
        out.sort(key=lambda v: v.index)
        return out


def eligible_vehicles(problem: Problem, site: Site) -> list[Vehicle]:
    """Team-days that may serve the site: skills, lock, and an opening on that date."""
    fleet = _Fleet(problem)
    return fleet.eligible(site, fleet.window_ids(site))


def _distinct(vehicles: Sequence[Vehicle], fleet: _Fleet, wids: Mapping[Any, int]) -> list[Vehicle]:
    """One team-day per (team, shift pattern, windows that day): the rest would answer
    :func:`fits_alone` the same way."""
    seen: dict[tuple[str, int, int], Vehicle] = {}
    for v in vehicles:
        seen.setdefault((v.team.id, fleet.shift_id[v.index], wids[v.date]), v)
    return list(seen.values())


def plan_visits(problem: Problem, params: Any, matrices: Matrices | None = None) -> list[Visit]:
    """Turn sites into visit nodes, splitting a site no team-day can serve in one visit.

    A site is split only when its whole remaining demand does not fit as the only
    stop of any eligible team-day (:func:`fits_alone`) or exceeds every team's daily
    blank cards. Chunks are sized for the teams with the fewest kits (at most
    ``split_fraction`` of their best day) and then grown in number until one fits alone.
    """
    if matrices is None:
        matrices = place_matrices(problem)
    exact = params.exact_kit_windows is not False
    tick = params.time_tick_s
    row = {p.key: i for i, p in enumerate(problem.places())}
    fleet = _Fleet(problem)
    visits: list[Visit] = []
    for si, site in enumerate(problem.sites):
        wids = fleet.window_ids(site)
        vehicles = fleet.eligible(site, wids)
        if not vehicles:
            continue
        kit_levels = sorted({v.team.kits for v in vehicles})
        parts = 1
        max_cards = max(v.team.cards_per_day for v in vehicles)
        whole_fits = any(
            fits_alone(problem, site, site.demand, v, matrices, row)
            for v in _distinct(vehicles, fleet, wids)
        )
        if site.lock is None and (not whole_fits or site.cards > max_cards):
            parts = _parts_needed(
                problem, site, vehicles, kit_levels[0], params, matrices, row, fleet, wids
            )
            if site.cards and max_cards > 0:
                parts = max(parts, -(-site.cards // max_cards))
        for ci, persons in enumerate(split_persons(site.demand, parts)):
            cards = sum(n for s, n in persons.items() if s in CARD_SERVICES)
            svc = {k: problem.visit_seconds(site, persons, k) for k in kit_levels}
            own = {k: -(-s // tick) for k, s in svc.items()}
            usable = [
                v
                for v in vehicles
                if (not cards or v.team.cards_per_day >= cards)
                and svc[v.team.kits] <= fleet.longest(wids[v.date], v)
            ]
            # A segment ending before the shift does (window closes, fixed break starts)
            # must hold the whole visit; its latest start leaves room for the slowest
            # team allowed that date (conservative: one node per kit level was exact
            # but multiplied nodes by the kit levels, which Medan-size runs could not
            # afford). Where the shift closes first, the route's end cumul already
            # holds the visit for any team.
            slowest: dict[object, int] = {}
            for v in usable:
                slowest[v.date] = max(slowest.get(v.date, 0), own[v.team.kits])
            # One node per distinct start interval (a window on some dates), allowed on
            # the vehicles of those dates, all in one disjunction: cumul domains are
            # plain ranges. Holes (RemoveInterval) are invisible to the insertion
            # filters and made first solutions fail on Medan-size instances.
            patterns: dict[tuple[int, int], list[int]] = {}
            for v in usable:
                cut = own[v.team.kits] if exact else slowest[v.date]
                for interval in fleet.starts(wids[v.date], v, cut, tick):
                    patterns.setdefault(interval, []).append(v.index)
            for interval, allowed in sorted(patterns.items()):
                visits.append(Visit(si, ci, persons, cards, svc, tuple(allowed), interval))
    return visits


def _parts_needed(
    problem: Problem,
    site: Site,
    vehicles: Sequence[Vehicle],
    slow_kits: int,
    params: Any,
    matrices: Matrices,
    row: Mapping[tuple[str, str], int],
    fleet: _Fleet | None = None,
    wids: Mapping[Any, int] | None = None,
) -> int:
    """Number of chunks so that one chunk fits alone on a team-day of the slowest teams."""
    if fleet is None or wids is None:
        fleet = _Fleet(problem)
        wids = fleet.window_ids(site)
    total = site.persons
    slow = [v for v in vehicles if v.team.kits == slow_kits]
    room = max(fleet.longest(wids[v.date], v) for v in slow)
    room = int(room * params.split_fraction) - site.setup_s
    work = problem.service_seconds(site.demand, slow_kits)
    parts = min(total, max(2, -(-work // max(1, room))))
    slow = _distinct(slow, fleet, wids)
    # grow until the biggest chunk fits alone (travel and breaks included)
    while parts < total:
        biggest = max(split_persons(site.demand, parts), key=lambda c: sum(c.values()))
        if any(fits_alone(problem, site, biggest, v, matrices, row) for v in slow):
            break
        parts = min(total, parts + max(1, parts // 4))
    return parts


def _merge(intervals: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)
