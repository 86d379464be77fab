"""``native.kernelshap``: Kernel SHAP over superpixels, sharing LIME's perturbations."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from xaihub import Explanation
from xaihub.cache import array_key
from xaihub.models import ModelAdapter
from xaihub.superpixels import fill_image
from xaihub_native.superpixel_explainer import SUPERPIXEL_DEFAULTS, SuperpixelExplainer, painted


class SuperpixelKernelShap(SuperpixelExplainer):
    """Kernel SHAP (Lundberg & Lee, 2017) with superpixels as players.

    Coalitions are the same binomial masks ``native.lime`` draws (shared through the
    run cache, so running both costs one set of forward passes plus one image), weighted
    by the Shapley kernel and fitted under the efficiency constraint: the weights of a
    target sum to ``f(image) − f(all superpixels off)``.
    """

    name = "native.kernelshap"
    family = "kernel_shap"
    summary = "Kernel SHAP over superpixels; reuses native.lime's perturbations"
    defaults: dict[str, Any] = dict(SUPERPIXEL_DEFAULTS)

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                **params: Any) -> list[Explanation]:
        segments, samples = self.sample(model, image, seed, params)
        predictions = samples.predictions
        if samples.on_device:
            predictions = predictions.cpu().numpy()
        empty = self._all_off(model, image, segments, params["fill"])
        values = shapley_weights(samples.masks, predictions[:, list(targets)], empty[list(targets)])
        return [
            painted(target, segments, values[i], {
                "n_segments": int(segments.max()) + 1, "base_value": float(empty[target]),
                "perturbed_on": "device" if samples.on_device else "host",
            })
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
    z = masks.astype(np.float64)
    players = z.shape[1]
    total = predictions[0] - empty
    if players == 1:
        return total[:, None]
    weights = shapley_kernel(z.sum(axis=1), players)
    keep = weights > 0
    z, w = z[keep], weights[keep]
    y = predictions[keep] - empty - z[:, -1:] * total  # eliminate the last player with the constraint
    x = z[:, :-1] - z[:, -1:]
    sqrt_w = np.sqrt(w)[:, None]
    beta = np.linalg.lstsq(x * sqrt_w, y * sqrt_w, rcond=None)[0]
    return np.vstack([beta, total - beta.sum(axis=0)]).T
