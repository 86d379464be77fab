"""``gradients.integrated``: Integrated Gradients (Sundararajan et al., 2017)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, InputError, Requirement
from xaihub.models import ModelAdapter
from xaihub_gradients.backends import backend_for
from xaihub_gradients.maps import resize_to

BASELINES = ("black", "zero", "blur")


class IntegratedGradients(Explainer):
    """Integrated Gradients along the straight path from a baseline to the input.

    The path lives in model-input space (after ``preprocess``); the integral is the
    midpoint rule over ``steps`` points, evaluated ``batch_size`` images at a time,
    every target sharing the same forward passes. Baselines: ``"black"`` (an all-black
    image, preprocessed), ``"zero"`` (zeros in model-input space), ``"blur"`` (the
    image blurred with a Gaussian of ``blur_sigma`` pixels, preprocessed).

    The attribution is the per-pixel sum over channels, so it adds up to
    ``score(input) − score(baseline)`` for the target's raw score (a logit when the
    model emits logits); ``extras`` records both sides and the gap.
    """

    name = "gradients.integrated"

    family = "integrated_gradients"
    summary = "Integrated Gradients from a black, zero or blurred baseline (midpoint rule)"
    requires = Requirement(GRADIENTS, ("torch", "keras"))
    defaults: dict[str, Any] = {"steps": 32, "baseline": "black", "blur_sigma": 10.0}

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                steps: int, baseline: str, blur_sigma: float) -> list[Explanation]:
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise InputError(f"steps must be a positive int, got {steps!r}")
        if baseline not in BASELINES:
            raise InputError(f"baseline must be one of {BASELINES}, got {baseline!r}")
        backend = backend_for(model)
        x = backend.model_input(model, image[None])[0]
        start = _baseline(backend, model, image, x, baseline, blur_sigma)
        alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
        gradient_sum = np.zeros((len(targets), *x.shape), np.float64)
        for chunk in np.array_split(alphas, max(1, -(-steps // model.options.batch_size))):
            path = start[None] + chunk[:, None, None, None] * (x - start)[None]
            _, gradients = backend.input_gradients(model, path.astype(np.float32), targets)
            gradient_sum += gradients.sum(axis=1)
        ends, _ = backend.input_gradients(model, np.stack([x, start]), targets)
        height, width = image.shape[:2]
        explanations = []
        for i, target in enumerate(targets):
            channels = (x - start) * gradient_sum[i] / steps
            difference = float(ends[0, i] - ends[1, i])
            explanations.append(Explanation(
                target=target,
                attribution=resize_to(channels.sum(axis=2), height, width),
                channels=resize_to(channels, height, width),
                extras={"score": backend.score_kind(model), "baseline": baseline, "steps": steps,
                        "score_input": float(ends[0, i]), "score_baseline": float(ends[1, i]),
                        "completeness_gap": float(channels.sum()) - difference},
            ))
        return explanations


def _baseline(backend: Any, model: ModelAdapter, image: np.ndarray, x: np.ndarray, kind: str,
              blur_sigma: float) -> np.ndarray:
    if kind == "zero":
        return np.zeros_like(x)
    if kind == "black":
        return backend.model_input(model, np.zeros_like(image, dtype=np.float32)[None])[0]
    if not isinstance(blur_sigma, (int, float)) or blur_sigma <= 0:
        raise InputError(f"blur_sigma must be a positive number, got {blur_sigma!r}")
    from skimage.filters import gaussian

    blurred = gaussian(image.astype(np.float64), sigma=blur_sigma, channel_axis=2, preserve_range=True)
    return backend.model_input(model, blurred.astype(np.float32)[None])[0]
