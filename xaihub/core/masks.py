"""Object masks for a run of many images: where each image's object is, for the metrics that take a ``mask``
(the pointing game, relevance mass).

Masks are matched to images by id, the way :mod:`xaihub.core.image_sources` names images: a folder's files by
stem, an ``N×H×W`` array or a list by position, a mapping by key.
"""

from __future__ import annotations

import numbers
import os
from typing import Any, Mapping

import numpy as np

from xaihub.core.errors import InputError
from xaihub.core.image_sources import image_source
from xaihub.core.images import MAX_PIXELS

MASK_PARAMETER = "mask"
"""The metric parameter that receives each image's mask."""


def object_masks(masks: Any) -> dict[str, np.ndarray]:
    """``{image id: H×W boolean mask}`` from ``masks``.

    :param masks: a folder of mask images (``png``, ``bmp``, ``tif``, …; the id is the file stem, the object is
        every pixel that is not black), a ``{id: H×W array}`` mapping, an ``N×H×W`` array or a list of ``H×W``
        arrays (ids ``"0"``, ``"1"``, … as for images given that way). Arrays are the object where non-zero.
    :raises InputError: for a mask that is not two-dimensional, is empty, or cannot be read.
    """
    if isinstance(masks, np.ndarray):
        if masks.ndim != 3:
            raise InputError(f"an array of masks must be N×H×W, got shape {masks.shape}")
        masks = list(masks)
    if isinstance(masks, (str, os.PathLike)):
        if not os.path.isdir(masks):
            raise InputError(f"masks folder {os.fspath(masks)!r} is not a folder")
    elif not isinstance(masks, (Mapping, list, tuple)):
        raise InputError(f"masks must be a folder of mask images, a {{id: H×W array}} mapping, an N×H×W array or a "
                         f"list of H×W arrays, got {type(masks).__name__}")
    found: dict[str, np.ndarray] = {}
    for item in image_source(masks).items:
        if item.id in found:
            raise InputError(f"two masks for image id {item.id!r}")
        found[item.id] = _boolean(item.image, item.id)
    return found


def _boolean(mask: Any, image_id: str) -> np.ndarray:
    if isinstance(mask, (str, os.PathLike)):
        from PIL import Image

        from xaihub.core.files import NotARegularFile, open_regular_file

        try:
            with open_regular_file(mask) as fh, Image.open(fh) as opened:
                width, height = opened.size
                if width * height > MAX_PIXELS:
                    raise InputError(f"the mask of image {image_id!r} ({os.fspath(mask)!r}) is {height}×{width}, "
                                     f"over the {MAX_PIXELS}-pixel limit")
                mask = np.asarray(opened.convert("L"))
        except (OSError, NotARegularFile) as exc:
            raise InputError(f"cannot read the mask of image {image_id!r} ({os.fspath(mask)!r}): {exc}") from exc
    array = np.asarray(mask)
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise InputError(f"the mask of image {image_id!r} must be an H×W array, got shape {array.shape} "
                         f"({array.dtype})")
    array = array != 0
    if not array.any():
        raise InputError(f"the mask of image {image_id!r} is empty: mark the object's pixels non-zero")
    return array


def check_mask(mask: Any) -> None:
    """Raise :class:`InputError` unless ``mask`` is a metric's ``mask``: a non-empty ``H×W`` boolean array or a
    box ``(top, left, bottom, right)``."""
    if not is_box(mask):
        boolean_mask(mask)


def object_mask(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    """``mask`` (an ``H×W`` boolean array, or a box ``(top, left, bottom, right)`` in pixels, bottom and
    right exclusive) as a boolean array of the image's ``shape``."""
    if is_box(mask):
        top, left, bottom, right = (int(v) for v in mask)
        if bottom > shape[0] or right > shape[1]:
            raise InputError(f"box {tuple(mask)} reaches outside the {shape[0]}×{shape[1]} image")
        array = np.zeros(shape, bool)
        array[top:bottom, left:right] = True
        return array
    array = boolean_mask(mask)
    if array.shape != tuple(shape):
        raise InputError(f"mask has shape {array.shape}, the image is {shape[0]}×{shape[1]}")
    return array


def is_box(mask: Any) -> bool:
    """Whether ``mask`` is a box ``(top, left, bottom, right)`` of ints; a malformed box raises."""
    if not (isinstance(mask, (tuple, list)) and len(mask) == 4 and all(isinstance(v, numbers.Integral) for v in mask)):
        return False
    top, left, bottom, right = mask
    if not (0 <= top < bottom and 0 <= left < right):
        raise InputError(f"a box is (top, left, bottom, right) with 0 <= top < bottom and 0 <= left < right, "
                         f"got {tuple(mask)}")
    return True


def boolean_mask(mask: Any) -> np.ndarray:
    """``mask`` as a non-empty ``H×W`` boolean array, or :class:`InputError` naming what it is instead."""
    array = np.asarray(mask)
    if array.ndim != 2 or array.dtype != bool:
        raise InputError(f"mask must be an H×W boolean array or a box (top, left, bottom, right), got "
                         f"{type(mask).__name__} of shape {array.shape} and dtype {array.dtype}")
    if not array.any():
        raise InputError("mask is empty: mark the object's pixels True")
    return array
