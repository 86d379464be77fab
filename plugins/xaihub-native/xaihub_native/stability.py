"""When is a superpixel explanation stable? Top-k agreement, separated intervals, bootstrap agreement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

Z_95 = 1.959964
BOOTSTRAP_FITS = 20

Fit = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``fit(masks N×M, responses N×T) -> (weights T×M, standard errors T×M)``."""


def top_sets(weights: np.ndarray, k: int) -> list[frozenset[int]]:
    """The ``k`` superpixels of highest weight, per target."""
    return [frozenset(np.argsort(-row, kind="stable")[:k].tolist()) for row in weights]


def separated(weights: np.ndarray, errors: np.ndarray, k: int) -> bool:
    """For every target, the 95% interval of the ``k``-th highest weight lies above the ``k+1``-th's."""
    if weights.shape[1] <= k:
        return True
    for row, error in zip(weights, errors):
        order = np.argsort(-row, kind="stable")
        kth, next_ = order[k - 1], order[k]
        if row[kth] - Z_95 * error[kth] <= row[next_] + Z_95 * error[next_]:
            return False
    return True


@dataclass
class StabilityCheck:
    """``check(masks, predictions)``: true once every target's top-``k`` superpixels are the same as at
    the previous check and separated from the rest (:func:`separated`) — the stopping rule of
    ``num_samples="auto"``."""

    fit: Fit
    targets: Sequence[int]
    k: int
    previous: list[frozenset[int]] | None = None
    met: bool = False

    def __call__(self, masks: np.ndarray, predictions: np.ndarray) -> bool:
        weights, errors = self.fit(masks, predictions[:, list(self.targets)])
        tops = top_sets(weights, self.k)
        self.met = tops == self.previous and separated(weights, errors, self.k)
        self.previous = tops
        return self.met


def bootstrap_agreement(fit: Fit, masks: np.ndarray, responses: np.ndarray, k: int, seed: int) -> list[float]:
    """Per target, the share of ``BOOTSTRAP_FITS`` refits on resampled perturbations whose top-``k``
    superpixels equal the fit on all of them (no forward passes: the predictions are reused)."""
    reference = top_sets(fit(masks, responses)[0], k)
    rng = np.random.default_rng(seed)
    agree = np.zeros(len(reference))
    for _ in range(BOOTSTRAP_FITS):
        rows = rng.integers(0, len(masks), len(masks))
        rows[0] = 0  # keep the unperturbed image, which anchors both surrogates
        for i, top in enumerate(top_sets(fit(masks[rows], responses[rows])[0], k)):
            agree[i] += top == reference[i]
    return (agree / BOOTSTRAP_FITS).tolist()
