"""What native.lime and native.kernelshap share: superpixels and one perturbation set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from xaihub import Explainer, Explanation
from xaihub.core.params import Choice, Integer, Real
from xaihub.core.superpixels import (
    FILLS,
    SEGMENTATION_DEFAULTS,
    few_superpixels_warning,
    segment,
    segmentation_constraints,
    superpixels_for,
)
from xaihub.models import ModelAdapter
from xaihub_native.perturbation import WHERE, PerturbationSet, Sampler, grown_set, perturbation_set, runs_on_device
from xaihub_native.stability import Fit, StabilityCheck, bootstrap_agreement

SUPERPIXEL_DEFAULTS: dict[str, Any] = {
    "num_samples": "auto",
    "max_samples": 1000,
    "stable_top": 4,
    **SEGMENTATION_DEFAULTS,
    "kernel_size": 4,
    "max_dist": 200,
    "ratio": 0.2,
    "fill": "zero",
    "perturb_on": "auto",
    "autocast": "auto",
}
MAX_SAMPLES = 100_000
"""Masks and predictions of every sample are kept for the surrogate: this bounds their memory."""
ADAPTIVE_BATCH = 50
"""``num_samples="auto"`` adds perturbations this many at a time."""
SUPERPIXEL_CONSTRAINTS: dict[str, Any] = {
    "num_samples": [Choice("auto"), Integer(2, MAX_SAMPLES)],
    "max_samples": Integer(2 * ADAPTIVE_BATCH, MAX_SAMPLES),
    "stable_top": Integer(1, 100),
    **segmentation_constraints(),
    "kernel_size": Real(0, low_open=True),
    "max_dist": Real(0, low_open=True),
    "ratio": Real(0, 1),
    "fill": Choice(*FILLS),
    "perturb_on": Choice(*WHERE),
    "autocast": [None, Choice("auto", "bf16", "fp16")],
}


@dataclass
class Sampled:
    """What a superpixel method works from: the superpixels, the perturbations and what to record."""

    segments: np.ndarray
    samples: PerturbationSet
    facts: dict[str, Any]


class SuperpixelExplainer(Explainer):
    """Base for methods that switch superpixels off and fit a surrogate to the predictions.

    Parameters shared by subclasses (see ``SUPERPIXEL_DEFAULTS``):

    - ``num_samples``: an int, or ``"auto"``: perturbations are added ``ADAPTIVE_BATCH`` at a time until,
      for every target, the leading superpixels — the ``stable_top`` (or fewer) of largest ``|weight|``
      whose 95% intervals exclude zero, the last one ahead of the next by a standard error of their
      difference (``stability.SEPARATION``) — are the same as after the previous batch, or
      ``max_samples`` are drawn. A grown set of ``n`` samples equals the fixed set of ``n`` for the seed.
      ``extras["stability"]`` records the samples used, whether the rule was met, and the share of
      bootstrap refits (on the same predictions) that keep the top superpixels;
    - ``segmentation``: ``auto`` (SLIC with superpixels sized to the image: about 40 on 32×32, about
      100 on a photo), ``quickshift`` with ``kernel_size``, ``max_dist``, ``ratio`` (the seed
      project's settings), or ``slic``/``felzenszwalb`` with ``segmentation_params``; or precomputed
      ``segments`` (see :func:`xaihub.core.superpixels.superpixels_for`). Fewer than 10 superpixels give a
      warning in ``extras["warning"]``;
    - ``fill`` of switched-off superpixels (``zero``, ``mean``, ``blur``);
    - ``perturb_on``: ``auto`` (in torch on the model's device for a torch model with a declared
      preprocessing, else on the host), ``host`` or ``device``; ``autocast``: ``"auto"`` (bf16 where
      native and where it keeps the model's top-5 on the image; see ``TorchAdapter.fast_autocast``),
      ``None``, ``"bf16"``, ``"fp16"`` (on-device only). What ran is in ``extras``.

    A fixed-size perturbation set already made in this ``explain`` call (same superpixels, count,
    fill and seed) is reused.
    """

    libraries = ("scikit-image",)
    constraints = SUPERPIXEL_CONSTRAINTS
    samples_parameter = "num_samples"  # a fixed number; the default "auto" grows the set up to max_samples
    samples_default = 1000

    @staticmethod
    def samples_ceiling(params: dict[str, Any]) -> int:
        """The perturbations a call draws at most: ``num_samples``, or ``max_samples`` with ``"auto"``."""
        return int(params["max_samples"] if params["num_samples"] == "auto" else params["num_samples"])

    def fitter(self, model: ModelAdapter, image: np.ndarray, segments: np.ndarray, targets: Sequence[int],
               params: dict[str, Any]) -> Fit:
        """The method's surrogate for ``targets`` as ``fit(masks, responses) -> (weights, standard errors)``."""
        raise NotImplementedError

    def sample(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], seed: int,
               params: dict[str, Any]) -> Sampled:
        """The image's superpixels and perturbations (shared, or grown until stable)."""
        on_device = runs_on_device(model, params["perturb_on"], params["autocast"])
        segments = self._segments(model, image, seed, params, on_device)
        autocast, facts = model.fast_autocast(image, params["autocast"]) if on_device else (None, {})
        fit = self.fitter(model, image, segments, targets, params)
        k = params["stable_top"]
        if params["num_samples"] == "auto":
            check = StabilityCheck(fit, targets, k)
            sampler = Sampler(model, image, segments, params["fill"], seed, on_device, autocast)
            samples = grown_set(sampler, ADAPTIVE_BATCH, params["max_samples"], check)
            met = check.met
        else:
            samples = perturbation_set(model, image, segments, params["num_samples"], params["fill"], seed,
                                       on_device, autocast)
            met = None
        responses = samples.host_predictions()[:, list(targets)]
        agreement = bootstrap_agreement(fit, samples.masks, responses, k, seed)
        facts = {**facts, **samples.facts(), "n_segments": int(segments.max()) + 1,
                 "stability": {"top": k, "rule_met": met, "bootstrap_top_agreement": agreement}}
        warning = few_superpixels_warning(segments)
        if warning:
            facts["warning"] = warning
        return Sampled(segments, samples, facts)

    @staticmethod
    def _segments(model: ModelAdapter, image: np.ndarray, seed: int, params: dict[str, Any],
                  on_device: bool) -> np.ndarray:
        device = model.device if on_device else None
        if params["segmentation"] == "quickshift" and params["segments"] is None:
            options = {k: params[k] for k in ("kernel_size", "max_dist", "ratio")}
            return segment(image, "quickshift", options, seed, model.cache, device)
        return superpixels_for(image, params, seed, model.cache, device)


def painted(target: int, segments: np.ndarray, weights: np.ndarray, extras: dict[str, Any]) -> Explanation:
    """An Explanation whose map paints each superpixel with its weight."""
    weights = np.asarray(weights, dtype=np.float32)
    return Explanation(target=target, attribution=weights[segments], segments=segments,
                       segment_weights=weights, extras=extras)
