"""Faithfulness metrics: does the model's score follow the attribution map?

All three perturb the image in order of decreasing attribution and ask the model,
through its adapter's ``predict`` (batched), for the target's probability:

* **deletion** (Petsiuk et al., RISE 2018): pixels are set to 0 (black), most important
  first, in ``steps`` equal steps; the score is the area under the probability curve with
  the x-axis (fraction of pixels removed) normalised to ``[0, 1]``. Lower is better.
* **insertion**: pixels of the original are pasted, most important first, onto a blurred
  copy of the image (Gaussian, ``sigma`` = ``BLUR_SIGMA`` pixels); area under the curve.
  Higher is better.
* **degradation** (the seed project's test): keep the ``KEEP_FRACTION`` most important
  pixels, replace every other pixel with black or white salt-and-pepper noise drawn from
  ``seed``, and report the drop of the target's probability (lower is better) and
  whether the top-1 class stayed the same.

:class:`Deletion`, :class:`Insertion` and :class:`Degradation` are these functions as
:class:`~xaihub.Metric` plugins (registered by :mod:`xaihub.metrics.builtin`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from xaihub.contracts.metric import Metric
from xaihub.core.errors import InputError
from xaihub.models import ModelAdapter

if TYPE_CHECKING:
    from xaihub.core.explanation import Explanation

DEFAULT_STEPS = 20
MAX_STEPS = 10_000
"""The most steps a deletion, insertion or SRG curve may take (:func:`check_steps`)."""
BLUR_SIGMA = 5.0
KEEP_FRACTION = 0.2
ENDPOINT_CACHE = "metric.endpoint"
"""The :attr:`~xaihub.models.ModelAdapter.cache` kind of a curve's endpoint scores (:func:`whole_image_scores`)."""


def importance_order(attribution: np.ndarray) -> np.ndarray:
    """Flat pixel indices from most to least important; ties keep raster order."""
    return np.argsort(-np.asarray(attribution, dtype=np.float64).ravel(), kind="stable")


def deletion_auc(model: ModelAdapter, image: np.ndarray, attribution: np.ndarray, target: int,
                 steps: int = DEFAULT_STEPS, baseline: np.ndarray | None = None) -> float:
    """Area under the target-probability curve while pixels are removed (set to ``baseline``, default 0)."""
    baseline = np.zeros_like(image) if baseline is None else baseline
    return area(_curve(model, image, baseline, attribution, target, steps))


def insertion_auc(model: ModelAdapter, image: np.ndarray, attribution: np.ndarray, target: int,
                  steps: int = DEFAULT_STEPS, baseline: np.ndarray | None = None) -> float:
    """Area under the target-probability curve while pixels of ``image`` are pasted onto ``baseline``
    (default: :func:`blurred` image)."""
    baseline = blurred(image) if baseline is None else baseline
    return area(_curve(model, baseline, image, attribution, target, steps))


def degradation(model: ModelAdapter, image: np.ndarray, attribution: np.ndarray, target: int,
                seed: int = 0, keep_fraction: float = KEEP_FRACTION) -> tuple[float, bool]:
    """``(score drop, top-1 kept)`` when only the top ``keep_fraction`` of pixels survive salt-and-pepper noise."""
    if not 0 < keep_fraction <= 1:
        raise InputError(f"keep_fraction must lie in (0, 1], got {keep_fraction}")
    height, width = image.shape[:2]
    keep = np.zeros(height * width, bool)
    keep[importance_order(attribution)[: int(round(keep_fraction * keep.size))]] = True
    noise = (np.random.default_rng(seed).integers(0, 2, (height, width)) * 255).astype(np.uint8)
    degraded = np.where(keep.reshape(height, width)[..., None], image, noise[..., None])
    scores = model.predict(np.stack([image, degraded]))
    return float(scores[0, target] - scores[1, target]), bool(scores[1].argmax() == scores[0].argmax())


def blurred(image: np.ndarray, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """The insertion baseline: ``image`` blurred per channel with a Gaussian of ``sigma`` pixels."""
    from scipy.ndimage import gaussian_filter

    smooth = gaussian_filter(image.astype(np.float32), sigma=(sigma, sigma, 0), mode="nearest")
    return np.clip(np.rint(smooth), 0, 255).astype(np.uint8)


def _curve(model: ModelAdapter, start: np.ndarray, end: np.ndarray, attribution: np.ndarray,
           target: int, steps: int) -> np.ndarray:
    """Probabilities of ``target`` as pixels switch from ``start`` to ``end``, most important first."""
    check_steps(steps)
    height, width = start.shape[:2]
    order = importance_order(attribution)
    counts = np.rint(np.linspace(0, order.size, steps + 1)).astype(int)
    rank = np.empty(order.size, int)
    rank[order] = np.arange(order.size)
    return switching_curve(model, start, end, rank.reshape(height, width), counts, target)


def switching_curve(model: ModelAdapter, start: np.ndarray, end: np.ndarray, rank: np.ndarray, counts: np.ndarray,
                    target: int) -> np.ndarray:
    """Probabilities of ``target`` on ``start`` with the pixels whose ``rank`` (``H×W``) is below each of
    ``counts`` taken from ``end``.

    The perturbed images are built and predicted ``model.images_per_batch`` at a time (the adapter's batch, so
    memory stays within its budget). The curve's endpoints, where no pixel or every pixel is switched, are
    ``start`` and ``end`` themselves: they are the same for every map of the image, so their scores come from
    :func:`whole_image_scores` (computed once per image and ``explain`` call, not counted again).
    """
    counts = np.asarray(counts)
    curve = np.empty(len(counts), np.float64)
    none = counts <= rank.min()
    every = ~none & (counts > rank.max())
    if none.any():
        curve[none] = whole_image_scores(model, start)[target]
    if every.any():
        curve[every] = whole_image_scores(model, end)[target]
    middle = np.flatnonzero(~none & ~every)
    step = model.images_per_batch(*start.shape[:2])
    for first in range(0, len(middle), step):
        chunk = middle[first:first + step]
        switched = rank[None] < counts[chunk][:, None, None]
        curve[chunk] = model.predict(np.where(switched[..., None], end[None], start[None]))[:, target]
    return curve


def whole_image_scores(model: ModelAdapter, image: np.ndarray) -> np.ndarray:
    """``model``'s probabilities for ``image``, kept in the adapter's run cache (one ``explain`` call, one image):
    a curve's unperturbed and fully replaced images are the same for every method of the image. A metric that
    finds them there spends (and reports) no forward pass on them. Outside ``explain`` the adapter keeps its cache
    for its life: after changing the model's weights in place, score with a new adapter."""
    from xaihub.core.cache import array_key

    return model.cache.get_or_compute(ENDPOINT_CACHE, array_key(image), lambda: model.predict(image[None])[0])


def area(curve: np.ndarray) -> float:
    """Trapezoidal area under ``curve`` sampled at equal steps of ``[0, 1]``."""
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


class Deletion(Metric):
    """:func:`deletion_auc` with a black baseline."""

    name = "deletion"
    summary = "pixels set to black, most important first, in `steps` steps; AUC of the target probability"
    lower_is_better = {"deletion": True}
    defaults = {"steps": DEFAULT_STEPS}

    def shared_images(self, params: Mapping[str, Any]) -> frozenset[str]:
        return frozenset({"image", "black"})

    def expected_forward_passes(self, params: Mapping[str, Any]) -> int:
        """The curve's ``steps + 1`` images but its two ends (:meth:`shared_images`)."""
        return int(params["steps"]) - 1

    def check_params(self, params: Mapping[str, Any]) -> None:
        check_steps(params["steps"])

    def compute(self, model: ModelAdapter, explanation: "Explanation", *, seed: int, steps: int) -> dict[str, float]:
        return {"deletion": deletion_auc(model, explanation.image, explanation.attribution, explanation.target, steps)}


class Insertion(Metric):
    """:func:`insertion_auc` onto a blurred copy (Gaussian of ``sigma`` pixels)."""

    name = "insertion"
    summary = "pixels pasted onto a blurred copy, most important first, in `steps` steps; AUC"
    lower_is_better = {"insertion": False}
    defaults = {"steps": DEFAULT_STEPS, "sigma": BLUR_SIGMA}

    def shared_images(self, params: Mapping[str, Any]) -> frozenset[str]:
        return frozenset({"image", f"blur {float(params['sigma'])}"})

    def expected_forward_passes(self, params: Mapping[str, Any]) -> int:
        """The curve's ``steps + 1`` images but its two ends (:meth:`shared_images`)."""
        return int(params["steps"]) - 1

    def check_params(self, params: Mapping[str, Any]) -> None:
        check_steps(params["steps"])
        if not isinstance(params["sigma"], (int, float)) or not params["sigma"] > 0:
            raise InputError(f"insertion's sigma must be a positive number of pixels, got {params['sigma']!r}")

    def compute(self, model: ModelAdapter, explanation: "Explanation", *, seed: int, steps: int,
                sigma: float) -> dict[str, float]:
        image = explanation.image
        auc = insertion_auc(model, image, explanation.attribution, explanation.target, steps, blurred(image, sigma))
        return {"insertion": auc}


class Degradation(Metric):
    """:func:`degradation`: the drop of the target's probability and whether the top-1 class survived."""

    name = "degradation"
    summary = "top `keep_fraction` of pixels kept, the rest salt-and-pepper; probability drop, top-1 kept"
    lower_is_better = {"degradation": True, "degradation_top1": None}
    defaults = {"keep_fraction": KEEP_FRACTION}

    def expected_forward_passes(self, params: Mapping[str, Any]) -> int:
        """The image and its degraded copy."""
        return 2

    def check_params(self, params: Mapping[str, Any]) -> None:
        fraction = params["keep_fraction"]
        if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
            raise InputError(f"keep_fraction must lie in (0, 1], got {fraction!r}")

    def compute(self, model: ModelAdapter, explanation: "Explanation", *, seed: int,
                keep_fraction: float) -> dict[str, float]:
        drop, kept = degradation(model, explanation.image, explanation.attribution, explanation.target, seed,
                                 keep_fraction)
        return {"degradation": drop, "degradation_top1": float(kept)}


def check_steps(steps: Any) -> None:
    """Refuse a number of curve steps that is not an int in ``[1, MAX_STEPS]`` (:class:`~xaihub.InputError`)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputError(f"steps must be a positive int, got {steps!r}")
    if steps > MAX_STEPS:
        raise InputError(f"steps is {steps}, over the limit of {MAX_STEPS}: each step is a forward pass of the "
                         "model; a curve of more steps than that measures nothing finer")
