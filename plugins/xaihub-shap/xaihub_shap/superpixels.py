"""Superpixels for ``shap.kernel``: the given ones, or scikit-image quickshift's."""

from __future__ import annotations

from typing import Any

import numpy as np

from xaihub.superpixels import check_segments, dense_segments


def superpixels(image: np.ndarray, given: Any, kernel_size: float, max_dist: float, ratio: float,
                seed: int) -> np.ndarray:
    """``given`` superpixels, or skimage quickshift's, renumbered ``0..n-1`` as int32."""
    if given is not None:
        return check_segments(given, image)
    from skimage.segmentation import quickshift

    return dense_segments(quickshift(image, kernel_size=kernel_size, max_dist=max_dist, ratio=ratio, rng=seed))
