"""Bringing maps computed in model-input or feature-map resolution to the image's H×W."""

from __future__ import annotations

import numpy as np


def resize_to(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of an ``h×w`` or ``h×w×C`` map to ``height×width``; unchanged when it fits."""
    if values.shape[:2] == (height, width):
        return values.astype(np.float32)
    from skimage.transform import resize

    shape = (height, width, *values.shape[2:])
    return resize(values.astype(np.float64), shape, order=1, mode="edge", anti_aliasing=False).astype(np.float32)
