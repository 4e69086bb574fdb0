"""Score people and communities from their interactions.

:func:`score` is the whole model of DESIGN.md's steps 1–3 as one plain
function: project the interactions onto people (:mod:`graph.projection`),
find communities (:mod:`graph.communities`), and rank influence
(:mod:`graph.influence`):

* ``influence``: expected reach (:func:`graph.influence.reach`, a truncated
  Katz centrality of the flow of attention) as a 0–100 percentile among all
  scored people: it predicts simulated spread better than degree, k-core and
  PageRank (see tests/graph/test_validation.py); ``pagerank`` keeps the
  global PageRank;
* ``community_influence``: PageRank on the person's community's own edges,
  as a 0–100 percentile inside the community. PageRank runs once on the
  union of all communities' internal edges: with a uniform teleport, each
  community's block is proportional to the PageRank of that community alone,
  so the order inside every community (and thus the percentile) is the same;
* ``intensity``: the decayed weight of the attention the person receives;
* ``sway`` / ``susceptibility`` (step 4, :mod:`graph.sway`) with the number
  of responses each rests on;
* ``churn_risk`` in [0, 1] and its ``churn_factors`` (step 5, :mod:`graph.churn`).

``assignment`` and ``start`` let :mod:`graph.incremental` keep earlier
communities and warm-start PageRank after a small batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from graph.churn import FACTORS, ChurnModel, churn_factors
from graph.communities import detect_communities
from graph.influence import pagerank, percentiles, reach
from graph.messages import MessageArrays, MessageRow, message_arrays, messages_from_events
from graph.messages import mood as mood_of
from graph.projection import EdgeEvent, EventColumns, Projection, project
from graph.sway import SwayResult, projection_responses, sway

__all__ = ["PersonScore", "CommunityScore", "ScoreResult", "ScoreState", "score", "score_projection"]


@dataclass(frozen=True, slots=True)
class PersonScore:
    """The scores of one person. ``community`` and ``community_influence`` are
    ``None`` for a person with no interaction with anyone."""

    id: str
    community: str | None
    influence: float
    pagerank: float
    community_influence: float | None
    intensity: float
    sentiment_mean: float | None
    sway: float = 0.0
    sway_n: int = 0
    susceptibility: float = 0.0
    susceptibility_n: int = 0
    churn_risk: float = 0.0
    churn_factors: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CommunityScore:
    """One community: its members, mood (message-weighted mean polarity) and
    ``top`` members by influence within it, most influential first."""

    id: str
    size: int
    sentiment_mean: float | None
    top: list[str]
    members: list[str] = field(repr=False)


@dataclass(frozen=True)
class ScoreState:
    """What :func:`graph.incremental.rescore_batch` reuses after a batch: the
    messages' arrays (and whether they were derived from the events), each
    person's mood (and whether it was derived from the messages), the global
    PageRank over ``projection.nodes``, the community assignment and the
    options the scoring ran with."""

    messages: MessageArrays
    messages_from_events: bool
    mood: dict[str, tuple[float | None, int]]
    mood_from_messages: bool
    pagerank: np.ndarray
    assignment: dict[str, str]
    sway_options: dict[str, float]
    churn_options: dict[str, float]
    churn_model: ChurnModel | None
    top_n: int


@dataclass(frozen=True)
class ScoreResult:
    people: dict[str, PersonScore]
    communities: dict[str, CommunityScore]
    projection: Projection
    sway: SwayResult | None = None
    events: list[EdgeEvent] | EventColumns | None = field(default=None, repr=False)
    state: ScoreState | None = field(default=None, repr=False)


def score(events: Iterable[EdgeEvent] | EventColumns, *, people: Iterable[str] = (), weights: Mapping[str, float],
          half_life_days: float = 30.0, resolution: float = 1.0, seed: int | None = 42,
          previous_communities: Mapping[str, str] | None = None, now: datetime | None = None, top_n: int = 5,
          mood: Mapping[str, tuple[float | None, int]] | None = None,
          messages: Iterable[MessageRow] | None = None, sway_options: Mapping[str, float] | None = None,
          churn_options: Mapping[str, float] | None = None, churn_model: ChurnModel | None = None,
          assignment: Mapping[str, str] | None = None, start: Mapping[str, float] | None = None,
          projection: Projection | None = None) -> ScoreResult:
    """Score everyone in ``people`` and in ``events`` (:class:`EdgeEvent` objects
    or, faster, :class:`graph.projection.EventColumns`).

    ``previous_communities`` (person → id) keeps community ids stable across
    runs; ``mood`` gives each person's (mean polarity, message count), used
    for person and community sentiment (missing: taken from ``events``).
    ``messages`` are everyone's messages, posts included, for sway and churn
    (missing: the messages behind ``events``); ``sway_options`` and
    ``churn_options`` are keyword arguments of :func:`graph.sway.sway` and
    :func:`graph.churn.churn_factors`; ``churn_model`` turns factors into risk
    (default: the transparent formula). ``assignment`` (person → community
    id) is used as is instead of running Leiden; ``start`` (person →
    PageRank) warm-starts the global PageRank. ``projection``, when given,
    must be ``project()`` of these very events and arguments: it is reused.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2025, 1, 1, tzinfo=timezone.utc)
    >>> r = score([EdgeEvent(f, "hub", "reply", t) for f in "abc"], weights={"reply": 1.0})
    >>> r.people["hub"].influence, r.people["hub"].community_influence, r.people["hub"].intensity
    (100.0, 100.0, 3.0)
    """
    events = events if isinstance(events, EventColumns) else list(events)
    proj = projection or project(events, weights=weights, half_life_days=half_life_days, nodes=people, now=now)
    n = proj.n
    msgs = messages_from_events(proj) if messages is None else message_arrays(messages, proj.index, n)
    mood_given = mood
    if mood is None:
        mood = mood_of(msgs, proj.nodes)
    x0 = None
    if start:
        x0 = np.array([start.get(node, 1.0 / n) for node in proj.nodes], dtype=float)
    if assignment is None:
        assignment = detect_communities(proj, resolution=resolution, seed=seed, previous=previous_communities)
    return score_projection(proj, msgs, mood, assignment, events=events, now=now, top_n=top_n, start=x0,
                            sway_options=sway_options, churn_options=churn_options, churn_model=churn_model,
                            mood_from_messages=mood_given is None, derived_messages=messages is None)


def score_projection(proj: Projection, msgs: MessageArrays, mood: Mapping[str, tuple[float | None, int]],
                     assignment: Mapping[str, str], *, events: list[EdgeEvent] | EventColumns | None = None,
                     now: datetime | None = None, top_n: int = 5, start: np.ndarray | None = None,
                     sway_options: Mapping[str, float] | None = None,
                     churn_options: Mapping[str, float] | None = None, churn_model: ChurnModel | None = None,
                     swayed: SwayResult | None = None, mood_from_messages: bool = False,
                     derived_messages: bool = False) -> ScoreResult:
    """:func:`score` from its inputs already built: the projection, the messages'
    arrays, everyone's mood and the community ``assignment``. ``start`` (an
    array over ``proj.nodes``) warm-starts the global PageRank; ``swayed``,
    when given, must be what :func:`graph.sway.sway` gives on these inputs.
    :mod:`graph.incremental` calls it with inputs it updated after a batch."""
    n = proj.n
    global_rank = pagerank(n, proj.src, proj.dst, proj.weight, start=start)
    global_pct = percentiles(reach(n, proj.src, proj.dst, proj.weight))
    intensity = proj.in_weight()

    # communities as integer codes (0: none): comparisons and grouping stay in NumPy
    names = sorted(set(assignment.values()))
    code_of = {cid: k + 1 for k, cid in enumerate(names)}
    code = np.fromiter((code_of.get(assignment.get(node, ""), 0) for node in proj.nodes), np.int64, n)
    inside = (code[proj.src] == code[proj.dst]) & (code[proj.src] > 0)
    local_rank = pagerank(n, proj.src[inside], proj.dst[inside], proj.weight[inside])

    # members of each community by decreasing local rank (ties: node order), and percentiles within it
    members_all = np.flatnonzero(code > 0)
    by_rank = members_all[np.lexsort((members_all, -local_rank[members_all], code[members_all]))]
    local_pct = np.full(n, np.nan)
    local_pct[members_all] = _group_percentiles(code[members_all], local_rank[members_all])
    bounds = np.flatnonzero(np.diff(code[by_rank])) + 1
    communities: dict[str, CommunityScore] = {}
    for ix in np.split(by_rank, bounds) if len(by_rank) else []:
        cid = names[int(code[ix[0]]) - 1]
        member_names = [proj.nodes[i] for i in ix.tolist()]
        communities[cid] = CommunityScore(cid, len(ix), _weighted_mood(member_names, mood), member_names[:top_n],
                                          member_names)
    community_of = [names[c - 1] if c else "" for c in code.tolist()]

    if swayed is None:
        swayed = sway(projection_responses(proj), msgs, n, **(sway_options or {}))
    now_s = proj.now.timestamp()  # the newest interaction, or the newest message when that is later
    if now is None and msgs.size:
        now_s = max(float(msgs.ts.max()), now_s if len(proj.src) else -np.inf)
    factors = churn_factors(msgs, n, now=now_s, src=proj.src, dst=proj.dst, weight=proj.weight,
                            influence=global_pct / 100.0, **(churn_options or {}))
    risk = (churn_model or ChurnModel()).risk(factors)

    # rounded as arrays, then one tolist each (a Python round() per figure costs seconds at 1M), and the
    # objects built by map over whole columns, positionally (no Python-level loop body per person)
    no_mood = (None, 0)
    result_people = dict(zip(proj.nodes, map(
        PersonScore, proj.nodes, [cid or None for cid in community_of], np.round(global_pct, 2).tolist(),
        global_rank.tolist(), [local if cid else None for local, cid in zip(np.round(local_pct, 2).tolist(),
                                                                             community_of)],
        np.round(intensity, 4).tolist(), [mood.get(node, no_mood)[0] for node in proj.nodes],
        np.round(swayed.sway, 4).tolist(), swayed.sway_n.tolist(), np.round(swayed.susceptibility, 4).tolist(),
        swayed.susceptibility_n.tolist(), np.round(risk, 4).tolist(),
        [dict(zip(FACTORS, fac)) for fac in np.round(factors, 4).tolist()])))
    ordered = dict(sorted(communities.items(), key=lambda kv: (-kv[1].size, kv[0])))
    state = ScoreState(msgs, derived_messages, dict(mood), mood_from_messages, global_rank, dict(assignment),
                       dict(sway_options or {}), dict(churn_options or {}), churn_model, top_n)
    return ScoreResult(result_people, ordered, proj, swayed, events, state)


def _group_percentiles(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """:func:`graph.influence.percentiles` of ``values`` within each ``group``, all groups at once
    (the same figures: average ranks of ties, 100 for a lone member)."""
    k = len(group)
    if k == 0:
        return np.zeros(0)
    order = np.lexsort((values, group))
    g, v = group[order], values[order]
    new_group = np.concatenate([[True], g[1:] != g[:-1]])
    new_tie = new_group | np.concatenate([[True], v[1:] != v[:-1]])
    pos = np.arange(k)
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
    tie_start = np.maximum.accumulate(np.where(new_tie, pos, 0))
    tie_end = np.minimum.accumulate(np.where(np.concatenate([new_tie[1:], [True]]), pos, k)[::-1])[::-1]
    size = np.bincount(np.cumsum(new_group) - 1)[np.cumsum(new_group) - 1]
    rank = 0.5 * ((tie_start - group_start + 1) + (tie_end - group_start + 1))  # average 1-based rank in group
    pct = np.where(size > 1, (rank - 1.0) / np.maximum(size - 1, 1) * 100.0, 100.0)
    out = np.empty(k)
    out[order] = pct
    return out


def _weighted_mood(names: list[str], mood: Mapping[str, tuple[float | None, int]]) -> float | None:
    total, count = 0.0, 0
    for name in names:
        mean, messages = mood.get(name, (None, 0))
        if mean is not None and messages:
            total += mean * messages
            count += messages
    return round(total / count, 4) if count else None
