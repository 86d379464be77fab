"""Superpixels of an image, by scikit-image or (quickshift on CUDA) by torch, cached per call."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from xaihub import InputError
from xaihub.cache import RunCache, array_key
from xaihub.superpixels import dense_segments

ALGORITHMS = ("quickshift", "slic", "felzenszwalb")
_DEFAULTS = {
    "quickshift": {"kernel_size": 4, "max_dist": 200, "ratio": 0.2},
    "slic": {"n_segments": 50, "compactness": 10.0, "start_label": 0},
    "felzenszwalb": {"scale": 100.0, "sigma": 0.5, "min_size": 50},
}


def segment(image: np.ndarray, algorithm: str, params: Mapping[str, Any], seed: int,
            cache: RunCache | None = None, device: Any = None) -> np.ndarray:
    """Superpixel ids ``H×W`` int32 numbered ``0..n-1``.

    :param algorithm: ``"quickshift"`` (scikit-image's, or the identical torch version
        when ``device`` is a CUDA device), ``"slic"`` or ``"felzenszwalb"``.
    :param params: the algorithm's parameters; missing ones take scikit-image's usual values.
    :param cache: when given, every method of one ``explain`` call that segments the
        same image the same way gets the same (cached) result.
    """
    if algorithm not in ALGORITHMS:
        raise InputError(f"segmentation must be one of {ALGORITHMS}, got {algorithm!r}")
    unknown = sorted(set(params) - set(_DEFAULTS[algorithm]))
    if unknown:
        raise InputError(f"{algorithm} takes {sorted(_DEFAULTS[algorithm])}, got unknown {unknown}")
    full = {**_DEFAULTS[algorithm], **params}
    on_gpu = algorithm == "quickshift" and device is not None and getattr(device, "type", device) == "cuda"

    def compute() -> np.ndarray:
        if on_gpu:
            from xaihub_native.quickshift_torch import quickshift_torch

            return quickshift_torch(image, full["kernel_size"], full["max_dist"], full["ratio"], seed, device)
        return dense_segments(_skimage_segments(image, algorithm, full, seed))

    if cache is None:
        return compute()
    key = (array_key(image), algorithm, tuple(sorted(full.items())), seed)
    return cache.get_or_compute("segments", key, compute)


def _skimage_segments(image: np.ndarray, algorithm: str, params: dict[str, Any], seed: int) -> np.ndarray:
    from skimage import segmentation

    if algorithm == "quickshift":
        return segmentation.quickshift(image, **params, rng=seed)
    if algorithm == "slic":
        return segmentation.slic(image, **params, channel_axis=-1)
    return segmentation.felzenszwalb(image, **params, channel_axis=-1)
