"""Object masks for a run of many images: where each image's object is, for the metrics that take a ``mask``
(the pointing game, relevance mass).

Masks are matched to images by id, the way :mod:`xaihub.core.image_sources` names images: a folder's files by
stem, an ``N×H×W`` array or a list by position, a mapping by key.
"""

from __future__ import annotations

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
