"""Checking a plugin's output before anyone sees it."""

from __future__ import annotations

import numpy as np

from xaihub.core.errors import ValidationError
from xaihub.core.explanation import Explanation


def validate(explanation: object, image: np.ndarray, targets: list[int], method: str) -> Explanation:
    """Return ``explanation`` with arrays in canonical dtypes, or raise :class:`ValidationError`.

    Checks: it is an :class:`Explanation`; its target was asked for; the attribution is
    ``H×W`` like the image and finite; optional per-channel map, segments and segment
    weights have matching shapes and finite values.
    """
    if not isinstance(explanation, Explanation):
        raise ValidationError(f"{method} returned a {type(explanation).__name__}, expected xaihub.Explanation")
    height, width = image.shape[:2]
    if explanation.target not in targets:
        raise ValidationError(f"{method} returned target {explanation.target!r}, which was not asked for ({targets})")
    explanation.attribution = _finite_float32(explanation.attribution, "attribution", method)
    if explanation.attribution.shape != (height, width):
        raise ValidationError(
            f"{method} returned an attribution map of shape {explanation.attribution.shape} "
            f"for a {height}×{width} image; expected ({height}, {width})"
        )
    if explanation.channels is not None:
        explanation.channels = _finite_float32(explanation.channels, "channels", method)
        if explanation.channels.ndim != 3 or explanation.channels.shape[:2] != (height, width):
            raise ValidationError(
                f"{method} returned a per-channel map of shape {explanation.channels.shape}; expected ({height}, {width}, C)"
            )
    if explanation.segments is not None:
        segments = np.asarray(explanation.segments)
        if segments.shape != (height, width) or segments.dtype.kind not in "iu":
            raise ValidationError(f"{method} returned segments {segments.shape} {segments.dtype}; "
                                  f"expected ({height}, {width}) ints")
        explanation.segments = segments.astype(np.int32)
    if explanation.segment_weights is not None:
        explanation.segment_weights = _finite_float32(explanation.segment_weights, "segment_weights", method)
        if explanation.segments is None or explanation.segment_weights.shape != (int(explanation.segments.max()) + 1,):
            raise ValidationError(f"{method} returned segment weights that do not match its segments")
    return explanation


def _finite_float32(values: object, what: str, method: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{method} returned a non-numeric {what}: {exc}") from exc
    if not np.all(np.isfinite(array)):
        raise ValidationError(f"{method} returned a {what} with NaN or infinite values")
    return array
