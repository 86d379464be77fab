"""Superpixels and the images in which some of them are switched off."""

from __future__ import annotations

from typing import Any

import numpy as np

from xaihub import InputError

FILLS = ("zero", "mean", "blur")


def superpixels(image: np.ndarray, given: Any, kernel_size: float, max_dist: float, ratio: float,
                seed: int) -> np.ndarray:
    """``given`` superpixels, or skimage quickshift's, renumbered ``0..n-1`` as int32."""
    if given is None:
        from skimage.segmentation import quickshift

        segments = quickshift(image, kernel_size=kernel_size, max_dist=max_dist, ratio=ratio, rng=seed)
    else:
        segments = np.asarray(given)
        if segments.shape != image.shape[:2] or segments.dtype.kind not in "iu" or segments.min() < 0:
            raise InputError(f"segments must be a non-negative int array of shape {image.shape[:2]}, "
                             f"got {segments.dtype} {segments.shape}")
    _, dense = np.unique(segments, return_inverse=True)
    return dense.reshape(segments.shape).astype(np.int32)


def fill_image(image: np.ndarray, segments: np.ndarray, fill: str) -> np.ndarray:
    """What a switched-off superpixel shows: its mean colour, black, or a blurred copy of the image."""
    if fill == "mean":
        flat = segments.ravel()
        counts = np.bincount(flat)[:, None]
        sums = np.stack([np.bincount(flat, image[..., c].ravel()) for c in range(image.shape[2])], axis=1)
        return (sums / counts)[segments].astype(np.float32)
    if fill == "zero":
        return np.zeros(image.shape, np.float32)
    if fill == "blur":
        from skimage.filters import gaussian

        return gaussian(image.astype(np.float32), sigma=5, channel_axis=-1, preserve_range=True).astype(np.float32)
    raise InputError(f"fill must be one of {FILLS}, got {fill!r}")


def compose(image: np.ndarray, background: np.ndarray, segments: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Images ``N×H×W×3`` float32 in which superpixel ``j`` of row ``i`` shows ``image`` iff ``masks[i, j]``."""
    keep = np.asarray(masks).astype(bool)[:, segments]
    return np.where(keep[..., None], image.astype(np.float32)[None], background[None])
