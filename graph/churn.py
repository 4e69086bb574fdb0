"""Churn risk: who is drifting away, from four factors anyone can check.

DESIGN.md step 5. Time is measured back from ``now`` (the newest interaction,
as for decay). ``window_days`` (default 30) is "recent"; the
``baseline_windows`` (default 3) windows before it are the person's normal.
Each factor is in [0, 1]:

* ``activity_drop``: ``1 − recent rate / normal rate`` of messages, floored
  at 0 (1 = went silent); 0 for someone with no history to fall from.
* ``sentiment_drop``: how far the mean polarity of recent messages fell
  below the normal one (polarity scale −1..1, a fall of 1 or more is 1);
  0 when either period has no classified message.
* ``recent_negative``: the share of recent classified messages at or below
  ``negative_polarity`` (default −0.3).
* ``negative_exposure``: the mood of the people around them, weighted by how
  much they interact (the decayed edge weight, both directions) and by those
  neighbours' influence: ``Σ w·infl·neg / Σ w·infl`` with ``neg`` the
  neighbour's recent negativity (``−recent mean``, floored at 0).

``churn_risk`` is the weighted mean of the factors with ``weights`` (default
activity 0.35, sentiment 0.2, negatives 0.25, exposure 0.2; they sum to 1),
so it is in [0, 1] and each factor's part can be read off. With churn labels,
:func:`fit` learns a logistic regression over the same factors instead
(``agora churn fit``), and :class:`ChurnModel` applies it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.stats import rankdata

from graph.messages import MessageArrays

__all__ = ["FACTORS", "DEFAULT_WEIGHTS", "ChurnModel", "churn_factors", "auc", "fit"]

FACTORS = ("activity_drop", "sentiment_drop", "recent_negative", "negative_exposure")
DEFAULT_WEIGHTS = {"activity_drop": 0.35, "sentiment_drop": 0.2, "recent_negative": 0.25, "negative_exposure": 0.2}


@dataclass(frozen=True)
class ChurnModel:
    """How factors become a risk: the transparent weighted mean (``intercept``
    is ``None``) or a fitted logistic regression (``intercept`` set)."""

    coefficients: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    intercept: float | None = None

    def risk(self, factors: np.ndarray) -> np.ndarray:
        """Risk in [0, 1] for each row of ``factors`` (columns in :data:`FACTORS` order).

        >>> ChurnModel().risk(np.array([[1.0, 0, 0, 0], [1, 1, 1, 1]])).tolist()
        [0.35, 1.0]
        """
        beta = np.array([float(self.coefficients.get(f, 0.0)) for f in FACTORS])
        if self.intercept is None:
            total = beta.sum()
            return np.clip(factors @ beta / total, 0.0, 1.0) if total > 0 else np.zeros(len(factors))
        return 1.0 / (1.0 + np.exp(-(self.intercept + factors @ beta)))

    @classmethod
    def load(cls, path: Path | None) -> "ChurnModel":
        """The fitted model saved at ``path``; the default formula when ``path`` is ``None`` or absent."""
        if path is None or not Path(path).is_file():
            return cls()
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            coefficients = {f: float(data["coefficients"][f]) for f in FACTORS}
            return cls(coefficients, float(data["intercept"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a churn weights file ({type(exc).__name__}: {exc})") from None


def churn_factors(messages: MessageArrays, n: int, *, now: float, src: np.ndarray, dst: np.ndarray,
                  weight: np.ndarray, influence: np.ndarray, window_days: float = 30.0,
                  baseline_windows: int = 3, negative_polarity: float = -0.3) -> np.ndarray:
    """An ``n × 4`` array of factors (columns in :data:`FACTORS` order) for
    ``n`` people; ``now`` in epoch seconds, edges ``src → dst`` of ``weight``,
    ``influence`` in [0, 1] per person. See the module doc."""
    window = window_days * 86_400.0
    p, ts, pol = messages.person, messages.ts, messages.polarity
    recent = ts > now - window
    normal = (ts <= now - window) & (ts > now - (1 + baseline_windows) * window)
    recent_n = np.bincount(p[recent], minlength=n).astype(float)
    normal_rate = np.bincount(p[normal], minlength=n) / baseline_windows
    activity = np.divide(np.maximum(normal_rate - recent_n, 0.0), normal_rate, out=np.zeros(n),
                         where=normal_rate > 0)

    classified = ~np.isnan(pol)
    rc, nc = recent & classified, normal & classified
    recent_mean = _mean(p[rc], pol[rc], n)
    normal_mean = _mean(p[nc], pol[nc], n)
    sentiment = np.clip(np.nan_to_num(normal_mean - recent_mean, nan=0.0), 0.0, 1.0)
    negatives = np.bincount(p[rc], weights=(pol[rc] <= negative_polarity).astype(float), minlength=n)
    recent_c = np.bincount(p[rc], minlength=n)
    negative = np.divide(negatives, recent_c, out=np.zeros(n), where=recent_c > 0)

    neg_mood = np.clip(-np.nan_to_num(recent_mean, nan=0.0), 0.0, 1.0)
    a, b = np.concatenate([src, dst]), np.concatenate([dst, src])  # both directions: who they talk with
    w = np.concatenate([weight, weight]) * influence[b] if len(src) else np.zeros(0)
    num = np.bincount(a, weights=w * neg_mood[b], minlength=n) if len(a) else np.zeros(n)
    den = np.bincount(a, weights=w, minlength=n) if len(a) else np.zeros(n)
    exposure = np.divide(num, den, out=np.zeros(n), where=den > 0)
    return np.column_stack([activity, sentiment, negative, exposure])


def _mean(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    total = np.bincount(group, weights=values, minlength=n)
    count = np.bincount(group, minlength=n)
    return np.divide(total, count, out=np.full(n, np.nan), where=count > 0)


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve (Mann–Whitney; ties count half); NaN without both classes.

    >>> auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    s, y = np.asarray(scores, float), np.asarray(labels, int)
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    if not pos or not neg:
        return math.nan
    ranks = rankdata(s)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def fit(factors: np.ndarray, labels: np.ndarray, *, l2: float = 1e-2, folds: int = 5,
        seed: int = 0) -> dict[str, object]:
    """Fit a logistic regression of ``labels`` (0/1) on ``factors`` (L2-penalised,
    intercept free). Returns the model (``intercept``, ``coefficients``) with
    its in-sample ``auc``, the default formula's ``formula_auc`` on the same
    labels (the formula learns nothing from them), and ``cv_auc``, the
    model's AUC by ``folds``-fold cross-validation: the honest comparison
    with ``formula_auc``."""
    x, y = np.asarray(factors, float), np.asarray(labels, float)
    if len(np.unique(y)) < 2:
        raise ValueError("churn labels need both churned (1) and stayed (0) people")
    model = _logistic(x, y, l2)
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(y)) % max(2, min(folds, len(y)))
    cv = np.zeros(len(y))
    for k in np.unique(fold):
        train = fold != k
        if len(np.unique(y[train])) < 2:
            cv[~train] = 0.5
            continue
        cv[~train] = _logistic(x[train], y[train], l2).risk(x[~train])
    formula = ChurnModel().risk(x)
    return {"intercept": model.intercept, "coefficients": dict(model.coefficients),
            "auc": auc(model.risk(x), y), "formula_auc": auc(formula, y),
            "cv_auc": auc(cv, y), "labels": int(len(y)),
            "churned": int(y.sum())}


def _logistic(x: np.ndarray, y: np.ndarray, l2: float) -> ChurnModel:
    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] + x @ theta[1:]
        p = 1.0 / (1.0 + np.exp(-z))
        value = np.sum(np.logaddexp(0.0, z) - y * z) + l2 * np.sum(theta[1:] ** 2)
        g = p - y
        return float(value), np.concatenate([[g.sum()], x.T @ g + 2 * l2 * theta[1:]])

    theta = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return ChurnModel(dict(zip(FACTORS, theta[1:].tolist())), float(theta[0]))
