"""Turning whatever image a user has into the one form xaihub works on: ``H×W×3`` uint8.

Conversion rules (documented in docs/explanation/inputs.md):

* paths are opened with PIL; their size is checked before the pixels are decoded, and their EXIF
  orientation (a camera's "rotate 90°" tag) is applied, so the pixels are the picture as viewers show it;
* PIL images: ``L``, ``RGB``, ``RGBA``, ``I`` and ``F`` are taken as they are (then the array
  rules apply); 16-bit grayscale ``I;16*`` is scaled from ``[0, 65535]`` to ``[0, 255]``; every other mode
  (``P``, ``LA``, ``1``, ``CMYK``, ...) is converted to RGB by PIL;
* array-likes go through ``np.asarray``;
* ``H×W`` and ``H×W×1`` grayscale are repeated to three channels; ``H×W×4`` (RGBA) drops alpha;
* ``C×H×W`` (channels first, ``C`` in 1, 3, 4, and the last axis not a channel count) is transposed;
* floats in ``[0, 1]`` are scaled by 255, floats or ints in ``[0, 255]`` are kept, then rounded to uint8;
* NaN/inf, negative values, values above 255, booleans, empty images, sides under
  ``MIN_SIDE`` and more than ``MAX_PIXELS`` pixels are refused with :class:`InputError`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from xaihub.core.errors import InputError

MIN_SIDE = 8
MAX_PIXELS = 4096 * 4096
_CHANNEL_COUNTS = (1, 3, 4)
_PIL_AS_IS = ("L", "RGB", "RGBA", "I", "F")
_PIL_16_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def to_rgb_uint8(image: Any) -> np.ndarray:
    """Return ``image`` as a new ``H×W×3`` uint8 array, or raise :class:`InputError` saying why not."""
    if isinstance(image, (str, os.PathLike)):
        image = _read(image)
    elif _is_pil(image):
        image = _from_pil(image)
    try:
        array = np.asarray(image)
    except Exception as exc:
        raise InputError(f"cannot read an image from {type(image).__name__}: {exc}") from exc
    if array.dtype == object or array.dtype.kind not in "uif":
        raise InputError(f"image must hold numbers, got dtype {array.dtype}")
    array = _to_hwc(array)
    if array.shape[0] < MIN_SIDE or array.shape[1] < MIN_SIDE:
        raise InputError(f"image is {array.shape[0]}×{array.shape[1]}; each side must be at least {MIN_SIDE} pixels")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise InputError(
            f"image is {array.shape[0]}×{array.shape[1]}, over the {MAX_PIXELS}-pixel limit; resize it first"
        )
    return _to_uint8(array)


def _read(path: str | os.PathLike) -> np.ndarray:
    """The pixels of the image file ``path``, opened with :func:`~xaihub.core.files.open_regular_file`
    (a FIFO, a device or a folder is refused, never waited on)."""
    from PIL import Image, ImageOps

    from xaihub.core.files import NotARegularFile, open_regular_file

    try:
        with open_regular_file(path) as fh, Image.open(fh) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InputError(
                    f"image file {os.fspath(path)!r} is {height}×{width}, over the {MAX_PIXELS}-pixel limit; resize it first"
                )
            return _from_pil(ImageOps.exif_transpose(image))
    except NotARegularFile as exc:
        raise InputError(f"image file {os.fspath(path)!r} cannot be read: {exc}") from None
    except FileNotFoundError:
        raise InputError(f"image file {os.fspath(path)!r} does not exist") from None
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot read image file {os.fspath(path)!r}: {exc}") from exc


def _is_pil(image: Any) -> bool:
    if "PIL" not in sys.modules:
        return False
    from PIL import Image

    return isinstance(image, Image.Image)


def _from_pil(image: Any) -> np.ndarray:
    """Pixels of a PIL image in a mode the array rules understand (see the module docstring)."""
    if image.mode in _PIL_AS_IS:
        return np.asarray(image)
    if image.mode in _PIL_16_BIT:
        return np.rint(np.asarray(image, dtype=np.float64) / 257.0).astype(np.uint8)
    return np.asarray(image.convert("RGB"))


def _to_hwc(array: np.ndarray) -> np.ndarray:
    if array.size == 0:
        raise InputError(f"image is empty (shape {array.shape})")
    if array.ndim == 2:
        array = array[:, :, None]
    elif array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    elif array.ndim != 3:
        raise InputError(
            f"image must be H×W, H×W×C or C×H×W, got {array.ndim} dimensions (shape {array.shape}); "
            "for several images use explain_many"
        )
    if array.shape[-1] not in _CHANNEL_COUNTS and array.shape[0] in _CHANNEL_COUNTS:
        array = np.moveaxis(array, 0, -1)
    channels = array.shape[-1]
    if channels == 1:
        return np.repeat(array, 3, axis=-1)
    if channels == 4:
        return array[..., :3]
    if channels == 3:
        return array
    raise InputError(f"image must have 1, 3 or 4 channels, got shape {array.shape}")


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    values = array.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise InputError("image contains NaN or infinite values")
    low, high = values.min(), values.max()
    if low < 0 or high > 255:
        raise InputError(f"image values must lie in [0, 1] or [0, 255], got [{low:g}, {high:g}]")
    if array.dtype.kind == "f" and high <= 1.0:
        values = values * 255.0
    return np.rint(values).astype(np.uint8)
