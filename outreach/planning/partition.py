"""Cutting a problem into parts for a decomposed solve (:mod:`outreach.planning.decompose`).

:func:`partition` cuts by office, by territory and, when teams are few, by whole weeks (the
rules are in :mod:`outreach.planning.decompose`'s docstring); :func:`subproblem` makes a
part's own :class:`Problem` with travel sliced from the whole problem's matrices.
"""

from __future__ import annotations

import copyreg
import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any

import numpy as np

from outreach.planning.domain import CARD_SERVICES, Problem, Site, Team
from outreach.planning.travel import ExplicitMatrix

TARGET_SITES = 300
"""Sites per part the partition aims at."""
MIN_TEAMS_PER_PART = 2
"""A territory gets at least this many teams (when the office has them): with one team a
part cannot trade work between routes of the same day."""
BALANCE_TOLERANCE = 0.1
"""The rebalancing stops when every territory's work per capacity is within this share of
its office's."""


def _mapping_proxy(items: dict[Any, Any]) -> MappingProxyType:
    return MappingProxyType(items)


# A part's problem travels to an RQ worker pickled (as RQ sends any job argument); the
# domain's frozen mappings are read-only views, which pickle cannot take by default.
copyreg.pickle(MappingProxyType, lambda m: (_mapping_proxy, (dict(m),)))


@dataclass(frozen=True)
class PartSpec:
    """One part of a decomposed problem."""

    index: int
    territory: int
    block: int
    site_ids: tuple[str, ...]
    team_ids: tuple[str, ...]
    dates: tuple[date, ...]
    card_stock: int | None = None
    office: str = ""

    @property
    def label(self) -> str:
        """A short human label, e.g. ``"wilayah 3 · 2–6 Jun"`` (Indonesian, for the UI)."""
        first, last = self.dates[0], self.dates[-1]
        return f"wilayah {self.territory + 1} · {first:%d/%m}–{last:%d/%m}"

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "territory": self.territory,
            "block": self.block,
            "site_ids": list(self.site_ids),
            "team_ids": list(self.team_ids),
            "dates": [d.isoformat() for d in self.dates],
            "card_stock": self.card_stock,
            "office": self.office,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PartSpec:
        return cls(
            index=int(raw["index"]),
            territory=int(raw["territory"]),
            block=int(raw["block"]),
            site_ids=tuple(str(s) for s in raw["site_ids"]),
            team_ids=tuple(str(t) for t in raw["team_ids"]),
            dates=tuple(date.fromisoformat(d) for d in raw["dates"]),
            card_stock=None if raw.get("card_stock") is None else int(raw["card_stock"]),
            office=str(raw.get("office") or ""),
        )


# --------------------------------------------------------------------------- partition


def plane_xy(locations: Sequence[Any]) -> np.ndarray:
    """Points in kilometres on a local plane (equirectangular; fine at a province's size)."""
    if not locations:
        return np.zeros((0, 2))
    lat = np.array([loc.lat for loc in locations], dtype=float)
    lon = np.array([loc.lon for loc in locations], dtype=float)
    k = 111.32
    return np.column_stack([lat * k, lon * k * np.cos(np.radians(lat.mean()))])


def site_work(problem: Problem, site: Site) -> float:
    """Kit-seconds a site's whole demand takes (setup counted once)."""
    return float(site.setup_s + problem.service_seconds(site.demand, 1))


def _capacity(team: Team, dates: set[date]) -> float:
    """Kit-seconds of a team's shifts on ``dates``."""
    return float(sum(s.working_seconds for s in team.shifts if s.date in dates) * team.kits)


def _kmeans(points: np.ndarray, weights: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Labels of a weighted k-means with k-means++ seeding (deterministic for a seed)."""
    n = len(points)
    if k <= 1 or n <= k:
        return np.arange(n) % max(1, k) if k > 1 else np.zeros(n, dtype=int)
    rng = np.random.default_rng(seed)
    centres = [points[int(rng.integers(n))]]
    for _ in range(1, k):
        d2 = np.min(((points[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        p = d2 * weights
        total = p.sum()
        pick = int(rng.choice(n, p=p / total)) if total > 0 else int(rng.integers(n))
        centres.append(points[pick])
    c = np.array(centres)
    labels = np.zeros(n, dtype=int)
    for _ in range(50):
        d = ((points[:, None, :] - c[None]) ** 2).sum(-1)
        new = d.argmin(axis=1)
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
        for j in range(k):
            m = labels == j
            if m.any():
                w = weights[m]
                c[j] = (points[m] * w[:, None]).sum(0) / max(w.sum(), 1e-9)
    return labels


def _weeks(dates: Sequence[date]) -> list[list[date]]:
    """``dates`` cut into ISO weeks (Monday to Sunday), in order."""
    out: dict[tuple[int, int], list[date]] = {}
    for d in dates:
        out.setdefault(d.isocalendar()[:2], []).append(d)
    return [out[k] for k in sorted(out)]


def partition(
    problem: Problem,
    *,
    target_sites: int = TARGET_SITES,
    office_of: Mapping[str, str] | None = None,
    group_of: Mapping[str, str] | None = None,
    seed: int = 0,
    weights: Sequence[int] = (16, 8, 4, 2, 1),
) -> list[PartSpec]:
    """Cut ``problem`` into parts (see the module docstring).

    Parameters
    ----------
    target_sites
        Sites per part aimed at; a problem this small or smaller is one part.
    office_of
        Office key per site id and per team id (teams and sites of different offices never
        share a part); missing keys count as one office.
    group_of
        Group key per site id (e.g. the kecamatan code): a group stays in one territory.
    seed
        Seed of the clustering (the same problem and seed give the same parts).
    """
    office_of = office_of or {}
    group_of = group_of or {}
    offices: dict[str, tuple[list[Site], list[Team]]] = {}
    for s in problem.sites:
        offices.setdefault(office_of.get(s.id, ""), ([], []))[0].append(s)
    for t in problem.teams:
        offices.setdefault(office_of.get(t.id, ""), ([], []))[1].append(t)
    horizon = list(problem.horizon)
    total_cards = sum(n for s in problem.sites for sv, n in s.demand.items() if sv in CARD_SERVICES)
    specs: list[PartSpec] = []
    territory_no = 0
    for key in sorted(offices):
        sites, teams = offices[key]
        if not sites or not teams:
            continue  # sites without teams are left out, with their reasons, by the stitch
        n_parts = max(1, round(len(sites) / max(1, target_sites)))
        max_terr = max(1, len(teams) // MIN_TEAMS_PER_PART)
        n_terr = min(n_parts, max_terr)
        weeks = _weeks(horizon)
        n_blocks = min(len(weeks), max(1, math.ceil(n_parts / n_terr)))
        territories = _territories(problem, sites, teams, n_terr, group_of, seed, weights)
        blocks = _blocks(weeks, n_blocks)
        for t_sites, t_teams in territories:
            assigned = _assign_blocks(problem, t_sites, t_teams, blocks)
            for b, (b_dates, b_sites) in enumerate(zip(blocks, assigned, strict=True)):
                if not b_sites:
                    continue
                cards = sum(n for s in b_sites for sv, n in s.demand.items() if sv in CARD_SERVICES)
                stock = None
                if problem.card_stock is not None:
                    share = cards / total_cards if total_cards else 0.0
                    stock = int(problem.card_stock * share)
                specs.append(
                    PartSpec(
                        index=len(specs),
                        territory=territory_no,
                        block=b,
                        site_ids=tuple(s.id for s in b_sites),
                        team_ids=tuple(t.id for t in t_teams),
                        dates=tuple(d for d in horizon if b_dates[0] <= d <= b_dates[-1]),
                        card_stock=stock,
                        office=key,
                    )
                )
            territory_no += 1
    return specs


def _blocks(weeks: list[list[date]], n: int) -> list[list[date]]:
    """``n`` blocks of consecutive whole weeks, as even in length as they can be."""
    out: list[list[date]] = []
    for i in range(n):
        lo = round(i * len(weeks) / n)
        hi = round((i + 1) * len(weeks) / n)
        out.append([d for w in weeks[lo:hi] for d in w])
    return out


def _territories(
    problem: Problem,
    sites: list[Site],
    teams: list[Team],
    k: int,
    group_of: Mapping[str, str],
    seed: int,
    weights: Sequence[int],
) -> list[tuple[list[Site], list[Team]]]:
    """``k`` territories of one office: (sites, teams) each."""
    if k <= 1:
        return [(sites, teams)]
    dates = set(problem.horizon)
    # units: groups of sites that move together (a kecamatan), or single sites
    units: dict[str, list[Site]] = {}
    for s in sites:
        g = group_of.get(s.id)
        units.setdefault(f"g:{g}" if g else f"s:{s.id}", []).append(s)
    unit_sites = list(units.values())
    xy_sites = plane_xy([s.location for s in sites])
    at = {s.id: i for i, s in enumerate(sites)}
    unit_xy = np.array([xy_sites[[at[s.id] for s in u]].mean(0) for u in unit_sites])
    unit_work = np.array(
        [sum(site_work(problem, s) * weights[s.priority - 1] for s in u) for u in unit_sites]
    )
    k = min(k, len(unit_sites))
    labels = _kmeans(unit_xy, unit_work, k, seed)
    # locked sites pull their unit to a territory with their team: decided after teams
    centres = np.array(
        [
            (unit_xy[labels == j] * unit_work[labels == j, None]).sum(0)
            / max(unit_work[labels == j].sum(), 1e-9)
            if (labels == j).any()
            else unit_xy.mean(0)
            for j in range(k)
        ]
    )
    work = np.array([unit_work[labels == j].sum() for j in range(k)])
    owner, got = _deal_teams(problem, teams, unit_sites, unit_work, labels, centres, work, dates)
    team_of = {t.id: owner[i] for i, t in enumerate(teams)}
    # locked sites' units go to their team's territory
    for ui, u in enumerate(unit_sites):
        for s in u:
            if s.lock is not None and s.lock.team_id in team_of:
                labels[ui] = team_of[s.lock.team_id]
                break
    # which territory's teams can serve each unit (a printer for KTP printing, ...): a unit
    # none of its territory's teams can serve goes to the nearest territory that can, and
    # the rebalancing never moves a unit to a territory that cannot serve it
    asked = {sv for u in unit_sites for s in u for sv in s.demand}
    offered = [
        {
            frozenset(sv for sv in asked if t.offers(sv))
            for t, o in zip(teams, owner, strict=True)
            if o == j
        }
        for j in range(k)
    ]
    servable = np.array(
        [
            [all(any(s.services <= o for o in offered[j]) for s in u) for j in range(k)]
            for u in unit_sites
        ],
        dtype=bool,
    ).reshape(len(unit_sites), k)
    for ui, u in enumerate(unit_sites):
        if not servable[ui, labels[ui]] and servable[ui].any() and all(s.lock is None for s in u):
            dist = ((centres - unit_xy[ui]) ** 2).sum(1)
            labels[ui] = min(np.flatnonzero(servable[ui]), key=lambda j: (dist[j], j))
    labels = _rebalance(unit_xy, unit_work, labels, got, centres, unit_sites, servable)
    out = []
    for j in range(k):
        t_sites = [s for ui, u in enumerate(unit_sites) if labels[ui] == j for s in u]
        t_teams = [t for i, t in enumerate(teams) if owner[i] == j]
        if t_sites and t_teams:
            out.append((t_sites, t_teams))
        elif t_sites:  # a territory without a team: give its sites to the nearest one
            out.append((t_sites, []))
    # merge team-less territories into the nearest staffed one
    staffed = [o for o in out if o[1]]
    for t_sites, t_teams in out:
        if t_teams:
            continue
        c = plane_xy([s.location for s in t_sites]).mean(0)
        best = min(
            staffed,
            key=lambda o: ((plane_xy([s.location for s in o[0]]).mean(0) - c) ** 2).sum(),
        )
        best[0].extend(t_sites)
    return staffed


def _deal_teams(
    problem: Problem,
    teams: list[Team],
    unit_sites: list[list[Site]],
    unit_work: np.ndarray,
    labels: np.ndarray,
    centres: np.ndarray,
    work: np.ndarray,
    dates: set[date],
) -> tuple[list[int], np.ndarray]:
    """Each team's territory, and each territory's capacity (kit-seconds).

    Each territory's capacity share follows its (priority-weighted) work, nearest start
    first. Teams that offer a service not every team of the office offers (KTP printing
    needs a printer) are dealt first, all of them, by the weighted work of the sites that
    ask for that service: such a site needs one of these teams for the whole visit, and in
    the data those sites are the urgent ones (prisons, nursing homes, the bedridden at
    home). Every territory with such sites gets one while they last; the rest follow the
    territories' shares of that work. Dealt by distance alone, a territory of teams without
    a printer could not serve one site that asks for printing: in the seeded Medan city
    (seed 5) every prison, nursing home and home visit of one territory, 853 priority-1
    residents. Then every territory gets up to ``MIN_TEAMS_PER_PART`` teams (round robin by
    deficit) and the rest go where the share still missing is largest.
    """
    k = len(work)
    cap = np.array([_capacity(t, dates) for t in teams])
    team_xy = plane_xy([t.start for t in teams])
    got = np.zeros(k)
    owner = [-1] * len(teams)
    free = set(range(len(teams)))

    def give(j: int, pool: set[int]) -> int:
        """The team of ``pool`` starting nearest territory ``j``'s centre joins it."""
        ti = min(pool, key=lambda i: (((team_xy[i] - centres[j]) ** 2).sum(), i))
        owner[ti] = int(j)
        got[j] += cap[ti]
        free.discard(ti)
        pool.discard(ti)
        return ti

    asked = sorted({sv for u in unit_sites for s in u for sv in s.demand}, key=lambda sv: sv.value)
    for sv in asked:
        offering = {i for i, t in enumerate(teams) if t.offers(sv)}
        if len(offering) == len(teams):
            continue
        pool = offering & free
        # weighted work of the units asking for the service, per territory
        need = np.array(
            [
                sum(
                    unit_work[ui]
                    for ui in np.flatnonzero(labels == j)
                    if any(sv in s.demand for s in unit_sites[ui])
                )
                for j in range(k)
            ],
            dtype=float,
        )
        if not pool or need.sum() <= 0:
            continue
        share = need / need.sum() * cap[list(offering)].sum()
        have = np.array([sum(cap[i] for i in offering if owner[i] == j) for j in range(k)])
        for j in np.argsort(-need, kind="stable"):
            if pool and need[j] > 0 and have[j] == 0:
                have[j] += cap[give(int(j), pool)]
        while pool:
            j = int(np.argmax(share - have))
            have[j] += cap[give(j, pool)]
    want = work / max(work.sum(), 1e-9) * cap.sum()
    count = np.array([sum(1 for o in owner if o == j) for j in range(k)])
    for _round in range(MIN_TEAMS_PER_PART):
        for j in np.argsort(-(want - got), kind="stable"):
            if free and count[j] < MIN_TEAMS_PER_PART:
                give(int(j), free)
                count[j] += 1
    while free:
        give(int(np.argmax(want - got)), free)
    return owner, got


def _rebalance(
    xy: np.ndarray,
    work: np.ndarray,
    labels: np.ndarray,
    capacity: np.ndarray,
    centres: np.ndarray,
    units: list[list[Site]],
    servable: np.ndarray | None = None,
) -> np.ndarray:
    """Move border units from overloaded territories to less loaded ones.

    Load is work per capacity. While a territory's load exceeds the office's by more than
    :data:`BALANCE_TOLERANCE`, its unit with the smallest detour (distance to the other
    territory's centre minus distance to its own) moves to a territory whose load is below
    the office's; locked units never move, nor does a unit to a territory whose teams cannot
    serve it (``servable[unit, territory]``). Each move lowers the spread, so it ends."""
    labels = labels.copy()
    k = len(capacity)
    cap = np.maximum(capacity, 1.0)
    mean = work.sum() / cap.sum()
    movable = np.array([all(s.lock is None for s in u) for u in units])
    dist = np.sqrt(((xy[:, None, :] - centres[None]) ** 2).sum(-1))
    for _ in range(len(units)):
        load = np.array([work[labels == j].sum() for j in range(k)]) / cap
        hi = int(np.argmax(load))
        if load[hi] <= mean * (1 + BALANCE_TOLERANCE):
            break
        cands = np.where((labels == hi) & movable)[0]
        if len(cands) == 0:
            break
        targets = [j for j in range(k) if j != hi and load[j] < mean]
        if not targets:
            break
        best = None
        for j in targets:
            ok = cands if servable is None else cands[servable[cands, j]]
            if len(ok) == 0:
                continue
            detour = dist[ok, j] - dist[ok, hi]
            i = int(np.argmin(detour))
            # the move must not push the target above the source's new load
            after_src = load[hi] - work[ok[i]] / cap[hi]
            after_dst = load[j] + work[ok[i]] / cap[j]
            if after_dst >= load[hi]:
                continue
            if best is None or detour[i] < best[0]:
                best = (detour[i], int(ok[i]), j, after_src)
        if best is None:
            break
        labels[best[1]] = best[2]
    return labels


def _assign_blocks(
    problem: Problem, sites: list[Site], teams: list[Team], blocks: list[list[date]]
) -> list[list[Site]]:
    """Each site to one week block: locked ones to their lock's block, the rest most urgent
    (then largest) first to the block with the lowest work per capacity."""
    if len(blocks) == 1:
        return [list(sites)]
    cap = [max(1.0, sum(_capacity(t, set(b)) for t in teams)) for b in blocks]
    load = [0.0] * len(blocks)
    out: list[list[Site]] = [[] for _ in blocks]
    rest = []
    for s in sites:
        if s.lock is not None:
            b = next(i for i, blk in enumerate(blocks) if s.lock.date in blk)
            out[b].append(s)
            load[b] += site_work(problem, s)
        else:
            rest.append(s)
    rest.sort(key=lambda s: (s.priority, -site_work(problem, s), s.id))
    for s in rest:
        b = min(range(len(blocks)), key=lambda i: (load[i] / cap[i], i))
        out[b].append(s)
        load[b] += site_work(problem, s)
    return out


def place_matrices(problem: Problem) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Travel matrices over :meth:`Problem.places` for every profile in use."""
    from outreach.planning.explain import place_matrices as pm

    return pm(problem)


def _sliced(problem: Problem, sub_places: Sequence[Any], matrices: Mapping[str, Any]) -> Any:
    row = {p.key: i for i, p in enumerate(problem.places())}
    rows = np.array([row[p.key] for p in sub_places], dtype=np.int64)
    ix = np.ix_(rows, rows)
    return ExplicitMatrix(
        index={p.key: i for i, p in enumerate(sub_places)},
        distance_m={prof: d[ix] for prof, (d, _) in matrices.items()},
        duration_s={prof: t[ix] for prof, (_, t) in matrices.items()},
    )


def subproblem(
    problem: Problem,
    spec: PartSpec,
    matrices: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    sites: Sequence[Site] | None = None,
    teams: Sequence[Team] | None = None,
    dates: Sequence[date] | None = None,
    card_stock: int | None | bool = False,
) -> Problem:
    """The part's own problem, with travel sliced from the whole problem's ``matrices``.

    ``sites``/``teams``/``dates``/``card_stock`` override the spec's (the seam repair
    builds territory problems with them)."""
    site_ids = set(spec.site_ids)
    team_ids = set(spec.team_ids)
    my_sites = (
        tuple(sites) if sites is not None else tuple(s for s in problem.sites if s.id in site_ids)
    )
    my_teams = (
        tuple(teams) if teams is not None else tuple(t for t in problem.teams if t.id in team_ids)
    )
    horizon = tuple(dates) if dates is not None else spec.dates
    stock = spec.card_stock if card_stock is False else card_stock
    shell = Problem(
        sites=my_sites,
        teams=my_teams,
        horizon=horizon,
        card_stock=stock,
        utc_offset_minutes=problem.utc_offset_minutes,
        tz_name=problem.tz_name,
        seconds_per_person=problem.seconds_per_person,
    )
    return dataclasses.replace(shell, travel=_sliced(problem, shell.places(), matrices))


__all__ = [
    "PartSpec",
    "TARGET_SITES",
    "partition",
    "place_matrices",
    "plane_xy",
    "site_work",
    "subproblem",
]
