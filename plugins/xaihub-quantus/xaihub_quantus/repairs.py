"""Repairs for Quantus 0.6.0 on xaihub's inputs (RGB images, NumPy 2.4), made on our side.

* **ROAD** flattens the attribution after broadcasting it to the input's ``3×H×W`` shape, so
  the indices it hands to its ``noisy_linear_imputation`` run over ``3·H·W`` channel values,
  while the imputation treats them as pixel indices into ``H·W``: an ``IndexError`` for any
  image with more than one channel. :func:`road_imputation` maps each channel-value index to its
  pixel (index mod ``H·W``) and imputes those pixels, with :func:`noisy_linear_imputation` (the same
  imputation, about 3.5× faster at 224 px; see there). With the map given as 3 identical channels
  (``a_batch`` of the input's shape), ROAD counts ``p%`` of the ``3·H·W`` values, whose pixels
  are the top ``p%`` of pixels: the 3 copies of a pixel sort next to each other.
* **IROF** builds its segment mask as ``N×1×H×W`` and hands it with the ``N×3×H×W`` input to
  ``baseline_replacement_by_mask``, which asserts equal shapes: an ``AssertionError`` for RGB.
  :func:`mask_replacement` broadcasts the mask over the channels first.
* ``quantus.helpers.utils.calculate_auc`` (IROF, pixel flipping, region perturbation) calls
  ``np.trapz``, which NumPy 2.4 removed; :func:`restore_trapz` points it at ``np.trapezoid``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


def road_imputation(arr: np.ndarray, indices: np.ndarray, noise: float = 0.01, **kwargs: Any) -> np.ndarray:
    """Quantus' noisy linear imputation of the pixels that ``indices`` (into ``C·H·W``) fall on, computed by
    :func:`noisy_linear_imputation`."""
    pixels = arr[0].size
    return noisy_linear_imputation(arr, np.unique(np.asarray(indices) % pixels), noise)


_NEIGHBOURS = ((1, 1, 1 / 12), (0, 1, 1 / 6), (-1, 1, 1 / 12), (1, -1, 1 / 12), (0, -1, 1 / 6), (-1, -1, 1 / 12),
               (1, 0, 1 / 6), (-1, 0, 1 / 6))
"""Rong et al.'s imputation stencil: (row offset, column offset, weight), in Quantus' order."""


def noisy_linear_imputation(arr: np.ndarray, pixels: np.ndarray, noise: float = 0.01) -> np.ndarray:
    """Rong et al.'s noisy linear imputation (ROAD, 2022) of ``pixels`` (flat indices into ``H·W``, sorted) of
    ``arr`` (``C×H×W``): each imputed value is the weighted mean of its 8 neighbours (weight 1/6 for the 4 direct
    ones, 1/12 for the diagonals, over the neighbours inside the image), all solved at once, plus Gaussian noise
    of standard deviation ``noise`` drawn from NumPy's global generator.

    The same system, the same solution (to rounding) and the same noise draws as
    ``quantus.functions.perturb_func.noisy_linear_imputation``, which spends most of a ROAD evaluation building
    the system in a ``lil_matrix`` and solving it in SuperLU's default column order. Here the system is built
    in one pass per neighbour and solved in a nested-dissection order of the pixel grid (:func:`grid_order`,
    symmetric mode: the system is symmetric), whose factor fills in far less.
    """
    from scipy.sparse import csc_matrix
    from scipy.sparse.linalg import splu

    channels, height, width = arr.shape
    flat = arr.reshape(channels, -1)
    pixels = np.asarray(pixels, dtype=np.int64)
    count = len(pixels)
    if count == 0:
        return arr.copy()
    unknown = np.full(height * width, -1, np.int64)
    unknown[pixels] = np.arange(count)
    rows, cols = pixels // width, pixels % width
    a_rows, a_cols, a_values = [], [], []
    right = np.zeros((count, channels))
    weight_sum = np.zeros(count)
    for dy, dx, weight in _NEIGHBOURS:
        y, x = rows + dy, cols + dx
        inside = np.flatnonzero((y >= 0) & (y < height) & (x >= 0) & (x < width))
        neighbour = y[inside] * width + x[inside]
        weight_sum[inside] += weight
        variable = unknown[neighbour]
        imputed = variable >= 0
        a_rows.append(inside[imputed])
        a_cols.append(variable[imputed])
        a_values.append(np.full(int(imputed.sum()), weight))
        right[inside[~imputed]] -= weight * flat[:, neighbour[~imputed]].T
    a_rows.append(np.arange(count))
    a_cols.append(np.arange(count))
    a_values.append(-weight_sum)
    order = np.argsort(grid_order(height, width)[pixels], kind="stable")
    position = np.empty(count, np.int64)
    position[order] = np.arange(count)
    matrix = csc_matrix((np.concatenate(a_values), (position[np.concatenate(a_rows)], position[np.concatenate(a_cols)])),
                        shape=(count, count))
    factor = splu(matrix, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    solution = factor.solve(right[order])[position].T
    out = flat.copy()
    out[:, pixels] = solution + noise * np.random.randn(*solution.shape)
    return out.reshape(arr.shape)


@functools.lru_cache(maxsize=8)
def grid_order(height: int, width: int, leaf: int = 8) -> np.ndarray:
    """A nested-dissection position of each pixel of a ``height×width`` grid (flat), for 8-neighbour systems:
    each region's two halves first, then the row or column that separates them (no neighbour of one half is in
    the other), recursively down to ``leaf``×``leaf`` blocks. Unknowns in this order factor with little fill-in
    (George 1973)."""
    position = np.empty((height, width), np.int64)
    next_free = 0
    pending = [(0, height, 0, width, False)]
    while pending:  # an explicit stack: halves, then their separator
        top, bottom, left, right, halves_done = pending.pop()
        rows, cols = bottom - top, right - left
        if rows * cols <= leaf * leaf or min(rows, cols) < 3:
            position[top:bottom, left:right] = (next_free + np.arange(rows * cols)).reshape(rows, cols)
            next_free += rows * cols
        elif halves_done:
            if rows >= cols:
                middle = (top + bottom) // 2
                position[middle, left:right] = next_free + np.arange(cols)
                next_free += cols
            else:
                middle = (left + right) // 2
                position[top:bottom, middle] = next_free + np.arange(rows)
                next_free += rows
        else:
            pending.append((top, bottom, left, right, True))
            if rows >= cols:
                middle = (top + bottom) // 2
                pending += [(middle + 1, bottom, left, right, False), (top, middle, left, right, False)]
            else:
                middle = (left + right) // 2
                pending += [(top, bottom, middle + 1, right, False), (top, bottom, left, middle, False)]
    position.flags.writeable = False
    return position.ravel()


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
