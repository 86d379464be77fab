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


DEGENERATE_TOLERANCE = 1e-6
"""A map whose values span less than this fraction of their largest magnitude is constant."""


class DegenerateMapError(ValueError):
    """Raised by a metric that cannot score a map because it (or the map it is compared with) is degenerate;
    the runner records the metric's values as ``NaN`` with the message as the reason, not as a failure."""


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
    """Why ``attribution`` carries no ranking of its pixels, or ``None`` when it does.

    ``"non-finite values (n pixels)"`` for NaN or infinite values, ``"all-zero map"`` when every value is 0
    (e.g. a Grad-CAM whose weighted sum is negative everywhere, cut by its ReLU), ``"constant map (every pixel
    v)"`` when the values span less than :data:`DEGENERATE_TOLERANCE` of their largest magnitude (fewer than two
    distinct values included), ``"empty map"`` for a map with no pixels. Metrics are not computed on such maps.
    """
    values = np.asarray(attribution, dtype=np.float64)
    if values.size == 0:
        return "empty map"
    finite = np.isfinite(values)
    if not finite.all():
        return f"non-finite values ({int(values.size - finite.sum())} of {values.size} pixels)"
    if not values.any():
        return "all-zero map"
    scale = float(np.abs(values).max())
    if float(np.ptp(values)) <= DEGENERATE_TOLERANCE * scale:
        return f"constant map (every pixel {float(values.flat[0]):.3g})"
    return None
