"""Helpers for superpixel-based methods: given segments, switched-off fills, perturbed images.

Plugins that switch superpixels off (``native``, ``shap.kernel``, ``lime.image``) share these,
so that a fill or a segment check means the same in every one of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xaihub.errors import InputError

FILLS = ("zero", "mean", "blur")


def dense_segments(segments: np.ndarray) -> np.ndarray:
    """Superpixel ids renumbered ``0..n-1`` as int32 (methods use them as feature indices)."""
    _, dense = np.unique(segments, return_inverse=True)
    return dense.reshape(segments.shape).astype(np.int32)


def check_segments(segments: Any, image: np.ndarray) -> np.ndarray:
    """User-given superpixels, renumbered; :class:`InputError` when they do not fit ``image``."""
    segments = np.asarray(segments)
    if segments.shape != image.shape[:2] or segments.dtype.kind not in "iu" or segments.min() < 0:
        raise InputError(f"segments must be a non-negative int array of shape {image.shape[:2]}, "
                         f"got {segments.dtype} {segments.shape}")
    return dense_segments(segments)


def fill_image(image: np.ndarray, segments: np.ndarray, fill: str) -> np.ndarray:
    """What a switched-off superpixel shows: black (``zero``), its own ``mean`` colour, or a ``blur``red copy."""
    if fill == "zero":
        return np.zeros(image.shape, np.float32)
    if fill == "mean":
        flat = segments.ravel()
        counts = np.bincount(flat)[:, None]
        sums = np.stack([np.bincount(flat, image[..., c].ravel()) for c in range(image.shape[2])], axis=1)
        return (sums / counts)[segments].astype(np.float32)
    if fill == "blur":
        from skimage.filters import gaussian

        return gaussian(image.astype(np.float32), sigma=5, channel_axis=-1, preserve_range=True).astype(np.float32)
    raise InputError(f"fill must be one of {FILLS}, got {fill!r}")


def perturb(image: np.ndarray, fill: np.ndarray, segments: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Images ``N×H×W×3`` float32 in which superpixel ``j`` of row ``i`` shows ``image`` iff ``masks[i, j]``."""
    keep = np.asarray(masks).astype(bool)[:, segments]
    return np.where(keep[..., None], image.astype(np.float32)[None], fill[None])
