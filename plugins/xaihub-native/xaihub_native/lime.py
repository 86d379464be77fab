"""``native.lime``: LIME over superpixels with one shared set of perturbations."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import Explanation
from xaihub.core.params import Real
from xaihub.models import ModelAdapter
from xaihub_native.stability import Fit
from xaihub_native.superpixel_explainer import (
    SUPERPIXEL_CONSTRAINTS,
    SUPERPIXEL_DEFAULTS,
    SuperpixelExplainer,
    painted,
)
from xaihub_native.surrogate import (
    cosine_distance_to_original,
    fit_weighted_ridge,
    fit_weighted_ridge_torch,
    lime_kernel,
)


class QuickshiftLime(SuperpixelExplainer):
    """LIME as in the seed project: superpixels switched off by binomial masks, a weighted ridge surrogate.

    Extra parameters: ``kernel_width`` of LIME's exponential kernel on cosine distance
    (0.25) and the ridge ``alpha`` (1.0, as lime; 0 gives plain weighted least squares).
    Every target shares one set of masks and forward passes, so the top-5 classes cost
    the same model time as the top class; on a GPU the surrogate is solved there too.
    """

    name = "native.lime"
    family = "lime"
    summary = "LIME over superpixels sized to the image; adaptive sample count; all targets share the perturbations"
    defaults: dict[str, Any] = {**SUPERPIXEL_DEFAULTS, "kernel_width": 0.25, "alpha": 1.0}
    constraints = {**SUPERPIXEL_CONSTRAINTS, "kernel_width": Real(0, low_open=True), "alpha": Real(0)}

    def expected_forward_passes(self, params, targets):
        """``num_samples`` perturbations (with ``"auto"``, at most ``max_samples``: the ceiling) and, on torch, the
        two-image autocast check; shared by every target."""
        return self.samples_ceiling(params) + 2

    def fitter(self, model: ModelAdapter, image: np.ndarray, segments: np.ndarray, targets: Sequence[int],
               params: dict[str, Any]) -> Fit:
        def fit(masks: np.ndarray, responses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            weights = lime_kernel(cosine_distance_to_original(masks), params["kernel_width"])
            surrogate = fit_weighted_ridge(masks, responses, weights, params["alpha"])
            return surrogate.coef, surrogate.stderr

        return fit

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                **params: Any) -> list[Explanation]:
        sampled = self.sample(model, image, targets, seed, params)
        samples = sampled.samples
        weights = lime_kernel(cosine_distance_to_original(samples.masks), params["kernel_width"])
        if samples.on_device:
            import torch

            predictions = samples.predictions
            surrogate = fit_weighted_ridge_torch(
                torch.from_numpy(samples.masks).to(predictions.device), predictions[:, list(targets)],
                torch.from_numpy(weights).to(predictions.device), params["alpha"])
        else:
            surrogate = fit_weighted_ridge(samples.masks, samples.predictions[:, list(targets)], weights,
                                           params["alpha"])
        return [
            painted(target, sampled.segments, surrogate.coef[i], {
                **sampled.facts, "intercept": float(surrogate.intercept[i]), "r2": float(surrogate.r2[i]),
            })
            for i, target in enumerate(targets)
        ]
