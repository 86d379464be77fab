"""When is a superpixel explanation stable? Top-k agreement, separated intervals, bootstrap agreement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

Z_95 = 1.959964
NEGLIGIBLE = 0.05
"""A weight under this share of the largest ``|weight|`` of its target is too small to rank."""
SEPARATION = 1.0
"""The last leading superpixel leads the next one by at least this many standard errors of their
difference. Non-overlapping 95% intervals (about 2.8) were hardly ever reached on photos with 40–130
superpixels, even at N = 2000, so ``"auto"`` ran to its ceiling (``benchmarks/adaptive.py``)."""
BOOTSTRAP_FITS = 20

Fit = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``fit(masks N×M, responses N×T) -> (weights T×M, standard errors T×M)``."""


def top_sets(weights: np.ndarray, k: int) -> list[frozenset[int]]:
    """The ``k`` superpixels of largest ``|weight|`` (the most influential, for or against), per target."""
    return [frozenset(np.argsort(-np.abs(row), kind="stable")[:k].tolist()) for row in weights]


def leading(weights: np.ndarray, errors: np.ndarray, k: int) -> list[frozenset[int]] | None:
    """Per target, the superpixels that lead clearly: the top ``j ≤ k`` by ``|weight|``, ``j`` the number
    whose 95% interval excludes zero and whose weight is not negligible (``NEGLIGIBLE``), when the
    ``j``-th leads the next one by ``SEPARATION`` standard errors of their difference; ``None`` when
    some target has no such set yet."""
    sets = []
    for row, error in zip(np.abs(weights), errors):
        order = np.argsort(-row, kind="stable")
        j = min(k, int(((row - Z_95 * error > 0) & (row >= NEGLIGIBLE * row.max())).sum()))
        if j == 0:
            return None
        if j < len(order):
            last, after = order[j - 1], order[j]
            if row[last] - row[after] < SEPARATION * np.hypot(error[last], error[after]):
                return None
        sets.append(frozenset(order[:j].tolist()))
    return sets


@dataclass
class StabilityCheck:
    """``check(masks, predictions)``: true once every target's leading superpixels (:func:`leading`:
    at most ``k``, each clearly non-zero, clearly ahead of the rest) are the same as at the previous
    check — the stopping rule of ``num_samples="auto"``."""

    fit: Fit
    targets: Sequence[int]
    k: int
    previous: list[frozenset[int]] | None = None
    met: bool = False


    def __call__(self, masks: np.ndarray, predictions: np.ndarray) -> bool:
        weights, errors = self.fit(masks, predictions[:, list(self.targets)])
        tops = leading(weights, errors, self.k)
        self.met = tops is not None and tops == self.previous
        self.previous = tops
        return self.met


def bootstrap_agreement(fit: Fit, masks: np.ndarray, responses: np.ndarray, k: int, seed: int) -> list[float]:
    """Per target, the share of ``BOOTSTRAP_FITS`` refits on resampled perturbations whose top
    superpixels equal those of the fit on all of them (no forward passes: the predictions are reused).
    The top is the leading set (:func:`leading`) where the fit has one, else the top ``k``."""
    weights, errors = fit(masks, responses)
    lead = leading(weights, errors, k)
    sizes = [len(s) for s in lead] if lead is not None else [k] * len(weights)
    reference = [top_sets(row[None], size)[0] for row, size in zip(weights, sizes)]
    rng = np.random.default_rng(seed)
    agree = np.zeros(len(reference))
    for _ in range(BOOTSTRAP_FITS):
        rows = rng.integers(0, len(masks), len(masks))
        rows[0] = 0  # keep the unperturbed image, which anchors both surrogates
        refit = fit(masks[rows], responses[rows])[0]
        for i, (row, size) in enumerate(zip(refit, sizes)):
            agree[i] += top_sets(row[None], size)[0] == reference[i]
    return (agree / BOOTSTRAP_FITS).tolist()
