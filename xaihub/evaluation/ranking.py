"""Ranking methods soundly: which way a metric is better, reference baselines, the cost–quality Pareto
front, and, over a dataset, bootstrap intervals, paired Wilcoxon tests with Holm's correction, and metrics
that rank methods in opposite orders.

Everything here works on plain numbers (``{method: {unit: value}}``, a unit being an image), so the
single-image and the dataset reports share one set of rules.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from itertools import combinations
from typing import Mapping, Sequence

import numpy as np

from xaihub.registry.plugins import metric_of_value

UNRANKED = frozenset({"degradation_top1"})
"""Metrics that are facts rather than scores to rank by (whether the top-1 class survived); so is every value
its metric declares without a direction (``None``: a flag such as ``sanity.randomization.flagged``, a count)."""
CONFIDENCE = 0.95
ALPHA = 0.05
"""Significance level of the Holm-corrected tests."""
TOP = 4
"""How many of the best methods are tested against each other (and against the better baseline)."""
MARGIN = 1e-3
"""A method beats a reference only by more than this: metrics lie in [0, 1] and are shown to three decimals,
so closer values are a tie, not a win decided by rounding noise."""


def lower_is_better(metric: str) -> bool | None:
    """Whether lower values of ``metric`` are better; ``None`` for a metric not to rank by (one in
    :data:`UNRANKED`, or declared without a direction by its registered metric). A value no registered metric
    produces is taken as higher-is-better."""
    if metric in UNRANKED:
        return None
    registered = metric_of_value(metric)
    return False if registered is None else registered.metric.lower_is_better[metric]


def better_first(means: Mapping[str, float], metric: str) -> list[str]:
    """The methods of ``means`` ordered best first by ``metric`` (NaN last; ties keep the given order)."""
    lower = lower_is_better(metric)
    sign = 1.0 if lower or lower is None else -1.0
    return sorted(means, key=lambda m: (math.isnan(means[m]), sign * means[m] if not math.isnan(means[m]) else 0.0))


def is_better(value: float, reference: float, metric: str, margin: float = MARGIN) -> bool:
    """Whether ``value`` beats ``reference`` on ``metric`` by more than ``margin``."""
    return value < reference - margin if lower_is_better(metric) else value > reference + margin


def reference_value(means: Mapping[str, float], baselines: Sequence[str], metric: str) -> float | None:
    """The better of the baselines' values on ``metric`` (``None`` when no baseline has one)."""
    present = {b: means[b] for b in baselines if b in means and not math.isnan(means[b])}
    if not present or lower_is_better(metric) is None:
        return None
    return present[better_first(present, metric)[0]]


def pareto_front(costs: Sequence[float], values: Sequence[float], lower_is_better: bool) -> list[int]:
    """Indices of the points no other point beats on both cost (lower is better) and value, cheapest
    first: the methods worth their price. Equal points are all kept."""
    order = sorted(range(len(costs)), key=lambda i: (costs[i], values[i] if lower_is_better else -values[i]))
    front: list[int] = []
    best = math.inf
    for i in order:
        quality = values[i] if lower_is_better else -values[i]
        if quality < best or (front and quality == best and costs[i] == costs[front[-1]]):
            front.append(i)
            best = min(best, quality)
    return front


@dataclass(frozen=True)
class Interval:
    """The mean of ``n`` values with a bootstrap confidence interval (BCa; ``NaN`` bounds for n < 2)."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return with_interval(self.mean, self.low, self.high, 3)


def with_interval(value: float, low: float, high: float, digits: int) -> str:
    """``"value [low, high]"`` with ``digits`` decimals, or ``"value"`` alone when the bounds are ``NaN``."""
    if math.isnan(low):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def bootstrap_interval(values: Sequence[float], confidence: float = CONFIDENCE, seed: int = 0) -> Interval:
    """The mean of ``values`` and its ``confidence`` interval by :func:`scipy.stats.bootstrap`."""
    from scipy.stats import bootstrap

    data = np.asarray(values, dtype=np.float64)
    mean = float(data.mean()) if data.size else math.nan
    if data.size < 2:
        return Interval(mean, math.nan, math.nan, int(data.size))
    if np.ptp(data) == 0:
        return Interval(mean, mean, mean, int(data.size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa warns (and gives NaN) on near-degenerate samples
        for method in ("BCa", "percentile"):
            result = bootstrap((data,), np.mean, confidence_level=confidence, method=method,
                               rng=np.random.default_rng(seed))
            low, high = result.confidence_interval
            if np.isfinite(low) and np.isfinite(high):
                break
    return Interval(mean, float(low), float(high), int(data.size))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control); ``NaN`` entries stay ``NaN``
    and do not count as tests."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[index]))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class PairTest:
    """A paired two-sided Wilcoxon signed-rank test of two methods over the units both have."""

    first: str
    second: str
    n: int
    median_difference: float
    """Median of ``first − second`` over the paired units."""
    p_value: float
    adjusted_p: float
    """Holm-adjusted over every test of the same metric."""

    @property
    def significant(self) -> bool:
        return bool(self.adjusted_p < ALPHA)


def wilcoxon_p(first: Sequence[float], second: Sequence[float], alternative: str = "two-sided") -> float:
    """p-value of the Wilcoxon signed-rank test of ``first − second`` (``alternative`` as for
    :func:`scipy.stats.wilcoxon`: ``"greater"`` tests whether ``first`` is larger); 1.0 when every difference is
    zero, ``NaN`` without pairs."""
    from scipy.stats import wilcoxon

    differences = np.asarray(first, np.float64) - np.asarray(second, np.float64)
    if differences.size == 0:
        return math.nan
    if not np.any(differences):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small samples: scipy notes the exact distribution is used
        return float(wilcoxon(differences, alternative=alternative).pvalue)


def decidable(pairs: int, tests: int) -> bool:
    """Whether ``tests`` one-sided paired tests over ``pairs`` units, Holm-corrected, can reach :data:`ALPHA` at
    all: the smallest exact one-sided Wilcoxon p-value is ``2⁻ⁿ``, so below ``log2(tests / ALPHA)`` units no
    difference can be significant and the means must decide alone."""
    return pairs > 0 and tests > 0 and tests * 0.5 ** pairs < ALPHA


@dataclass(frozen=True)
class RankedMethod:
    method: str
    interval: Interval
    rank: int
    """1 = best; references (baselines) are ranked too."""
    baseline: bool
    beats_baselines: bool | None
    """Whether the mean is better than the better baseline's; ``None`` without baselines (or for one)."""


@dataclass(frozen=True)
class MetricRanking:
    """Methods ranked by their mean on one metric, with intervals and the tests between the top ones."""

    metric: str
    lower_is_better: bool
    methods: list[RankedMethod]
    tests: list[PairTest]
    reference: float | None
    """The better baseline's mean, when baselines were run."""


def rank_methods(values: Mapping[str, Mapping[str, float]], metric: str, baselines: Sequence[str] = (),
                 top: int = TOP, seed: int = 0) -> MetricRanking:
    """Rank the methods of ``values`` (``{method: {unit: value}}``, a unit being e.g. an image) on ``metric``.

    Each method gets the mean over its units with a bootstrap interval; the ``top`` best non-baseline
    methods are compared pairwise, and each with the better baseline, by paired Wilcoxon signed-rank tests
    over the units both have, Holm-corrected together.
    """
    lower = lower_is_better(metric)
    if lower is None:
        raise ValueError(f"{metric!r} is not a metric to rank by")
    intervals = {m: bootstrap_interval(list(v.values()), seed=seed) for m, v in values.items() if v}
    order = better_first({m: i.mean for m, i in intervals.items()}, metric)
    reference = reference_value({m: i.mean for m, i in intervals.items()}, baselines, metric)
    ranked = [RankedMethod(m, intervals[m], rank, m in baselines, None if reference is None or m in baselines
                           else is_better(intervals[m].mean, reference, metric)) for rank, m in enumerate(order, 1)]
    leaders = [m for m in order if m not in baselines][:top]
    pairs = list(combinations(leaders, 2))
    best_baseline = next((m for m in order if m in baselines), None)
    if best_baseline is not None:
        pairs += [(m, best_baseline) for m in leaders]
    return MetricRanking(metric, lower, ranked, _tests(values, pairs), reference)


def _tests(values: Mapping[str, Mapping[str, float]], pairs: list[tuple[str, str]]) -> list[PairTest]:
    raw = []
    for first, second in pairs:
        shared = [u for u in values[first] if u in values[second]]
        a = [values[first][u] for u in shared]
        b = [values[second][u] for u in shared]
        median = float(np.median(np.subtract(a, b))) if shared else math.nan
        raw.append((first, second, len(shared), median, wilcoxon_p(a, b)))
    adjusted = holm([p for *_, p in raw])
    return [PairTest(*row, float(q)) for row, q in zip(raw, adjusted)]


@dataclass(frozen=True)
class Conflict:
    """Two metrics that order the same methods in opposite ways (Kendall's τ < 0)."""

    first: str
    second: str
    tau: float
    methods: int


def conflicts(rankings: Sequence[MetricRanking]) -> list[Conflict]:
    """Pairs of metrics whose rankings (better first) of the methods they share disagree: τ < 0."""
    from scipy.stats import kendalltau

    found = []
    for one, other in combinations(rankings, 2):
        first = {r.method: r.rank for r in one.methods}
        second = {r.method: r.rank for r in other.methods}
        shared = [m for m in first if m in second]
        if len(shared) < 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tau = float(kendalltau([first[m] for m in shared], [second[m] for m in shared]).statistic)
        if tau < 0:
            found.append(Conflict(one.metric, other.metric, tau, len(shared)))
    return found
