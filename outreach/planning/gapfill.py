"""After the search: compact the routes and fill their idle time with left-out visits.

The search (greedy start, then guided local search within a time limit) returns routes in
which a team may stand idle: the time dimension's cumuls are any feasible values, so a team
may reach a site at 09:37 and start at 13:00 although the site opens at 08:00, and the
search may stop before trying a left-out visit in such a gap (its insertion operators are
not the ones that move inactive visits in; see ``solver.EXTRA_OPERATORS``). Two exact,
cheap steps fix what the search left, working in seconds on the plan itself:

1. **Compaction** (:func:`compact`): every stop starts as early as travel, its opening
   hours, the shift and the breaks allow, and the team leaves the office as late as the
   first stop allows. By induction no stop starts later than before, so every window,
   break and the shift end still hold, and the idle time moves to the end of the day,
   where it is one block.
2. **Insertion** (:func:`fill`): left-out visits, highest priority first and within a
   priority the most residents per minute of the team's time, are inserted where they fit
   without moving any other stop: between two stops (or the office and a stop) the team
   drives there, serves the whole visit inside one opening window clear of breaks, and still
   reaches the next stop by its planned start (or the office by the end of the shift); a
   visit appended after the last stop may not make the team wait for it longer than it
   serves there (that would add idle time, not fill it). Skills,
   blank cards per team-day and the office's stock are respected. Among the places a visit
   fits, the one adding the least travel time wins. Nothing planned is removed, so the
   residents served at each priority can only grow.

The solver re-validates the filled plan with the independent checker and keeps the plan
without the step if the checker objects (it never has in the tests and benchmarks).

:func:`room_on` answers the question behind an honest "outranked" reason: does a team-day
have idle time (waiting, or before leaving and after coming back) inside the site's open
hours long enough for the visit?
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from outreach.planning.domain import CARD_SERVICES, Problem, Service, Site, Vehicle
from outreach.planning.result import BreakTaken, Route, Stop

Matrices = Mapping[str, tuple[np.ndarray, np.ndarray]]

MIN_PART_SERVICE_S = 3600
"""Least service time of a visit serving part of what a site still needs (one hour): a
part is announced to the site's residents like any visit, so it must serve a real share of
them. Whole remainders are inserted whatever their length."""


@dataclass(frozen=True)
class Candidate:
    """A left-out visit (a site's whole remainder or one unserved chunk of a split site)."""

    site_index: int
    chunk: int
    persons: Mapping[Service, int]
    split: bool = False
    """The planner split the site into several visits (its demand fits no single team-day);
    only then may a part of the visit be inserted (see :meth:`_Day.best_partial`)."""

    @property
    def cards(self) -> int:
        return sum(n for s, n in self.persons.items() if s in CARD_SERVICES)


# ------------------------------------------------------------------------------- timing


def arrival(leave: int, travel: int, pausing: Sequence[tuple[int, int]]) -> int:
    """Arrival after leaving at ``leave`` and driving ``travel`` s; flexible breaks
    (``pausing``, sorted) pause the drive."""
    t, left = leave, travel
    for b_start, b_end in pausing:
        if b_end <= t:
            continue
        if t + left <= b_start:
            break
        left -= max(0, b_start - t)
        t = b_end
    return t + left


def latest_departure(
    start: int, travel: int, pausing: Sequence[tuple[int, int]], earliest: int
) -> int:
    """Latest departure (not before ``earliest``) that arrives by ``start``."""
    lo, hi = earliest, start
    if arrival(lo, travel, pausing) > start:
        return earliest
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if arrival(mid, travel, pausing) <= start:
            lo = mid
        else:
            hi = mid - 1
    return lo


def segments(site: Site, vehicle: Vehicle, off: int) -> list[tuple[int, int]]:
    """Stretches of the shift (solver clock) when the site is open, cut by fixed breaks."""
    shift = vehicle.shift
    out: list[tuple[int, int]] = []
    for w in site.windows_on(shift.date):
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
        out.extend((off + lo, off + hi) for lo, hi in pieces if lo < hi)
    return sorted(out)


def earliest_start(
    ready: int, svc: int, segs: Sequence[tuple[int, int]], breaks: Sequence[BreakTaken]
) -> int | None:
    """Earliest start at or after ``ready`` of a visit lasting ``svc`` inside one segment,
    clear of every break taken on the route; ``None`` if there is none."""
    for lo, hi in segs:
        start = max(ready, lo)
        moved = True
        while moved:
            moved = False
            for b in breaks:
                if b.start < start + svc and start < b.end:
                    start = b.end
                    moved = True
        if start + svc <= hi:
            return start
    return None


def take(persons: Mapping[Service, int], n: int) -> dict[Service, int]:
    """``n`` of ``persons``, each service in proportion (largest remainders round up)."""
    total = sum(persons.values())
    if n >= total:
        return dict(persons)
    exact = {s: m * n / total for s, m in persons.items()}
    part = {s: int(x) for s, x in exact.items()}
    for s in sorted(exact, key=lambda s: (part[s] - exact[s], s.value))[: n - sum(part.values())]:
        part[s] += 1
    return {s: m for s, m in part.items() if m}


# --------------------------------------------------------------------------- the route


class _Day:
    """One team-day being edited: its vehicle, stops and breaks, with travel look-ups."""

    def __init__(
        self,
        problem: Problem,
        vehicle: Vehicle,
        route: Route | None,
        matrices: Matrices,
        row: Mapping[tuple[str, str], int],
    ) -> None:
        self.problem = problem
        self.vehicle = vehicle
        self.team = vehicle.team
        self.off = problem.day_offset(vehicle.date)
        self.shift_start = self.off + vehicle.shift.start
        self.shift_end = self.off + vehicle.shift.end
        self.dist, self.dur = matrices[self.team.profile]
        self.row = row
        if route is None:
            self.breaks: tuple[BreakTaken, ...] = tuple(
                BreakTaken(b.name, self.off + b.start, self.off + b.end, fixed=True)
                for b in vehicle.shift.breaks
            )
            self.stops: list[Stop] = []
            self.depart = self.arrive = self.shift_start
        else:
            self.breaks = route.breaks
            self.stops = list(route.stops)
            self.depart, self.arrive = route.depart, route.arrive
        self.pausing = sorted((b.start, b.end) for b in self.breaks if not b.fixed)
        self.cards = sum(s.cards for s in self.stops)
        self.changed = False
        self._gap: int | None = None
        self._segs: dict[str, list[tuple[int, int]]] = {}

    def longest_gap(self) -> int:
        """Longest stretch between the end of one stop (or the shift start) and the start
        of the next (or the shift end): no visit longer than this can be inserted."""
        if self._gap is None:
            ends = [self.shift_start] + [s.end for s in self.stops]
            starts = [s.start for s in self.stops] + [self.shift_end]
            self._gap = max(b - a for a, b in zip(ends, starts, strict=True))
        return self._gap

    def segments_of(self, site: Site) -> list[tuple[int, int]]:
        segs = self._segs.get(site.id)
        if segs is None:
            segs = self._segs[site.id] = segments(site, self.vehicle, self.off)
        return segs

    def place(self, k: int) -> int:
        """Matrix row of the place before position ``k`` (-1: the start depot)."""
        if k < 0:
            return self.row[("start", self.team.id)]
        return self.row[("site", self.stops[k].site_id)]

    def leg(self, a: int, b: int) -> tuple[int, int]:
        return int(self.dist[a, b]), int(self.dur[a, b])

    def route(self) -> Route:
        metres = sum(s.distance_m for s in self.stops)
        travel = sum(s.travel_s for s in self.stops)
        if self.stops:
            d, t = self.leg(self.place(len(self.stops) - 1), self.row[("end", self.team.id)])
            metres += d
            travel += t
        return Route(
            team_id=self.team.id,
            date=self.vehicle.date,
            depart=self.depart,
            arrive=self.arrive,
            stops=tuple(self.stops),
            breaks=self.breaks,
            distance_m=metres,
            travel_s=travel,
        )

    # -- compaction ----------------------------------------------------------------------

    def compact(self, sites: Mapping[str, Site]) -> None:
        """Start every stop as early as possible, leave the office as late as possible."""
        if not self.stops:
            return
        prev = self.place(-1)
        prev_end = self.shift_start
        out: list[Stop] = []
        for k, stop in enumerate(self.stops):
            here = self.row[("site", stop.site_id)]
            _, travel = self.leg(prev, here)
            ready = arrival(prev_end, travel, self.pausing)
            svc = stop.end - stop.start
            segs = segments(sites[stop.site_id], self.vehicle, self.off)
            start = earliest_start(ready, svc, segs, self.breaks)
            if start is None or start > stop.start:
                start = stop.start  # cannot happen (the old start is feasible); keep it
            if k == 0:
                self.depart = latest_departure(start, travel, self.pausing, self.shift_start)
                ready = arrival(self.depart, travel, self.pausing)
            out.append(
                dataclasses.replace(stop, arrival=min(start, ready), start=start, end=start + svc)
            )
            prev, prev_end = here, start + svc
        _, travel = self.leg(prev, self.row[("end", self.team.id)])
        arrive = arrival(prev_end, travel, self.pausing)
        if out != self.stops or arrive != self.arrive:
            self.changed = True
        self.stops = out
        self.arrive = arrive
        self._gap = None

    # -- ejection (the priority repair, :mod:`outreach.planning.repair`) -----------------

    def copy(self) -> _Day:
        """An independent copy to try an edit on."""
        other = object.__new__(_Day)
        other.__dict__.update(self.__dict__)
        other.stops = list(self.stops)
        other._segs = self._segs  # depends on the site only: shared
        return other

    def remove(self, k: int) -> bool:
        """Take stop ``k`` out without moving any other stop; ``False`` (the day is then
        unusable) when the drive from its predecessor to its successor would not arrive by
        the successor's start (the travel matrix breaking the triangle inequality)."""
        gone = self.stops.pop(k)
        self.cards -= gone.cards
        self.changed = True
        self._gap = None
        if k < len(self.stops):
            nxt = self.stops[k]
            d, t = self.leg(self.place(k - 1), self.row[("site", nxt.site_id)])
            if k == 0:
                self.depart = latest_departure(nxt.start, t, self.pausing, self.shift_start)
                ready = arrival(self.depart, t, self.pausing)
            else:
                ready = arrival(self.stops[k - 1].end, t, self.pausing)
            if ready > nxt.start:
                return False
            self.stops[k] = dataclasses.replace(nxt, arrival=ready, distance_m=d, travel_s=t)
        elif self.stops:
            _, t = self.leg(self.place(k - 1), self.row[("end", self.team.id)])
            self.arrive = arrival(self.stops[-1].end, t, self.pausing)
        else:
            self.depart = self.arrive = self.shift_start
        return True

    # -- insertion -----------------------------------------------------------------------

    def _waiting(self, ready: int, start: int) -> int:
        """Seconds between ``ready`` and ``start`` outside breaks."""
        idle = start - ready
        for b in self.breaks:
            idle -= max(0, min(b.end, start) - max(b.start, ready))
        return idle

    def best_insertion(
        self, site: Site, persons: Mapping[Service, int], cards: int
    ) -> tuple[int, int, int] | None:
        """``(added travel s, position, start)`` of the cheapest insertion that moves no
        other stop, or ``None``."""
        team = self.team
        if not all(team.offers(s) for s in persons):
            return None
        if cards and self.cards + cards > team.cards_per_day:
            return None
        svc = self.problem.visit_seconds(site, persons, team.kits)
        if svc > self.longest_gap():
            return None
        segs = self.segments_of(site)
        if not segs:
            return None
        here = self.row[("site", site.id)]
        end_row = self.row[("end", team.id)]
        best: tuple[int, int, int] | None = None
        n = len(self.stops)
        for k in range(n + 1):
            # between position k-1 (or the start depot) and k (or the end depot)
            prev = self.place(k - 1)
            prev_end = self.shift_start if k == 0 else self.stops[k - 1].end
            _, t_in = self.leg(prev, here)
            ready = arrival(prev_end, t_in, self.pausing)
            if k < n:
                if ready + svc > self.stops[k].start:
                    continue
                deadline = self.stops[k].start
                nxt = self.row[("site", self.stops[k].site_id)]
            else:
                deadline = self.shift_end
                nxt = end_row
            _, t_out = self.leg(here, nxt)
            start = earliest_start(ready, svc, segs, self.breaks)
            if start is None or arrival(start + svc, t_out, self.pausing) > deadline:
                continue
            if k == n and n and self._waiting(ready, start) > svc:
                # appended after the last stop, the team would wait for the site to open
                # longer than it serves there: idle time the plan would add, not fill
                continue
            added = t_in + t_out - (self.leg(prev, nxt)[1] if n else 0)
            if best is None or (added, k) < best[:2]:
                best = (added, k, start)
        return best

    def best_partial(
        self, site: Site, persons: Mapping[Service, int], cards_left: int | None
    ) -> tuple[dict[Service, int], tuple[int, int, int]] | None:
        """The largest part of ``persons`` that fits without moving another stop, and where
        (as :meth:`best_insertion`); ``None`` when no part worth its setup fits.

        A part is worth a visit when the team serves at least :data:`MIN_PART_SERVICE_S`
        and at least as long as it sets up: residents see every visit on the public
        schedule, and a few minutes of service at a site where many wait turns most of
        them away.
        """
        total = sum(persons.values())
        if total < 2 or not all(self.team.offers(s) for s in persons):
            return None
        kits = self.team.kits
        need = max(site.setup_s, MIN_PART_SERVICE_S)
        if site.setup_s + need > self.longest_gap() or not self.segments_of(site):
            return None

        def fits(n: int) -> tuple[dict[Service, int], tuple[int, int, int]] | None:
            part = take(persons, n)
            cards = sum(m for s, m in part.items() if s in CARD_SERVICES)
            if cards and cards_left is not None and cards > cards_left:
                return None
            found = self.best_insertion(site, part, cards)
            return None if found is None else (part, found)

        lo = 1
        while lo < total and self.problem.service_seconds(take(persons, lo), kits) < need:
            lo = min(total, lo * 2)
        # smallest n worth a visit, then the largest that fits (feasibility is monotone:
        # a shorter visit fits wherever a longer one does)
        a, z = max(1, lo // 2), lo
        while a < z:
            mid = (a + z) // 2
            if self.problem.service_seconds(take(persons, mid), kits) >= need:
                z = mid
            else:
                a = mid + 1
        smallest = a
        if smallest >= total or (best := fits(smallest)) is None:
            return None
        a, z = smallest, total - 1
        while a < z:
            mid = (a + z + 1) // 2
            found = fits(mid)
            if found is not None:
                a, best = mid, found
            else:
                z = mid - 1
        return best

    def insert(
        self, site: Site, chunk: int, persons: Mapping[Service, int], cards: int, k: int, start: int
    ) -> None:
        team = self.team
        here = self.row[("site", site.id)]
        svc = self.problem.visit_seconds(site, persons, team.kits)
        prev = self.place(k - 1)
        d_in, t_in = self.leg(prev, here)
        if k == 0:
            self.depart = latest_departure(start, t_in, self.pausing, self.shift_start)
            ready = arrival(self.depart, t_in, self.pausing)
        else:
            ready = arrival(self.stops[k - 1].end, t_in, self.pausing)
        new = Stop(
            site_id=site.id,
            visit=chunk,
            arrival=min(start, ready),
            start=start,
            end=start + svc,
            persons=dict(persons),
            cards=cards,
            distance_m=d_in,
            travel_s=t_in,
        )
        self.stops.insert(k, new)
        if k + 1 < len(self.stops):
            nxt = self.stops[k + 1]
            d_out, t_out = self.leg(here, self.row[("site", nxt.site_id)])
            reach = arrival(new.end, t_out, self.pausing)
            self.stops[k + 1] = dataclasses.replace(
                nxt, arrival=min(nxt.start, reach), distance_m=d_out, travel_s=t_out
            )
        else:
            _, t_out = self.leg(here, self.row[("end", team.id)])
            self.arrive = arrival(new.end, t_out, self.pausing)
        self.cards += cards
        self.changed = True
        self._gap = None


# -------------------------------------------------------------------------------- API


def compact(
    problem: Problem,
    routes: Sequence[Route],
    matrices: Matrices,
) -> list[Route]:
    """Routes with every stop started as early as possible (see the module docstring)."""
    row = {p.key: i for i, p in enumerate(problem.places())}
    sites = {s.id: s for s in problem.sites}
    vehicles = {(v.team.id, v.date): v for v in problem.vehicles}
    out = []
    for r in routes:
        day = _Day(problem, vehicles[(r.team_id, r.date)], r, matrices, row)
        day.compact(sites)
        out.append(day.route() if day.changed else r)
    return out


def fill(
    problem: Problem,
    routes: Sequence[Route],
    candidates: Sequence[Candidate],
    matrices: Matrices,
) -> tuple[list[Route], list[Candidate]]:
    """Compact ``routes`` and insert as much of ``candidates`` as fits without moving a
    stop: a whole visit where one fits, else the largest part of it worth a visit.

    Returns the routes (one per team-day that has stops, ordered like
    :attr:`Problem.vehicles`) and what is left of the candidates (the unserved remainders).
    Locked sites are never inserted (their lock decides where they go).
    """
    row = {p.key: i for i, p in enumerate(problem.places())}
    sites = {s.id: s for s in problem.sites}
    by_day = {(r.team_id, r.date): r for r in routes}
    days: list[_Day] = []
    for v in problem.vehicles:
        r = by_day.get((v.team.id, v.date))
        if r is None and any(not b.is_fixed for b in v.shift.breaks):
            continue  # an empty day with a flexible break: where to take it is the search's
        day = _Day(problem, v, r, matrices, row)
        day.compact(sites)
        days.append(day)
    stock = problem.card_stock
    used_cards = sum(d.cards for d in days)
    next_id: dict[int, int] = {}
    for c in candidates:
        next_id[c.site_index] = max(next_id.get(c.site_index, 0), c.chunk + 1)
    index = {s.id: i for i, s in enumerate(problem.sites)}
    for d in days:
        for stop in d.stops:
            si = index[stop.site_id]
            next_id[si] = max(next_id.get(si, 0), stop.visit + 1)

    # per candidate: [site index, first chunk id, persons still pending, chunk id to use,
    # whether a part may be inserted]
    pending = [
        [c.site_index, c.chunk, dict(c.persons), c.chunk, c.split]
        for c in candidates
        if problem.sites[c.site_index].lock is None
    ]

    def option(ci: int, di: int) -> tuple[float, dict[Service, int], int, int, int] | None:
        """Best way to put (part of) candidate ``ci`` on day ``di``: (residents per minute
        of added time, persons, added travel, position, start)."""
        si, _, persons, _, _ = pending[ci]
        if not persons:
            return None
        site = problem.sites[si]
        day = days[di]
        room = None if stock is None else stock - used_cards
        cards = sum(n for s, n in persons.items() if s in CARD_SERVICES)
        found = None
        part: dict[Service, int] = dict(persons)
        if room is None or cards <= room:
            found = day.best_insertion(site, persons, cards)
        if found is None and not pending[ci][4]:
            return None
        if found is None:
            got = day.best_partial(site, persons, room)
            if got is None:
                return None
            part, found = got
        added, k, start = found
        svc = problem.visit_seconds(site, part, day.team.kits)
        # the day grows by the visit and its extra travel, or by more when the team must
        # wait for the site to open before it (at either end of the route)
        grows = svc + added
        if day.stops and k == len(day.stops):
            back = day.leg(day.row[("site", site.id)], day.row[("end", day.team.id)])[1]
            grows = max(grows, start + svc + back - day.arrive)
        elif day.stops and k == 0:
            out = day.leg(day.place(-1), day.row[("site", site.id)])[1]
            grows = max(grows, day.depart - (start - out))
        return (sum(part.values()) * 60 / max(1, grows), part, added, k, start)

    # Level by level from the most urgent priority; within a level, repeatedly commit the
    # insertion serving the most residents per minute it adds to a day (service plus extra
    # travel), so near, large visits go first and a long drive for a few residents last.
    for level in sorted({problem.sites[p[0]].priority for p in pending}):
        mine = [ci for ci, p in enumerate(pending) if problem.sites[p[0]].priority == level]
        best: dict[tuple[int, int], tuple[float, dict[Service, int], int, int, int] | None] = {}
        for ci in mine:
            site = problem.sites[pending[ci][0]]
            for di, day in enumerate(days):
                if day.team.can_serve(site) or all(day.team.offers(s) for s in pending[ci][2]):
                    best[(ci, di)] = option(ci, di)
        while True:
            live = [(o[0], -key[1], -key[0], key) for key, o in best.items() if o is not None]
            if not live:
                break
            key = max(live)[3]
            ci, di = key
            fresh = option(ci, di)  # cards or the day may have changed since it was cached
            if fresh is None or fresh[0] < best[key][0] - 1e-9:
                best[key] = fresh
                continue
            _, part, _, k, start = fresh
            si = pending[ci][0]
            part_cards = sum(n for s, n in part.items() if s in CARD_SERVICES)
            days[di].insert(problem.sites[si], pending[ci][3], part, part_cards, k, start)
            used_cards += part_cards
            left_persons = pending[ci][2]
            pending[ci][2] = {
                s: n - part.get(s, 0) for s, n in left_persons.items() if n - part.get(s, 0)
            }
            pending[ci][3] = next_id[si]
            next_id[si] += 1
            for cj, dj in list(best):
                if dj == di or cj == ci:
                    best[(cj, dj)] = option(cj, dj)
    left = [
        Candidate(si, chunk, persons, split) for si, chunk, persons, _, split in pending if persons
    ]
    left += [c for c in candidates if problem.sites[c.site_index].lock is not None]
    out = [d.route() if d.changed else by_day[(d.team.id, d.vehicle.date)] for d in days if d.stops]
    return out, left


def room_on(
    problem: Problem,
    vehicle: Vehicle,
    route: Route | None,
    site: Site,
    need: int,
) -> bool:
    """Whether ``vehicle``'s day has an idle stretch of at least ``need`` seconds inside one
    of the site's open segments: waiting at a site, before leaving or after coming back,
    breaks excluded (travel to the site is not counted)."""
    off = problem.day_offset(vehicle.date)
    segs = segments(site, vehicle, off)
    if not segs:
        return False
    if route is None or not route.stops:
        free = [(off + vehicle.shift.start, off + vehicle.shift.end)]
        breaks = [(off + b.start, off + b.end) for b in vehicle.shift.breaks]
    else:
        free = [(off + vehicle.shift.start, route.depart)]
        free += [(s.arrival, s.start) for s in route.stops]
        free.append((route.arrive, off + vehicle.shift.end))
        breaks = [(b.start, b.end) for b in route.breaks]
    for lo, hi in free:
        pieces = [(lo, hi)]
        for b0, b1 in breaks:
            pieces = [
                p for a, z in pieces for p in ((a, min(z, b0)), (max(a, b1), z)) if p[0] < p[1]
            ]
        for a, z in pieces:
            for s0, s1 in segs:
                if min(z, s1) - max(a, s0) >= need:
                    return True
    return False


__all__ = ["Candidate", "compact", "fill", "room_on"]
