"""Superpixels and the images in which some of them are switched off."""

from __future__ import annotations

import numpy as np

FILLS = ("zero", "mean", "blur")


def quickshift_segments(image: np.ndarray, kernel_size: float, max_dist: float, ratio: float, seed: int) -> np.ndarray:
    """skimage quickshift superpixels of an ``H×W×3`` uint8 image, ids ``0..n-1`` as int32."""
    from skimage.segmentation import quickshift

    segments = quickshift(image, kernel_size=kernel_size, max_dist=max_dist, ratio=ratio, rng=seed)
    _, dense = np.unique(segments, return_inverse=True)
    return dense.reshape(segments.shape).astype(np.int32)


def fill_image(image: np.ndarray, segments: np.ndarray, fill: str) -> np.ndarray:
    """What a switched-off superpixel shows: black, its own mean colour, or a blurred copy."""
    if fill == "zero":
        return np.zeros_like(image, dtype=np.float32)
    if fill == "mean":
        counts = np.bincount(segments.ravel())[:, None]
        sums = np.stack([np.bincount(segments.ravel(), image[..., c].ravel()) for c in range(image.shape[2])], 1)
        return (sums / counts)[segments].astype(np.float32)
    if fill == "blur":
        from skimage.filters import gaussian

        return gaussian(image.astype(np.float32), sigma=5, channel_axis=-1, preserve_range=True).astype(np.float32)
    raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")


def perturb(image: np.ndarray, fill: np.ndarray, segments: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Images ``N×H×W×3`` float32 in which superpixel ``j`` of row ``i`` shows ``image`` iff ``masks[i, j]``."""
    keep = masks.astype(bool)[:, segments]
    return np.where(keep[..., None], image.astype(np.float32)[None], fill[None])
