"""Priority repair: put a left-out visit in place of lower-priority visits when that is worth it.

The search weighs residents by priority (``SolveParams.priority_weights``) and may stop
before it finds the exchange that serves a priority-1 remainder instead of a priority-5
school; the gap-filling step only uses idle time. This step, after both, tries for every
left-out visit (most urgent first) every team-day that could serve it:

1. **Eject** every visit of a lower priority (a larger number) from the day, moving no
   other stop; locked and required visits stay.
2. **Insert** the left-out visit into the freed time (:meth:`gapfill._Day.best_insertion`,
   no other stop moves; for a site the planner split, the largest part worth a visit).
3. **Re-insert** as many of the ejected visits as still fit, the most valuable first.

The gain is the weighted residents inserted minus the weighted residents ejected and not
re-inserted. The best positive gain over the team-days is applied, and the round repeats
until no left-out visit has a positive gain anywhere. Ejected visits that found no room
on their day go back to the candidates; a gap fill then compacts the days and may place
them on another day, and a new round starts on the compacted days, until a round changes
nothing (:data:`MAX_ROUNDS` at most). The weighted objective only improves, so it ends.

:func:`ejection` is also the explainer's proof (:mod:`outreach.planning.explain`): a
left-out visit is ``OUTRANKED`` only when no team-day could take it even with every visit
of lower priority removed, and ``NOT_PLACED`` names the team-day where it would fit and the
lower-priority residents it would cost, who weigh more (or the repair would have taken it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from outreach.planning.domain import CARD_SERVICES, Problem, Service, Site
from outreach.planning.gapfill import MIN_PART_SERVICE_S, Candidate, Matrices, _Day, fill, take
from outreach.planning.result import Route, Stop


@dataclass
class Trial:
    """A team-day with a left-out visit put in place of lower-priority visits."""

    day: _Day
    persons: dict[Service, int]
    """What of the left-out visit the day now serves (all of it, or a part)."""
    ejected: list[Stop]
    """The lower-priority visits taken out and not put back."""
    gain: int
    """Weighted residents served more (inserted minus ejected and not put back)."""
    lost: int
    """Residents of the ejected visits not put back."""


def cards_of(persons: Mapping[Service, int]) -> int:
    return sum(n for s, n in persons.items() if s in CARD_SERVICES)


def _value(persons: Mapping[Service, int], priority: int, weights: Sequence[int]) -> int:
    return weights[priority - 1] * sum(persons.values())


def ejection(
    problem: Problem,
    day: _Day,
    site: Site,
    persons: Mapping[Service, int],
    split: bool,
    weights: Sequence[int],
    cards_left: int | None,
) -> Trial | None:
    """Try ``site``'s left-out ``persons`` on ``day`` in place of its lower-priority visits.

    ``None`` when the day could not take the visit (nor, for a split site, a part worth a
    visit) even with every lower-priority visit removed; otherwise the edited copy of the
    day and its gain (which may be zero or negative: the ejected residents weigh more).
    ``cards_left`` is the office's stock not yet used by the plan (``None``: no limit).
    """
    sites = _sites_of(problem)
    lower = [
        k
        for k, st in enumerate(day.stops)
        if sites[st.site_id].priority > site.priority
        and sites[st.site_id].lock is None
        and not sites[st.site_id].required
    ]
    if not lower or not _room_after(problem, day, site, persons, split, set(lower)):
        return None
    trial = day.copy()
    ejected: list[Stop] = []
    for k in reversed(lower):
        ejected.append(trial.stops[k])
        if not trial.remove(k):
            return None
    freed = sum(st.cards for st in ejected)
    room = None if cards_left is None else cards_left + freed
    cards = sum(n for s, n in persons.items() if s in CARD_SERVICES)
    part: dict[Service, int] = dict(persons)
    found = None
    if room is None or cards <= room:
        found = trial.best_insertion(site, persons, cards)
    if found is None and split:
        got = trial.best_partial(site, persons, room)
        if got is not None:
            part, found = got
    if found is None:
        return None
    _, k, start = found
    part_cards = sum(n for s, n in part.items() if s in CARD_SERVICES)
    trial.insert(site, _next_visit(day, site.id, problem), part, part_cards, k, start)
    if room is not None:
        room -= part_cards
    gain = _value(part, site.priority, weights)
    # put back what still fits, the most valuable first
    ejected.sort(key=lambda st: -_value(st.persons, sites[st.site_id].priority, weights))
    kept: list[Stop] = []
    for st in ejected:
        back = None
        if room is None or st.cards <= room:
            back = trial.best_insertion(sites[st.site_id], st.persons, st.cards)
        if back is None:
            kept.append(st)
            continue
        _, k, start = back
        trial.insert(sites[st.site_id], st.visit, st.persons, st.cards, k, start)
        if room is not None:
            room -= st.cards
    gain -= sum(_value(st.persons, sites[st.site_id].priority, weights) for st in kept)
    return Trial(trial, part, kept, gain, sum(st.total_persons for st in kept))


_SITES: dict[int, tuple[Problem, dict[str, Site]]] = {}


def _sites_of(problem: Problem) -> dict[str, Site]:
    """Sites by id, computed once per problem (the trials run hundreds of thousands of
    times); the one-entry cache holds the last problem only."""
    got = _SITES.get(id(problem))
    if got is None or got[0] is not problem:
        _SITES.clear()
        got = _SITES[id(problem)] = (problem, {s.id: s for s in problem.sites})
    return got[1]


def _room_after(
    problem: Problem,
    day: _Day,
    site: Site,
    persons: Mapping[Service, int],
    split: bool,
    gone: set[int],
) -> bool:
    """Cheap bound before a trial: without the stops ``gone``, is some stretch between two
    kept stops (or the shift's ends) long enough for the visit, or a part worth one?"""
    need = problem.visit_seconds(site, persons, day.team.kits)
    if split:
        need = min(need, site.setup_s + max(site.setup_s, MIN_PART_SERVICE_S))
    ends = [day.shift_start] + [st.end for k, st in enumerate(day.stops) if k not in gone]
    starts = [st.start for k, st in enumerate(day.stops) if k not in gone] + [day.shift_end]
    segs = day.segments_of(site)
    return any(
        min(b, hi) - max(a, lo) >= need
        for a, b in zip(ends, starts, strict=True)
        if b - a >= need
        for lo, hi in segs
    )


def _next_visit(day: _Day, site_id: str, problem: Problem) -> int:
    """A visit number for a new visit to ``site_id``; :func:`repair` renumbers afterwards."""
    del problem
    return 1 + max((st.visit for st in day.stops if st.site_id == site_id), default=-1)


MAX_ROUNDS = 20
"""Repair rounds at most (each round ends with a gap fill, which compacts the days and may
open room a new round can use); every round raises the weighted residents served, and in
the tests and benchmarks the rounds stop by themselves after two to four."""


def repair(
    problem: Problem,
    routes: Sequence[Route],
    candidates: Sequence[Candidate],
    matrices: Matrices,
    weights: Sequence[int],
) -> tuple[list[Route], list[Candidate]]:
    """Routes after the priority repair (see the module docstring) and what is left out.

    Returns routes like :func:`gapfill.fill` (one per team-day with stops, in
    :attr:`Problem.vehicles` order) and the left-out candidates (remainders, in chunks no
    larger than the planner's for the site)."""
    size = {}
    for c in candidates:
        size[c.site_index] = max(size.get(c.site_index, 0), sum(c.persons.values()))
    out, left = list(routes), list(candidates)
    for _ in range(MAX_ROUNDS):
        changed, new_routes, new_left = _repair_round(problem, out, left, matrices, weights)
        if not changed:
            break
        out, left = fill(problem, new_routes, new_left, matrices)
    return out, _chunked(problem, out, left, size)


def _chunked(
    problem: Problem, routes: Sequence[Route], left: Sequence[Candidate], size: Mapping[int, int]
) -> list[Candidate]:
    """``left`` with each site's remainder cut into chunks of at most the planner's chunk
    size for it (the explainer judges a remainder by its smallest visit)."""
    by_site: dict[int, dict[Service, int]] = {}
    split: dict[int, bool] = {}
    for c in left:
        rest = by_site.setdefault(c.site_index, {})
        for s, n in c.persons.items():
            rest[s] = rest.get(s, 0) + n
        split[c.site_index] = split.get(c.site_index, False) or c.split
    out: list[Candidate] = []
    for si, rest in by_site.items():
        cap = max(1, size.get(si, sum(rest.values())))
        while rest:
            total = sum(rest.values())
            parts = -(-total // cap)
            part = take(rest, -(-total // parts))
            out.append(Candidate(si, 0, part, split[si]))
            rest = {s: n - part.get(s, 0) for s, n in rest.items() if n - part.get(s, 0)}
    return _renumber_candidates(routes, out, problem)


def _repair_round(
    problem: Problem,
    routes: Sequence[Route],
    candidates: Sequence[Candidate],
    matrices: Matrices,
    weights: Sequence[int],
) -> tuple[bool, list[Route], list[Candidate]]:
    """One round over every left-out site; whether anything changed, the routes (days
    edited, not yet compacted) and the left-out candidates, one per site."""
    row = {p.key: i for i, p in enumerate(problem.places())}
    by_day = {(r.team_id, r.date): r for r in routes}
    days = [
        _Day(problem, v, by_day.get((v.team.id, v.date)), matrices, row)
        for v in problem.vehicles
        if (v.team.id, v.date) in by_day
    ]
    index = {s.id: i for i, s in enumerate(problem.sites)}
    stock = problem.card_stock
    used = sum(d.cards for d in days)
    # one entry per site: its whole left-out remainder (a split site's chunks together,
    # since a part of any size worth a visit may go in), so what the repair tries is what
    # the explainer's check tries
    merged: dict[int, list] = {}
    for c in candidates:
        if problem.sites[c.site_index].lock is not None:
            continue
        entry = merged.setdefault(c.site_index, [c.site_index, c.chunk, {}, False])
        for s, n in c.persons.items():
            entry[2][s] = entry[2].get(s, 0) + n
        entry[3] = entry[3] or c.split
    pending = list(merged.values())
    pending.sort(key=lambda p: (problem.sites[p[0]].priority, -sum(p[2].values()), p[0], p[1]))
    changed = False
    progress = True
    # a trial's outcome depends on the day, the candidate and the card stock: a pair that
    # gained nothing is tried again only after its day (or the stock) changed
    version = [0] * len(days)
    stock_version = 0
    tried: dict[tuple[int, int], tuple[int, int]] = {}
    while progress:
        progress = False
        for ei, entry in enumerate(pending):
            si, _, persons, split = entry
            if not persons:
                continue
            site = problem.sites[si]
            if _value(persons, site.priority, weights) <= 0:
                continue
            best: tuple[int, int, Trial] | None = None
            for di, day in enumerate(days):
                stamp = (version[di], stock_version if cards_of(persons) else 0)
                if tried.get((ei, di)) == stamp:
                    continue
                tried[(ei, di)] = stamp
                if not day.team.can_serve(site) and not all(day.team.offers(s) for s in persons):
                    continue
                if not day.segments_of(site):
                    continue
                room = None if stock is None else stock - used
                got = ejection(problem, day, site, persons, split, weights, room)
                if got is not None and got.gain > 0 and (best is None or got.gain > best[0]):
                    best = (got.gain, di, got)
            if best is None:
                continue
            _, di, trial = best
            if trial.day.cards != days[di].cards:
                stock_version += 1
            used += trial.day.cards - days[di].cards
            days[di] = trial.day
            version[di] += 1
            for key in [k for k in tried if k[0] == ei]:
                del tried[key]  # what is left of this visit is smaller: try it anew
            entry[2] = {s: n - trial.persons.get(s, 0) for s, n in persons.items()}
            entry[2] = {s: n for s, n in entry[2].items() if n}
            for st in trial.ejected:
                ci = index[st.site_id]
                pending.append([ci, st.visit, dict(st.persons), _is_split(candidates, ci)])
            changed = progress = True
    if not changed:
        return False, list(routes), list(candidates)
    out_routes = [d.route() for d in days if d.stops]
    out_routes = _renumber(problem, out_routes)
    left = [Candidate(si, chunk, ps, split) for si, chunk, ps, split in pending if ps]
    left += [c for c in candidates if problem.sites[c.site_index].lock is not None]
    return True, out_routes, _renumber_candidates(out_routes, left, problem)


def _is_split(candidates: Sequence[Candidate], site_index: int) -> bool:
    return any(c.split for c in candidates if c.site_index == site_index)


def _renumber(problem: Problem, routes: list[Route]) -> list[Route]:
    """Visit numbers unique per site across the plan (0, 1, ... in route order)."""
    import dataclasses

    seen: dict[str, int] = {}
    out = []
    for r in routes:
        stops = []
        for st in r.stops:
            n = seen.get(st.site_id, 0)
            seen[st.site_id] = n + 1
            stops.append(st if st.visit == n else dataclasses.replace(st, visit=n))
        out.append(dataclasses.replace(r, stops=tuple(stops)))
    del problem
    return out


def _renumber_candidates(
    routes: Sequence[Route], left: list[Candidate], problem: Problem
) -> list[Candidate]:
    """Candidates numbered after the visits the routes already have, one number each."""
    index = {s.id: i for i, s in enumerate(problem.sites)}
    nxt: dict[int, int] = {}
    for r in routes:
        for st in r.stops:
            si = index[st.site_id]
            nxt[si] = max(nxt.get(si, 0), st.visit + 1)
    out = []
    for c in left:
        n = nxt.get(c.site_index, 0)
        nxt[c.site_index] = n + 1
        out.append(Candidate(c.site_index, n, c.persons, c.split))
    return out


__all__ = ["Trial", "ejection", "repair"]
