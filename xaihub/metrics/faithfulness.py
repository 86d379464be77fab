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
"""

from __future__ import annotations

import numpy as np

from xaihub.errors import InputError
from xaihub.models import ModelAdapter

DEFAULT_STEPS = 20
BLUR_SIGMA = 5.0
KEEP_FRACTION = 0.2
_IMAGES_AT_ONCE = 8  # perturbed images built at a time; bounds memory on large images


def importance_order(attribution: np.ndarray) -> np.ndarray:
    """Flat pixel indices from most to least important; ties keep raster order."""
    return np.argsort(-np.asarray(attribution, dtype=np.float64).ravel(), kind="stable")


def deletion_auc(model: ModelAdapter, image: np.ndarray, attribution: np.ndarray, target: int,
                 steps: int = DEFAULT_STEPS, baseline: np.ndarray | None = None) -> float:
    """Area under the target-probability curve while pixels are removed (set to ``baseline``, default 0)."""
    baseline = np.zeros_like(image) if baseline is None else baseline
    return _auc(_curve(model, image, baseline, attribution, target, steps))


def insertion_auc(model: ModelAdapter, image: np.ndarray, attribution: np.ndarray, target: int,
                  steps: int = DEFAULT_STEPS, baseline: np.ndarray | None = None) -> float:
    """Area under the target-probability curve while pixels of ``image`` are pasted onto ``baseline``
    (default: :func:`blurred` image)."""
    baseline = blurred(image) if baseline is None else baseline
    return _auc(_curve(model, baseline, image, attribution, target, steps))


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
    if not isinstance(steps, int) or steps < 1:
        raise InputError(f"steps must be a positive int, got {steps!r}")
    height, width = start.shape[:2]
    order = importance_order(attribution)
    counts = np.rint(np.linspace(0, order.size, steps + 1)).astype(int)
    rank = np.empty(order.size, int)
    rank[order] = np.arange(order.size)
    rank = rank.reshape(height, width)
    curve = []
    for chunk in np.array_split(counts, -(-len(counts) // _IMAGES_AT_ONCE)):
        switched = rank[None] < chunk[:, None, None]
        curve.append(model.predict(np.where(switched[..., None], end[None], start[None]))[:, target])
    return np.concatenate(curve)


def _auc(curve: np.ndarray) -> float:
    """Trapezoidal area under ``curve`` sampled at equal steps of ``[0, 1]``."""
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))
