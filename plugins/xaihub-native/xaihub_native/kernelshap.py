"""``native.kernelshap``: Kernel SHAP over superpixels, sharing LIME's perturbations."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from xaihub import Explanation
from xaihub.core.cache import array_key
from xaihub.core.superpixels import fill_image
from xaihub.models import ModelAdapter
from xaihub_native.stability import Fit
from xaihub_native.superpixel_explainer import SUPERPIXEL_DEFAULTS, SuperpixelExplainer, painted


class SuperpixelKernelShap(SuperpixelExplainer):
    """Kernel SHAP (Lundberg & Lee, 2017) with superpixels as players.

    Coalitions are the binomial masks ``native.lime`` draws, weighted by the Shapley kernel and
    fitted under the efficiency constraint: the weights of a target sum to
    ``f(image) − f(all superpixels off)``. With a fixed ``num_samples`` the masks and predictions
    are shared with ``native.lime`` through the run cache (running both costs one set of forward
    passes plus one image); with ``"auto"`` each method grows the same stream until its own
    weights are stable.
    """

    name = "native.kernelshap"
    family = "kernel_shap"
    summary = "Kernel SHAP over superpixels sized to the image; shares native.lime's perturbations"
    defaults: dict[str, Any] = dict(SUPERPIXEL_DEFAULTS)

    def expected_forward_passes(self, params, targets):
        """As ``native.lime`` (the ceiling with ``"auto"``) and the all-off image."""
        return self.samples_ceiling(params) + 3

    def fitter(self, model: ModelAdapter, image: np.ndarray, segments: np.ndarray, targets: Sequence[int],
               params: dict[str, Any]) -> Fit:
        empty = self._all_off(model, image, segments, params["fill"])[list(targets)]

        def fit(masks: np.ndarray, responses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return shapley_weights_and_errors(masks, responses, empty)

        return fit

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                **params: Any) -> list[Explanation]:
        sampled = self.sample(model, image, targets, seed, params)
        empty = self._all_off(model, image, sampled.segments, params["fill"])
        predictions = sampled.samples.host_predictions()
        values = shapley_weights(sampled.samples.masks, predictions[:, list(targets)], empty[list(targets)])
        return [
            painted(target, sampled.segments, values[i], {**sampled.facts, "base_value": float(empty[target])})
            for i, target in enumerate(targets)
        ]

    @staticmethod
    def _all_off(model: ModelAdapter, image: np.ndarray, segments: np.ndarray, fill: str) -> np.ndarray:
        def compute() -> np.ndarray:
            return model.predict(fill_image(image, segments, fill)[None])[0]

        return model.cache.get_or_compute("all-off", (array_key(image), array_key(segments), fill), compute)


def shapley_kernel(sizes: np.ndarray, players: int) -> np.ndarray:
    """The Shapley kernel weight of coalitions of each size (0 for the empty and full coalitions)."""
    weights = np.zeros(len(sizes))
    inner = (sizes > 0) & (sizes < players)
    s = sizes[inner]
    weights[inner] = (players - 1) / (np.array([math.comb(players, int(k)) for k in s], float) * s * (players - s))
    return weights


def shapley_weights(masks: np.ndarray, predictions: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Kernel SHAP values ``T×M`` for coalitions ``masks`` (``N×M``, row 0 all ones).

    :param predictions: ``N×T`` model outputs per coalition; ``predictions[0]`` is the full image.
    :param empty: ``T`` outputs with every player off.
    """
    return shapley_weights_and_errors(masks, predictions, empty)[0]


def shapley_weights_and_errors(masks: np.ndarray, predictions: np.ndarray, empty: np.ndarray
                               ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shapley_weights` and their standard errors ``T×M`` (weighted least squares; the last
    player's from the efficiency constraint)."""
    z = masks.astype(np.float64)
    players = z.shape[1]
    total = predictions[0] - empty
    if players == 1:
        return total[:, None], np.zeros((len(total), 1))
    weights = shapley_kernel(z.sum(axis=1), players)
    keep = weights > 0
    z, w = z[keep], weights[keep]
    y = predictions[keep] - empty - z[:, -1:] * total  # eliminate the last player with the constraint
    x = z[:, :-1] - z[:, -1:]
    sqrt_w = np.sqrt(w)[:, None]
    beta = np.linalg.lstsq(x * sqrt_w, y * sqrt_w, rcond=None)[0]
    values = np.vstack([beta, total - beta.sum(axis=0)]).T
    inverse = np.linalg.pinv((x * w[:, None]).T @ x)
    variance = (w @ (y - x @ beta) ** 2) / max(len(x) - x.shape[1], 1)  # per target
    spread = np.concatenate([np.diag(inverse), [inverse.sum()]])
    return values, np.sqrt(np.outer(variance, spread))
