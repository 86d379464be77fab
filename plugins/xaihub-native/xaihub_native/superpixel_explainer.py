"""What native.lime and native.kernelshap share: superpixels and one perturbation set."""

from __future__ import annotations

from typing import Any

import numpy as np

from xaihub import Explainer, Explanation
from xaihub.models import ModelAdapter
from xaihub.params import Anything, Array, Choice, Integer, Real
from xaihub.superpixels import ALGORITHMS, FILLS, check_segments, segment
from xaihub_native.perturbation import WHERE, PerturbationSet, perturbation_set, runs_on_device

SUPERPIXEL_DEFAULTS: dict[str, Any] = {
    "num_samples": 150,
    "segmentation": "quickshift",
    "kernel_size": 4,
    "max_dist": 200,
    "ratio": 0.2,
    "segmentation_params": None,
    "segments": None,
    "fill": "zero",
    "perturb_on": "auto",
    "autocast": None,
}
MAX_SAMPLES = 100_000
"""Masks and predictions of every sample are kept for the surrogate: this bounds their memory."""
SUPERPIXEL_CONSTRAINTS: dict[str, Any] = {
    "num_samples": Integer(2, MAX_SAMPLES),
    "segmentation": Choice(*ALGORITHMS),
    "kernel_size": Real(0, low_open=True),
    "max_dist": Real(0, low_open=True),
    "ratio": Real(0, 1),
    "segmentation_params": [None, Anything("a dict of the segmentation algorithm's parameters")],
    "segments": [None, Array(2, "iu", "an H×W array of superpixel ids")],
    "fill": Choice(*FILLS),
    "perturb_on": Choice(*WHERE),
    "autocast": [None, Choice("bf16", "fp16")],
}


class SuperpixelExplainer(Explainer):
    """Base for methods that switch superpixels off and fit a surrogate to the predictions.

    Parameters shared by subclasses (see ``SUPERPIXEL_DEFAULTS``): ``num_samples``;
    ``segmentation`` (``quickshift`` with ``kernel_size``, ``max_dist``, ``ratio``, or
    ``slic``/``felzenszwalb`` with ``segmentation_params``) or precomputed ``segments``;
    ``fill`` of switched-off superpixels (``zero``, ``mean``, ``blur``); ``perturb_on``
    (``auto``: in torch on the model's device for a torch model with a declared preprocessing,
    else on the host; ``host``; ``device``) and ``autocast`` (``None``, ``"bf16"``, ``"fp16"``,
    on-device only). A method that finds the perturbation set already made in this ``explain``
    call reuses it and reports no forward passes of its own.
    """

    libraries = ("scikit-image",)
    constraints = SUPERPIXEL_CONSTRAINTS

    def sample(self, model: ModelAdapter, image: np.ndarray, seed: int, params: dict[str, Any]
               ) -> tuple[np.ndarray, PerturbationSet]:
        """The image's superpixels and the (possibly shared) perturbation set."""
        on_device = runs_on_device(model, params["perturb_on"], params["autocast"])
        if params["segments"] is not None:
            segments = check_segments(params["segments"], image)
        else:
            if params["segmentation"] == "quickshift":
                options = {k: params[k] for k in ("kernel_size", "max_dist", "ratio")}
            else:
                options = dict(params["segmentation_params"] or {})
            device = model.device if on_device else None
            segments = segment(image, params["segmentation"], options, seed, model.cache, device)
        return segments, perturbation_set(model, image, segments, params["num_samples"], params["fill"], seed,
                                          on_device, params["autocast"])


def painted(target: int, segments: np.ndarray, weights: np.ndarray, extras: dict[str, Any]) -> Explanation:
    """An Explanation whose map paints each superpixel with its weight."""
    weights = np.asarray(weights, dtype=np.float32)
    return Explanation(target=target, attribution=weights[segments], segments=segments,
                       segment_weights=weights, extras=extras)
