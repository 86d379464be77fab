"""Cross-method agreement: Spearman rank correlation between attribution maps."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from xaihub.comparison import Comparison


class Agreement(NamedTuple):
    """``matrix[i, j]``: mean Spearman correlation of ``methods[i]`` and ``methods[j]`` over shared targets.

    ``NaN`` where two methods share no target or a map is constant (no ranking to compare).
    """

    matrix: np.ndarray
    methods: list[str]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps' pixels; ``NaN`` when either map is constant."""
    from scipy.stats import spearmanr

    a, b = np.ravel(a), np.ravel(b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(a, b).statistic)


def agreement(comparison: "Comparison") -> Agreement:
    """Pairwise agreement of every method that produced at least one explanation."""
    methods = [m for m in comparison.methods if comparison.by_method(m)]
    maps = {(e.method, e.target): e.attribution for e in comparison.explanations}
    matrix = np.full((len(methods), len(methods)), np.nan)
    for i, first in enumerate(methods):
        for j in range(i, len(methods)):
            second = methods[j]
            values = [spearman(maps[first, t], maps[second, t]) for t in comparison.targets
                      if (first, t) in maps and (second, t) in maps]
            values = [v for v in values if not np.isnan(v)]
            if values:
                matrix[i, j] = matrix[j, i] = float(np.mean(values))
    return Agreement(matrix, methods)
