"""`Preprocess`: a model's input preprocessing, declared instead of written as a function.

A declared preprocessing is applied by the model adapter inside the model's framework (torch
tensors on the model's device, Keras tensors), so gradient methods differentiate through it,
perturbed images can be built and scored on the device, and autocast applies. A plain callable
``preprocess`` keeps working, on the host, as the slower path.

The computation, for images in pixel scale ``[0, 255]``:

1. resize to ``size`` (bilinear, antialiased when shrinking) when ``size`` is given and differs;
2. ``pixels * scale + offset`` per channel (``mean``/``std`` is the same in torchvision's terms:
   ``(pixels / 255 - mean) / std``).

Both steps are linear, so their order does not change the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Any, Sequence

import numpy as np

from xaihub.core.errors import InputError

_CHANNELS = 3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True, init=False)
class Preprocess:
    """Resize to ``size`` (optional), then ``pixels * scale + offset`` per channel.

    >>> Preprocess(size=224, scale=1 / 127.5, offset=-1)          # [0, 255] -> [-1, 1]
    >>> Preprocess(size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD)  # torchvision's normalisation
    >>> Preprocess()                                                # divide by 255 (the default)

    :param size: the model's input ``height×width`` (an int for a square); ``None`` feeds the
        image at its own size. Maps always come back at the size of the image the user gave.
    :param scale: a number or one per channel.
    :param offset: a number or one per channel.
    :param mean: instead of ``scale``/``offset``: per-channel means of images in ``[0, 1]``.
    :param std: instead of ``scale``/``offset``: per-channel standard deviations of images in ``[0, 1]``.
    """

    size: tuple[int, int] | None
    scale: tuple[float, float, float]
    offset: tuple[float, float, float]

    def __init__(self, size: int | Sequence[int] | None = None, scale: float | Sequence[float] | None = None,
                 offset: float | Sequence[float] | None = None, *, mean: float | Sequence[float] | None = None,
                 std: float | Sequence[float] | None = None) -> None:
        if (mean is None) != (std is None):
            raise InputError("Preprocess takes mean and std together")
        if mean is not None and (scale is not None or offset is not None):
            raise InputError("Preprocess takes scale/offset or mean/std, not both")
        if mean is not None:
            means, stds = _per_channel("mean", mean), _per_channel("std", std)
            if any(s <= 0 for s in stds):
                raise InputError(f"std must be positive, got {stds}")
            scales = tuple(1.0 / (255.0 * s) for s in stds)
            offsets = tuple(-m / s for m, s in zip(means, stds))
        else:
            scales = _per_channel("scale", 1.0 / 255.0 if scale is None else scale)
            offsets = _per_channel("offset", 0.0 if offset is None else offset)
        if any(s == 0 for s in scales):
            raise InputError(f"scale must not be 0, got {scales}")
        object.__setattr__(self, "size", _size(size))
        object.__setattr__(self, "scale", scales)
        object.__setattr__(self, "offset", offsets)

    @classmethod
    def imagenet(cls, size: int | Sequence[int] | None = 224) -> "Preprocess":
        """torchvision's ImageNet normalisation (``mean``/``std`` of ImageNet), resized to ``size``."""
        return cls(size=size, mean=IMAGENET_MEAN, std=IMAGENET_STD)

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """The model input's ``height×width`` for an image of ``height×width``."""
        return self.size if self.size is not None else (height, width)

    def describe(self) -> dict[str, Any]:
        """A JSON-able record (for run fingerprints and reports)."""
        return {"size": list(self.size) if self.size else None, "scale": list(self.scale),
                "offset": list(self.offset)}

    # -- the same computation in each framework -------------------------------------------------
    def numpy(self, images: np.ndarray) -> np.ndarray:
        """``N×H×W×3`` pixels → ``N×h×w×3`` float32 model input, on the host."""
        batch = np.asarray(images, dtype=np.float32)
        if self.size is not None and batch.shape[1:3] != self.size:
            rows = resize_matrix(batch.shape[1], self.size[0])
            columns = resize_matrix(batch.shape[2], self.size[1])
            batch = np.einsum("hH,nHWc,wW->nhwc", rows, batch, columns, optimize=True).astype(np.float32)
        scale = np.asarray(self.scale, np.float32)
        offset = np.asarray(self.offset, np.float32)
        return batch * scale + offset

    def torch(self, images: Any) -> Any:
        """``N×3×H×W`` pixel tensor → ``N×3×h×w`` model input on the same device (differentiable)."""
        import torch

        x = self.resize_torch(images)
        scale = torch.tensor(self.scale, dtype=x.dtype, device=x.device).reshape(1, _CHANNELS, 1, 1)
        offset = torch.tensor(self.offset, dtype=x.dtype, device=x.device).reshape(1, _CHANNELS, 1, 1)
        return x * scale + offset

    def resize_torch(self, images: Any) -> Any:
        """The resizing step alone: ``N×3×H×W`` pixels → ``N×3×h×w`` pixels (unchanged without ``size``)."""
        import torch

        if self.size is None or tuple(images.shape[2:4]) == self.size:
            return images
        return torch.nn.functional.interpolate(images, size=self.size, mode="bilinear", align_corners=False,
                                               antialias=_shrinks(tuple(images.shape[2:4]), self.size))

    def keras(self, images: Any) -> Any:
        """``N×H×W×3`` pixel tensor → ``N×h×w×3`` model input (``keras.ops``, differentiable)."""
        import keras

        x = images
        if self.size is not None and tuple(x.shape[1:3]) != self.size:
            x = keras.ops.image.resize(x, self.size, interpolation="bilinear",
                                       antialias=_shrinks(tuple(x.shape[1:3]), self.size))
        return x * keras.ops.convert_to_tensor(self.scale, x.dtype) + keras.ops.convert_to_tensor(self.offset, x.dtype)


def resize_matrix(source: int, target: int) -> np.ndarray:
    """``target×source`` weights of bilinear resizing, antialiased when shrinking (a triangle filter
    widened by the scale factor, as torch's ``antialias=True`` and PIL compute it)."""
    scale = source / target
    support = max(scale, 1.0)
    centres = scale * (np.arange(target) + 0.5)
    pixels = np.arange(source) + 0.5
    weights = np.maximum(0.0, 1.0 - np.abs(pixels[None, :] - centres[:, None]) / support)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _shrinks(source: tuple[int, ...], target: tuple[int, int]) -> bool:
    return source[0] > target[0] or source[1] > target[1]


def _per_channel(name: str, value: Any) -> tuple[float, float, float]:
    values = [value] * _CHANNELS if isinstance(value, Real) and not isinstance(value, bool) else value
    try:
        values = [float(v) for v in values if not isinstance(v, bool)]
    except (TypeError, ValueError):
        values = []
    if len(values) != _CHANNELS or not all(math.isfinite(v) for v in values):
        raise InputError(f"{name} must be a finite number or {_CHANNELS} of them, got {value!r}")
    return tuple(values)  # type: ignore[return-value]


def _size(size: Any) -> tuple[int, int] | None:
    if size is None:
        return None
    values = [size, size] if isinstance(size, int) else size
    try:
        ok = len(values) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)
    except TypeError:
        ok = False
    if not ok:
        raise InputError(f"size must be a positive int or (height, width), got {size!r}")
    return int(values[0]), int(values[1])
