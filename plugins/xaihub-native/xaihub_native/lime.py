"""``native.lime``: LIME over quickshift superpixels with one shared set of perturbations."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import Explainer, Explanation, InputError
from xaihub.models import ModelAdapter
from xaihub_native.segmentation import FILLS, fill_image, perturb, quickshift_segments
from xaihub_native.surrogate import cosine_distance_to_original, fit_weighted_ridge, lime_kernel

_CHUNK = 64  # perturbed images built at a time; bounds memory whatever num_samples is


class QuickshiftLime(Explainer):
    """LIME as in the seed project: quickshift superpixels, binomial masks, weighted ridge.

    Every target shares one set of masks and one set of forward passes, so explaining
    the top-5 classes costs the same model time as the top class.
    """

    name = "native.lime"
    summary = "LIME over quickshift superpixels; all targets share one set of perturbations"
    libraries = ("scikit-image",)
    defaults: dict[str, Any] = {
        "num_samples": 150,
        "kernel_size": 4,
        "max_dist": 200,
        "ratio": 0.2,
        "fill": "zero",
        "kernel_width": 0.25,
        "alpha": 1.0,
        "segments": None,
    }

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                num_samples: int, kernel_size: float, max_dist: float, ratio: float, fill: str,
                kernel_width: float, alpha: float, segments: np.ndarray | None) -> list[Explanation]:
        if not isinstance(num_samples, int) or num_samples < 2:
            raise InputError(f"num_samples must be an int >= 2, got {num_samples!r}")
        if fill not in FILLS:
            raise InputError(f"fill must be one of {FILLS}, got {fill!r}")
        if segments is None:
            segments = quickshift_segments(image, kernel_size, max_dist, ratio, seed)
        else:
            segments = _check_segments(segments, image)
        n_segments = int(segments.max()) + 1
        rng = np.random.default_rng(seed)
        masks = rng.binomial(1, 0.5, size=(num_samples, n_segments)).astype(np.uint8)
        masks[0] = 1  # the unperturbed image anchors the surrogate, as in lime
        background = fill_image(image, segments, fill)
        predictions = np.concatenate([
            model.predict(perturb(image, background, segments, masks[i : i + _CHUNK]))
            for i in range(0, num_samples, _CHUNK)
        ])
        weights = lime_kernel(cosine_distance_to_original(masks), kernel_width)
        surrogate = fit_weighted_ridge(masks, predictions[:, list(targets)], weights, alpha)
        return [
            Explanation(
                target=target,
                attribution=surrogate.coef[i][segments].astype(np.float32),
                segments=segments,
                segment_weights=surrogate.coef[i].astype(np.float32),
                extras={"n_segments": n_segments, "intercept": float(surrogate.intercept[i]),
                        "r2": float(surrogate.r2[i])},
            )
            for i, target in enumerate(targets)
        ]


def _check_segments(segments: Any, image: np.ndarray) -> np.ndarray:
    segments = np.asarray(segments)
    if segments.shape != image.shape[:2] or segments.dtype.kind not in "iu" or segments.min() < 0:
        raise InputError(f"segments must be a non-negative int array of shape {image.shape[:2]}, "
                         f"got {segments.dtype} {segments.shape}")
    _, dense = np.unique(segments, return_inverse=True)
    return dense.reshape(segments.shape).astype(np.int32)
