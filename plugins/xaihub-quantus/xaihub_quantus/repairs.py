"""Repairs for Quantus 0.6.0 on xaihub's inputs (RGB images, NumPy 2.4), made on our side.

* **ROAD** flattens the attribution after broadcasting it to the input's ``3×H×W`` shape, so
  the indices it hands to its ``noisy_linear_imputation`` run over ``3·H·W`` channel values,
  while the imputation treats them as pixel indices into ``H·W``: an ``IndexError`` for any
  image with more than one channel. :func:`road_imputation` maps each channel-value index to its
  pixel (index mod ``H·W``) and imputes those pixels. With the map given as 3 identical channels
  (``a_batch`` of the input's shape), ROAD counts ``p%`` of the ``3·H·W`` values, whose pixels
  are the top ``p%`` of pixels: the 3 copies of a pixel sort next to each other.
* **IROF** builds its segment mask as ``N×1×H×W`` and hands it with the ``N×3×H×W`` input to
  ``baseline_replacement_by_mask``, which asserts equal shapes: an ``AssertionError`` for RGB.
  :func:`mask_replacement` broadcasts the mask over the channels first.
* ``quantus.helpers.utils.calculate_auc`` (IROF, pixel flipping, region perturbation) calls
  ``np.trapz``, which NumPy 2.4 removed; :func:`restore_trapz` points it at ``np.trapezoid``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def road_imputation(arr: np.ndarray, indices: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Quantus' noisy linear imputation of the pixels that ``indices`` (into ``C·H·W``) fall on."""
    from quantus.functions.perturb_func import noisy_linear_imputation

    pixels = arr[0].size
    unique = np.unique(np.asarray(indices) % pixels)
    return noisy_linear_imputation(arr=arr, indices=unique, **kwargs)


def mask_replacement(arr: np.ndarray, mask: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Quantus' baseline replacement with ``mask`` broadcast to ``arr``'s channels."""
    from quantus.functions.perturb_func import baseline_replacement_by_mask

    return baseline_replacement_by_mask(arr=arr, mask=np.broadcast_to(mask, arr.shape), **kwargs)


def restore_trapz(quantus: Any) -> None:
    """Make Quantus' AUC helper work on NumPy without ``np.trapz`` (idempotent)."""
    if hasattr(np, "trapz"):
        return
    utils = quantus.helpers.utils

    def calculate_auc(values: Any, dx: int = 1, batched: bool = False) -> np.ndarray:
        return np.trapezoid(np.array(values), dx=dx, axis=1 if batched else -1)

    utils.calculate_auc = calculate_auc
