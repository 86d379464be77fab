"""Agreement between attribution maps: Spearman rank correlation, per pair of maps and per pair of methods."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, NamedTuple, Protocol, Sequence

import numpy as np

if TYPE_CHECKING:
    from xaihub.explanation import Explanation


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

    Each map is ranked once (Spearman's ρ is the Pearson correlation of ranks), so 60 methods take
    seconds rather than minutes.
    """
    explained = {e.method for e in comparison.explanations}
    methods = [m for m in comparison.methods if m in explained]
    ranks = {(e.method, e.target): _standard_ranks(e.attribution) for e in comparison.explanations}
    matrix = np.full((len(methods), len(methods)), np.nan)
    for i, first in enumerate(methods):
        for j in range(i, len(methods)):
            second = methods[j]
            values = [float(np.dot(ranks[first, t], ranks[second, t])) for t in comparison.targets
                      if ranks.get((first, t)) is not None and ranks.get((second, t)) is not None]
            if values:
                matrix[i, j] = matrix[j, i] = float(np.clip(np.mean(values), -1, 1))
    return Agreement(matrix, methods)


def _standard_ranks(attribution: np.ndarray) -> np.ndarray | None:
    """The map's pixel ranks (ties averaged), centred and scaled to unit norm; ``None`` for a constant map."""
    from scipy.stats import rankdata

    ranks = rankdata(np.ravel(attribution))
    ranks -= ranks.mean()
    norm = np.linalg.norm(ranks)
    return ranks / norm if norm > 0 else None
