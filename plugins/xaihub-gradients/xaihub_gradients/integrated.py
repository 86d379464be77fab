"""``gradients.integrated``: Integrated Gradients (Sundararajan et al., 2017)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, Requirement
from xaihub.core.params import Choice, Integer, Real
from xaihub.models import GradientAdapter
from xaihub_gradients.backends import backend_for, inputs_of

BASELINES = ("black", "zero", "blur")


class IntegratedGradients(Explainer):
    """Integrated Gradients along the straight path from a baseline to the input.

    The path lives in the adapter's input space (the image's pixels with a declared
    preprocessing; else the preprocessed model input); the integral is the midpoint rule over
    ``steps`` points, evaluated a batch at a time, every target sharing the same forward passes.
    Baselines: ``"black"`` (an all-black image), ``"zero"`` (the input whose model input is all
    zeros: mid-grey for ``[-1, 1]`` models), ``"blur"`` (the image blurred with a Gaussian of
    ``blur_sigma`` pixels).

    The attribution is the per-pixel sum over channels, so it adds up to
    ``score(input) − score(baseline)`` for the target's raw score (a logit when the model emits
    logits); ``extras`` records both sides and the gap.
    """

    name = "gradients.integrated"
    family = "integrated_gradients"
    summary = "Integrated Gradients from a black, zero or blurred baseline (midpoint rule)"
    requires = Requirement(GRADIENTS, ("torch", "keras"))
    defaults: dict[str, Any] = {"steps": 32, "baseline": "black", "blur_sigma": 10.0}
    samples_parameter = "steps"
    constraints = {"steps": Integer(1, 4096), "baseline": Choice(*BASELINES),
                   "blur_sigma": Real(0, 1000, low_open=True)}

    def expected_forward_passes(self, params, targets):
        """``steps`` path points and the two ends, for every target together."""
        return int(params["steps"]) + 2

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                steps: int, baseline: str, blur_sigma: float) -> list[Explanation]:
        backend = backend_for(model)
        x = inputs_of(model, image[None])[0]
        start = _baseline(model, image, baseline, blur_sigma)
        alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
        gradient_sum = np.zeros((len(targets), *x.shape), np.float64)
        per_batch = model.images_per_batch(*x.shape[:2])
        for chunk in np.array_split(alphas, -(-steps // per_batch)):
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
                attribution=model.to_image(channels.sum(axis=2), height, width, conserve=True),
                channels=model.to_image(channels, height, width, conserve=True),
                extras={"score": model.score_kind, "input_space": model.input_space, "baseline": baseline,
                        "steps": steps, "score_input": float(ends[0, i]), "score_baseline": float(ends[1, i]),
                        "completeness_gap": float(channels.sum()) - difference},
            ))
        return explanations


def _baseline(model: GradientAdapter, image: np.ndarray, kind: str, blur_sigma: float) -> np.ndarray:
    """The path's start, in input space, channels last."""
    if kind == "zero":
        return model.channels_last(model.zero_input(image[None]))[0]
    if kind == "black":
        return inputs_of(model, np.zeros_like(image, dtype=np.float32)[None])[0]
    from skimage.filters import gaussian

    blurred = gaussian(image.astype(np.float64), sigma=blur_sigma, channel_axis=2, preserve_range=True)
    return inputs_of(model, blurred.astype(np.float32)[None])[0]
