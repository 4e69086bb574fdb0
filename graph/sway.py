"""Sway and susceptibility: how much one person moves the mood of those who answer them.

DESIGN.md step 4. For every classified response of B to A (a reply, quote,
share, mention or message of B addressed to A, at time ``t``):

* **A's stance** is the polarity of A's latest classified message before
  ``t``, if it is at most ``window_hours`` old (default 48 h). A response to
  someone who has said nothing recently is not evidence of being moved by
  them, so it is skipped. In a thread A's latest message is almost always the
  one answered; using it keeps the computation vectorised (no per-message
  lookup of parents).
* **B's baseline** is the mean polarity of B's last ``baseline_messages``
  (default 10) classified messages *before* ``t``: B's own recent mood,
  measured without the response itself and without anything B said later.
  When B has no earlier message, the mean of all B's other messages stands
  in (leave-one-out); when B has no other message, the response is skipped.
* **The shift** is how far the response moved from B's baseline *toward*
  A's stance: ``sign(stance − baseline) × (polarity − baseline)``, on the
  polarity scale (−2..2). Positive: B moved toward A; negative: away. When
  A's stance is within ``min_gap`` (default 0.1) of B's baseline there is no
  direction to move in, and the response is skipped.

A person's **sway** is the mean shift of the responses to them, and their
**susceptibility** the mean shift of their own responses, each shrunk toward
0 by ``prior`` pseudo-responses (default 3): ``sum / (n + prior)``, so three
lucky responses do not outrank a hundred consistent ones. ``sway_n`` and
``susceptibility_n`` say how many responses each figure rests on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from graph.messages import MessageArrays
from graph.projection import EdgeEvent, Projection

__all__ = ["SwayResult", "response_arrays", "projection_responses", "sway", "sway_update", "sway_evidence"]


@dataclass(frozen=True)
class SwayResult:
    """Per node (projection index): ``sway``, ``sway_n``, ``susceptibility``,
    ``susceptibility_n``; and per counted response: ``leader`` (A),
    ``follower`` (B), ``shift``, ``time`` and ``event`` (position of the
    response in the events given), for explanations."""

    sway: np.ndarray
    sway_n: np.ndarray
    susceptibility: np.ndarray
    susceptibility_n: np.ndarray
    leader: np.ndarray
    follower: np.ndarray
    shift: np.ndarray
    time: np.ndarray
    event: np.ndarray


def projection_responses(proj: Projection) -> tuple[np.ndarray, ...]:
    """:func:`response_arrays` of the events the projection kept (no second pass over the events)."""
    ev = proj.events
    if not ev:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, np.zeros(0), np.zeros(0)
    ok = ~np.isnan(ev["polarity"])
    return ev["position"][ok], ev["src"][ok], ev["dst"][ok], ev["t"][ok], ev["polarity"][ok]


def response_arrays(events: list[EdgeEvent], index: Mapping[str, int],
                    kinds: Iterable[str] | None = None) -> tuple[np.ndarray, ...]:
    """``(event position, source, target, time, polarity)`` arrays of the
    classified events between indexed people (and of ``kinds`` when given)."""
    allowed = None if kinds is None else set(kinds)
    keep = [i for i, e in enumerate(events)
            if e.polarity is not None and e.source != e.target and e.source in index and e.target in index
            and (allowed is None or e.kind in allowed)]
    k = len(keep)
    pos = np.asarray(keep, dtype=np.int64)
    src = np.fromiter((index[events[i].source] for i in keep), np.int64, k)
    dst = np.fromiter((index[events[i].target] for i in keep), np.int64, k)
    t = np.fromiter((events[i].timestamp.timestamp() for i in keep), np.float64, k)
    pol = np.fromiter((events[i].polarity for i in keep), np.float64, k)
    return pos, src, dst, t, pol


def sway(responses: tuple[np.ndarray, ...], messages: MessageArrays, n: int, *, window_hours: float = 48.0,
         baseline_messages: int = 10, min_gap: float = 0.1, prior: float = 3.0) -> SwayResult:
    """Sway and susceptibility of ``n`` people from ``responses`` (see
    :func:`response_arrays`) and everyone's ``messages``. See the module doc.

    >>> from datetime import datetime, timedelta, timezone
    >>> from graph.messages import MessageRow, message_arrays
    >>> t = datetime(2025, 1, 1, tzinfo=timezone.utc)
    >>> idx = {"lead": 0, "fan": 1}
    >>> msgs = [MessageRow("a", "fan", t, -0.5), MessageRow("b", "lead", t + timedelta(hours=1), 0.9),
    ...         MessageRow("c", "fan", t + timedelta(hours=2), 0.3)]
    >>> ev = [EdgeEvent("fan", "lead", "reply", t + timedelta(hours=2), 0.3, "c")]
    >>> r = sway(response_arrays(ev, idx), message_arrays(msgs, idx, 2), 2, prior=0)
    >>> round(float(r.sway[0]), 2), int(r.sway_n[0]), round(float(r.susceptibility[1]), 2)
    (0.8, 1, 0.8)
    """
    pos, src, dst, t, pol = responses
    c = messages.classified()
    start, end = c.start[:-1], c.start[1:]

    # B's baseline: the mean of up to K classified messages before t. Summed message by message, newest
    # first (not as a difference of running totals over everyone's messages): the figure then depends on
    # B's messages only, not on how many other messages precede them, so that a response's inclusion
    # (|gap| >= min_gap, often exactly on the edge with 3-decimal polarities) cannot flip with float noise
    # when someone else posts, and an incremental rescore reproduces it exactly.
    at = c.search(src, t)
    lo = np.maximum(start[src], at - baseline_messages)
    before = at - lo
    window_sum = np.zeros(len(at))
    for j in range(1, int(before.max(initial=0)) + 1):  # adding 0.0 outside the window leaves a sum as it is
        window_sum += np.where(before >= j, c.polarity[np.maximum(at - j, 0)], 0.0)
    base = np.divide(window_sum, before, out=np.full(len(at), np.nan), where=before > 0)
    total_n = (end - start)[src]
    total_s = np.bincount(c.person, weights=c.polarity, minlength=len(start))[src] if len(src) else np.zeros(0)
    loo = np.divide(total_s - pol, total_n - 1, out=np.full(len(at), np.nan), where=total_n > 1)
    base = np.where(before > 0, base, loo)

    # A's stance: A's latest classified message before t, within the window
    last = c.search(dst, t) - 1
    has = last >= start[dst]
    safe = np.where(has, last, 0)
    fresh = has & (t - (c.ts[safe] if c.size else 0.0) <= window_hours * 3600.0) if c.size else has
    stance = np.where(fresh, c.polarity[safe] if c.size else np.nan, np.nan)

    gap = stance - base
    ok = np.isfinite(gap) & (np.abs(gap) >= min_gap)
    shift = np.sign(gap[ok]) * (pol[ok] - base[ok])
    return _aggregate(dst[ok], src[ok], shift, t[ok], pos[ok], n, prior)


def sway_update(previous: SwayResult, responses: tuple[np.ndarray, ...], messages: MessageArrays, n: int,
                affected: np.ndarray, *, window_hours: float = 48.0, baseline_messages: int = 10,
                min_gap: float = 0.1, prior: float = 3.0) -> SwayResult:
    """:func:`sway` after a batch, recomputing only the responses it can have changed.

    A response's shift reads only its two people's messages, so when
    ``affected`` (a mask over the ``n`` people: those with new messages)
    holds neither, its shift from ``previous`` stands. ``responses`` are all
    of them, old and new (positions of old events unchanged, people's
    indices too); the responses by or to an affected person are recomputed
    against ``messages`` (all of them). The per-response arrays come out in
    the order :func:`sway` gives (by event), so the sums are taken in the
    same order as a full run: the figures agree with it to float rounding
    (the baselines are differences of cumulative sums, ~1e-13).
    """
    pos, src, dst = responses[0], responses[1], responses[2]
    redo = affected[src] | affected[dst]
    fresh = sway(tuple(a[redo] for a in responses), messages, n, window_hours=window_hours,
                 baseline_messages=baseline_messages, min_gap=min_gap, prior=prior)
    keep = ~(affected[previous.leader] | affected[previous.follower])
    event = np.concatenate([previous.event[keep], fresh.event])
    order = np.argsort(event, kind="stable")  # two sorted runs: a merge
    pick = lambda old, new: np.concatenate([old[keep], new])[order]  # noqa: E731
    return _aggregate(pick(previous.leader, fresh.leader), pick(previous.follower, fresh.follower),
                      pick(previous.shift, fresh.shift), pick(previous.time, fresh.time), event[order], n, prior)


def _aggregate(leader: np.ndarray, follower: np.ndarray, shift: np.ndarray, time: np.ndarray, event: np.ndarray,
               n: int, prior: float) -> SwayResult:
    sway_sum = np.bincount(leader, weights=shift, minlength=n)
    sway_n = np.bincount(leader, minlength=n)
    sus_sum = np.bincount(follower, weights=shift, minlength=n)
    sus_n = np.bincount(follower, minlength=n)
    return SwayResult(
        sway=np.divide(sway_sum, sway_n + prior, out=np.zeros(n), where=(sway_n + prior) > 0),
        sway_n=sway_n,
        susceptibility=np.divide(sus_sum, sus_n + prior, out=np.zeros(n), where=(sus_n + prior) > 0),
        susceptibility_n=sus_n,
        leader=leader, follower=follower, shift=shift, time=time, event=event)


def sway_evidence(result: SwayResult, events: Sequence[EdgeEvent], nodes: list[str],
                  top: int = 3) -> dict[str, dict[str, list[dict[str, object]]]]:
    """Per person, the ``top`` responses with the largest shifts behind their
    ``sway`` (responses to them) and ``susceptibility`` (their responses):
    ``{"with": other person, "shift": ..., "message": id, "at": ISO time}``."""
    out: dict[str, dict[str, list[dict[str, object]]]] = {}
    for name, own, other in (("sway", result.leader, result.follower),
                             ("susceptibility", result.follower, result.leader)):
        if not len(own):
            continue
        order = np.lexsort((-np.abs(result.shift), own))
        grouped = own[order]
        first = np.searchsorted(grouped, grouped, side="left")
        rank = np.arange(len(order)) - first
        for k in order[rank < top].tolist():
            e = events[int(result.event[k])]
            out.setdefault(nodes[int(own[k])], {"sway": [], "susceptibility": []})[name].append(
                {"with": nodes[int(other[k])], "shift": round(float(result.shift[k]), 4),
                 "message": e.message_id, "at": e.timestamp.isoformat()})
    return out
