"""Bringing a map computed at another resolution (a model input, a feature map) to the image's H×W."""

from __future__ import annotations

import numpy as np


def resize_map(values: np.ndarray, height: int, width: int, conserve: bool = False) -> np.ndarray:
    """Bilinear resize of an ``h×w`` or ``h×w×C`` map to ``height×width`` float32; unchanged when it fits.

    :param conserve: rescale so that the sum is unchanged (for relevance and completeness-bound
        attributions, whose total has a meaning).
    """
    values = np.asarray(values)
    if values.shape[:2] == (height, width):
        return values.astype(np.float32)
    from skimage.transform import resize

    shape = (height, width, *values.shape[2:])
    resized = resize(values.astype(np.float64), shape, order=1, mode="edge", anti_aliasing=False)
    if conserve:
        resized *= values.size / resized.size
    return resized.astype(np.float32)


ROBUST_PERCENTILE = 99.0
"""Colour limits use this percentile of ``|attribution|``, so a few extreme pixels don't wash out the rest."""


def robust_limit(values: np.ndarray) -> float:
    """The symmetric colour limit of one map (1.0 for an all-zero map): :data:`ROBUST_PERCENTILE` of its
    ``|values|``, or its largest ``|value|`` when that percentile is 0."""
    values = np.asarray(values)
    limit = float(np.percentile(np.abs(values), ROBUST_PERCENTILE))
    if limit == 0:
        limit = float(np.abs(values).max())
    return limit if limit > 0 else 1.0


def degenerate_reason(attribution: np.ndarray) -> str | None:
    """Why ``attribution`` is not a map that can be scored — ``"non-finite values"``, ``"an all-zero map"``,
    ``"a constant map"`` — or ``None`` for a usable map. A degenerate map orders no pixel before another, so a
    metric's value for it measures the metric's tie-breaking, not the method."""
    values = np.asarray(attribution, dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return "non-finite values" if values.size else "an empty map"
    if not np.any(values):
        return "an all-zero map"
    spread, scale = float(np.ptp(values)), float(np.max(np.abs(values)))
    if spread <= 1e-12 * max(scale, 1e-300) or np.unique(values).size < 2:
        return "a constant map"
    return None
