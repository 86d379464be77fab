"""Ranks aggregated over metrics and criteria, with bootstrap intervals over images, and how much the criteria
agree (Kendall's W).

LATEC's aggregation (Klein et al., NeurIPS 2024), made per image so that images can be resampled: on each image
the methods are ranked on each metric (1 = best, ties share the mean rank); a method's rank on a metric is its
mean rank over the images; its rank on a criterion is the mean of its ranks on the criterion's metrics; its
aggregated rank is the mean over the ranked criteria. Resampling the images (a paired bootstrap: every method is
resampled on the same images) gives each aggregated rank an interval and each method the probability of being
best.

Only images on which every compared method has a value are ranked (a method seen on one image of eight is not
compared with one seen on all eight): methods with a value on fewer than half of a metric's images are left out
of that metric and listed in :attr:`Aggregation.uncovered`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from xaihub.evaluation.ranking import CONFIDENCE, lower_is_better, with_interval

RESAMPLES = 1000
"""Bootstrap resamples of the images."""
MIN_COVERAGE = 0.5
"""A method is compared on a metric when it has a value on at least this share of the metric's images."""


@dataclass(frozen=True)
class AggregateRank:
    """One method's aggregated rank (1 = best) with its bootstrap interval and chance of being best."""

    method: str
    rank: float
    low: float
    high: float
    p_best: float

    def __str__(self) -> str:
        return with_interval(self.rank, self.low, self.high, 2)


@dataclass(frozen=True)
class Agreement:
    """Kendall's coefficient of concordance W between ``raters`` rankings of ``items`` methods."""

    w: float
    p_value: float
    raters: int
    items: int

    def __str__(self) -> str:
        return f"W = {self.w:.2f} (p = {self.p_value:.2g}, {self.raters} criteria × {self.items} methods)"


@dataclass
class Aggregation:
    """Ranks per metric, per criterion and aggregated, for the methods compared."""

    methods: list[str]
    """The methods compared, best aggregated rank first."""
    metric_ranks: dict[str, dict[str, float]]
    """``{metric: {method: mean rank over the metric's shared images}}``."""
    criterion_ranks: dict[str, dict[str, float]]
    """``{criterion: {method: mean of its metric ranks}}``."""
    overall: dict[str, AggregateRank]
    images: dict[str, int]
    """``{metric: how many shared images ranked it}``."""
    agreement: Agreement | None
    """Between the ranked criteria, when there are at least two of them and three methods."""
    uncovered: dict[str, list[str]] = field(default_factory=dict)
    """``{metric: methods left out for too few images}``."""


def image_ranks(values: Mapping[str, Mapping[str, float]], metric: str, methods: Sequence[str]
                ) -> tuple[list[str], np.ndarray, list[str]]:
    """``(images, ranks, compared)``: ``ranks[i, j]`` is method ``compared[j]``'s rank (1 = best) on shared
    image ``images[i]`` for ``metric`` (``values``: ``{method: {image: value}}``); ``compared`` are the
    ``methods`` with a value on at least :data:`MIN_COVERAGE` of the images, ``images`` those where all of
    them have one."""
    from scipy.stats import rankdata

    every = sorted({image for m in methods for image in values.get(m, {})})
    kept = [m for m in methods if every and len(values.get(m, {})) >= MIN_COVERAGE * len(every)]
    shared = [image for image in every if all(image in values[m] for m in kept)]
    if not kept or not shared:
        return [], np.empty((0, len(kept))), kept
    table = np.array([[values[m][image] for m in kept] for image in shared], np.float64)
    sign = 1.0 if lower_is_better(metric) else -1.0
    return shared, rankdata(sign * table, axis=1), kept


def aggregate(values: Mapping[str, Mapping[str, Mapping[str, float]]], criteria: Mapping[str, Sequence[str]],
              methods: Sequence[str], seed: int = 0, resamples: int = RESAMPLES) -> Aggregation:
    """Aggregate ``values`` (``{metric: {method: {image: value}}}``) into ranks.

    :param criteria: ``{criterion: [metrics]}``: the metrics each ranked criterion averages.
    :param methods: the methods to compare (each metric ranks those of them it covers).
    """
    metric_ranks, images, uncovered, tables = {}, {}, {}, {}
    for metric in [m for names in criteria.values() for m in names]:
        shared, ranks, kept = image_ranks(values.get(metric, {}), metric, methods)
        left_out = [m for m in methods if m not in kept and values.get(metric, {}).get(m)]
        if left_out:
            uncovered[metric] = left_out
        if not shared:
            continue
        tables[metric] = (kept, ranks)
        images[metric] = len(shared)
        metric_ranks[metric] = dict(zip(kept, ranks.mean(axis=0).tolist()))
    criterion_ranks = {name: _mean_ranks([metric_ranks[m] for m in names if m in metric_ranks])
                       for name, names in criteria.items()}
    criterion_ranks = {name: ranks for name, ranks in criterion_ranks.items() if ranks}
    overall_point = _mean_ranks(list(criterion_ranks.values()))
    samples = _bootstrap(tables, criteria, list(overall_point), seed, resamples)
    overall = {}
    for j, method in enumerate(overall_point):
        column = samples[:, j] if samples.size else np.empty(0)
        if column.size:
            alpha = (1 - CONFIDENCE) / 2
            low, high = np.quantile(column, [alpha, 1 - alpha])
            best = samples.min(axis=1, keepdims=True)
            share = (samples == best) / (samples == best).sum(axis=1, keepdims=True)  # ties share the win
            p_best = float(share[:, j].mean())
        else:
            low = high = p_best = math.nan
        overall[method] = AggregateRank(method, overall_point[method], float(low), float(high), p_best)
    order = sorted(overall, key=lambda m: overall[m].rank)
    return Aggregation(order, metric_ranks, criterion_ranks, {m: overall[m] for m in order}, images,
                       kendalls_w_of(criterion_ranks, order), uncovered)


def _mean_ranks(rankings: list[dict[str, float]]) -> dict[str, float]:
    """Each method's mean over the ``rankings`` that rank it (methods of every ranking)."""
    methods = list(dict.fromkeys(m for ranking in rankings for m in ranking))
    means = {m: [r[m] for r in rankings if m in r] for m in methods}
    return {m: float(np.mean(v)) for m, v in means.items() if v}


def _bootstrap(tables: dict[str, tuple[list[str], np.ndarray]], criteria: Mapping[str, Sequence[str]],
               methods: list[str], seed: int, resamples: int) -> np.ndarray:
    """``resamples × methods`` aggregated ranks, each from the images of every metric resampled with
    replacement (images with fewer than 2 shared images: no interval)."""
    if not methods or not tables or min(len(ranks) for _, ranks in tables.values()) < 2:
        return np.empty((0, len(methods)))
    rng = np.random.default_rng(seed)
    samples = np.empty((resamples, len(methods)))
    for b in range(resamples):
        metric_ranks = {}
        for metric, (kept, ranks) in tables.items():
            rows = rng.integers(0, len(ranks), len(ranks))
            metric_ranks[metric] = dict(zip(kept, ranks[rows].mean(axis=0)))
        per_criterion = [_mean_ranks([metric_ranks[m] for m in names if m in metric_ranks])
                         for names in criteria.values()]
        overall = _mean_ranks([r for r in per_criterion if r])
        samples[b] = [overall.get(m, math.nan) for m in methods]
    return samples


def kendalls_w_of(criterion_ranks: Mapping[str, Mapping[str, float]], methods: Sequence[str]) -> Agreement | None:
    """Kendall's W between the criteria's rankings of the methods every criterion ranks; ``None`` with fewer than
    two criteria or three such methods."""
    from scipy.stats import rankdata

    shared = [m for m in methods if all(m in ranks for ranks in criterion_ranks.values())]
    if len(criterion_ranks) < 2 or len(shared) < 3:
        return None
    matrix = np.array([rankdata([ranks[m] for m in shared]) for ranks in criterion_ranks.values()])
    return kendalls_w(matrix)


def kendalls_w(ranks: np.ndarray) -> Agreement:
    """Kendall's W of a ``raters × items`` matrix of ranks (ties as mean ranks), with the tie correction
    ``W = 12 S / (m² (n³ − n) − m T)``, ``T = Σ (t³ − t)`` over each rater's groups of tied ranks, and the
    p-value of ``m (n − 1) W`` against χ² with ``n − 1`` degrees of freedom."""
    from scipy.stats import chi2

    ranks = np.asarray(ranks, np.float64)
    m, n = ranks.shape
    totals = ranks.sum(axis=0)
    s = float(((totals - totals.mean()) ** 2).sum())
    ties = sum(float(((counts ** 3) - counts).sum()) for counts in
               (np.unique(row, return_counts=True)[1] for row in ranks))
    denominator = m ** 2 * (n ** 3 - n) - m * ties
    w = 12 * s / denominator if denominator > 0 else math.nan
    p = float(chi2.sf(m * (n - 1) * w, n - 1)) if not math.isnan(w) else math.nan
    return Agreement(float(w), p, m, n)
