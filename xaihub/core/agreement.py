"""Agreement between attribution maps: Spearman rank correlation, per pair of maps and per pair of methods."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, NamedTuple, Protocol, Sequence

import numpy as np

if TYPE_CHECKING:
    from xaihub.core.explanation import Explanation


class Maps(Protocol):
    """What :func:`agreement` reads of a :class:`~xaihub.Comparison`: its methods, targets and explanations."""

    methods: list[str]
    targets: list[int]
    explanations: Sequence["Explanation"]


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


def agreement(comparison: Maps) -> Agreement:
    """Pairwise agreement of every method of ``comparison`` that produced at least one explanation.

    Each map is ranked once (Spearman's ρ is the Pearson correlation of ranks), and per target one matrix
    product of the ranks gives every pair, so 60 methods on a photo take about a second.
    """
    explained = {e.method for e in comparison.explanations}
    methods = [m for m in comparison.methods if m in explained]
    index = {m: i for i, m in enumerate(methods)}
    sums, counts = np.zeros((len(methods), len(methods))), np.zeros((len(methods), len(methods)))
    for target in comparison.targets:
        maps = {e.method: e.attribution for e in comparison.explanations if e.target == target}
        ranked = [(index[m], r) for m, r in ((m, _standard_ranks(a)) for m, a in maps.items()) if r is not None]
        if ranked:
            rows = np.ix_([i for i, _ in ranked], [i for i, _ in ranked])
            stacked = np.stack([r for _, r in ranked])
            sums[rows] += stacked @ stacked.T
            counts[rows] += 1
    matrix = np.full(sums.shape, np.nan)
    np.divide(sums, counts, out=matrix, where=counts > 0)
    return Agreement(np.clip(matrix, -1, 1), methods)


def _standard_ranks(attribution: np.ndarray) -> np.ndarray | None:
    """The map's pixel ranks (ties averaged), centred and scaled to unit norm; ``None`` for a constant map."""
    from scipy.stats import rankdata

    ranks = rankdata(np.ravel(attribution))
    ranks -= ranks.mean()
    norm = np.linalg.norm(ranks)
    return ranks / norm if norm > 0 else None
