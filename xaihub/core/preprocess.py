"""`Preprocess`: a model's input preprocessing, declared instead of written as a function.

A declared preprocessing is applied by the model adapter inside the model's framework (torch
tensors on the model's device, Keras tensors), so gradient methods differentiate through it,
perturbed images can be built and scored on the device, and autocast applies. A plain callable
``preprocess`` keeps working, on the host, as the slower path.

The computation, for RGB images in pixel scale ``[0, 255]``:

1. resize to ``size`` (bilinear, antialiased when shrinking) when ``size`` is given and differs;
2. for a model of ``channels`` other than 3: the image's luminance (ITU-R BT.601, ``0.299 R + 0.587 G +
   0.114 B``, as PIL's ``"L"`` mode), in each of the model's channels;
3. ``pixels * scale + offset`` per channel (``mean``/``std`` is the same in torchvision's terms:
   ``(pixels / 255 - mean) / std``).

Every step is linear, so their order does not change the result, and gradients reach the RGB image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Any, Sequence

import numpy as np

from xaihub.core.errors import InputError

_CHANNELS = 3
LUMINANCE = (0.299, 0.587, 0.114)
"""The weights of R, G and B in the grey image a model of other than 3 channels sees (ITU-R BT.601)."""
MAX_CHANNELS = 64
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True, init=False)
class Preprocess:
    """Resize to ``size`` (optional), then ``pixels * scale + offset`` per channel.

    >>> Preprocess(size=224, scale=1 / 127.5, offset=-1)          # [0, 255] -> [-1, 1]
    >>> Preprocess(size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD)  # torchvision's normalisation
    >>> Preprocess()                                                # divide by 255 (the default)
    >>> Preprocess(size=28, channels=1, mean=0.1307, std=0.3081)    # a grey-scale (MNIST) model

    :param size: the model's input ``height×width`` (an int for a square); ``None`` feeds the
        image at its own size. Maps always come back at the size of the image the user gave.
    :param scale: a number or one per channel.
    :param offset: a number or one per channel.
    :param mean: instead of ``scale``/``offset``: per-channel means of images in ``[0, 1]``.
    :param std: instead of ``scale``/``offset``: per-channel standard deviations of images in ``[0, 1]``.
    :param channels: the channels the model takes: 3 feeds RGB; any other count (1 for a grey-scale model)
        feeds the image's luminance in each. ``None`` (the default): what the model declares — a Keras or
        ONNX model's input shape, a torch model's first ``Conv2d`` — else 3. ``scale``, ``offset``, ``mean``
        and ``std`` take one number, or one per channel.
    """

    size: tuple[int, int] | None
    scale: tuple[float, ...]
    offset: tuple[float, ...]
    channels: int | None

    def __init__(self, size: int | Sequence[int] | None = None, scale: float | Sequence[float] | None = None,
                 offset: float | Sequence[float] | None = None, *, mean: float | Sequence[float] | None = None,
                 std: float | Sequence[float] | None = None, channels: int | None = None) -> None:
        if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int)
                                     or not 1 <= channels <= MAX_CHANNELS):
            raise InputError(f"channels must be None (what the model declares) or an int from 1 to {MAX_CHANNELS}, "
                             f"got {channels!r}")
        count = _CHANNELS if channels is None else channels
        if (mean is None) != (std is None):
            raise InputError("Preprocess takes mean and std together")
        if mean is not None and (scale is not None or offset is not None):
            raise InputError("Preprocess takes scale/offset or mean/std, not both")
        if mean is not None:
            means, stds = _per_channel("mean", mean, count), _per_channel("std", std, count)
            if any(s <= 0 for s in stds):
                raise InputError(f"std must be positive, got {stds}")
            scales = tuple(1.0 / (255.0 * s) for s in stds)
            offsets = tuple(-m / s for m, s in zip(means, stds))
        else:
            scales = _per_channel("scale", 1.0 / 255.0 if scale is None else scale, count)
            offsets = _per_channel("offset", 0.0 if offset is None else offset, count)
        if any(s == 0 for s in scales):
            raise InputError(f"scale must not be 0, got {scales}")
        object.__setattr__(self, "size", _size(size))
        object.__setattr__(self, "scale", scales)
        object.__setattr__(self, "offset", offsets)
        object.__setattr__(self, "channels", channels)

    @property
    def model_channels(self) -> int:
        """The channels of the model input this preprocessing makes (3 while ``channels`` is ``None``)."""
        return _CHANNELS if self.channels is None else self.channels

    def resized(self, size: tuple[int, int] | None) -> "Preprocess":
        """The same preprocessing, resizing to ``size``."""
        copy = object.__new__(Preprocess)
        for name, value in (("size", _size(size)), ("scale", self.scale), ("offset", self.offset),
                            ("channels", self.channels)):
            object.__setattr__(copy, name, value)
        return copy

    def for_model(self, declared: int | None, source: str) -> "Preprocess":
        """This preprocessing for a model whose input declares ``declared`` channels (``None``: it does
        not say), as ``source`` names it (e.g. "the torch model's first Conv2d").

        ``channels=None`` takes the model's count (one ``scale``/``offset`` value is repeated, per-channel
        values must match); a count the user gave must equal the model's.

        :raises InputError: naming the fix, ``Preprocess(channels=...)``, when they differ.
        """
        if declared is None or declared == self.model_channels:
            return self
        fix = f"pass xaihub.Preprocess(channels={declared}, ...)"
        if self.channels is not None:
            raise InputError(f"{source} takes {declared} channel(s), but the Preprocess makes {self.channels}: {fix}")
        if len(set(self.scale)) > 1 or len(set(self.offset)) > 1:
            raise InputError(f"{source} takes {declared} channel(s), but the Preprocess has 3 per-channel values "
                             f"(scale {list(self.scale)}, offset {list(self.offset)}): {fix} with one value or "
                             f"{declared} per channel")
        copy = object.__new__(Preprocess)
        for name, value in (("size", self.size), ("scale", (self.scale[0],) * declared),
                            ("offset", (self.offset[0],) * declared), ("channels", declared)):
            object.__setattr__(copy, name, value)
        return copy

    def neutral_pixels(self) -> np.ndarray:
        """The RGB pixel values (shape ``3``) whose model input is zero: per channel for an RGB model, one
        grey for a model of other channels (the mean of its channels' zeros when they differ)."""
        neutral = -np.asarray(self.offset, np.float32) / np.asarray(self.scale, np.float32)
        return neutral if self.model_channels == _CHANNELS else np.full(_CHANNELS, neutral.mean(), np.float32)

    @classmethod
    def imagenet(cls, size: int | Sequence[int] | None = 224) -> "Preprocess":
        """torchvision's ImageNet normalisation (``mean``/``std`` of ImageNet), resized to ``size``."""
        return cls(size=size, mean=IMAGENET_MEAN, std=IMAGENET_STD)

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """The model input's ``height×width`` for an image of ``height×width``."""
        return self.size if self.size is not None else (height, width)

    def describe(self) -> dict[str, Any]:
        """A JSON-able record (for run fingerprints and reports)."""
        described = {"size": list(self.size) if self.size else None, "scale": list(self.scale),
                     "offset": list(self.offset)}
        return described if self.channels is None else {**described, "channels": self.channels}

    # -- the same computation in each framework -------------------------------------------------
    def numpy(self, images: np.ndarray) -> np.ndarray:
        """``N×H×W×3`` pixels → ``N×h×w×C`` float32 model input, on the host."""
        batch = np.asarray(images, dtype=np.float32)
        if self.size is not None and batch.shape[1:3] != self.size:
            rows = resize_matrix(batch.shape[1], self.size[0])
            columns = resize_matrix(batch.shape[2], self.size[1])
            batch = np.einsum("hH,nHWc,wW->nhwc", rows, batch, columns, optimize=True).astype(np.float32)
        if self.model_channels != _CHANNELS:
            grey = batch @ np.asarray(LUMINANCE, np.float32)
            batch = np.repeat(grey[..., None], self.model_channels, axis=-1)
        scale = np.asarray(self.scale, np.float32)
        offset = np.asarray(self.offset, np.float32)
        return batch * scale + offset

    def torch(self, images: Any) -> Any:
        """``N×3×H×W`` pixel tensor → ``N×C×h×w`` model input on the same device (differentiable)."""
        import torch

        x = self.resize_torch(images)
        if self.model_channels != _CHANNELS:
            weights = torch.tensor(LUMINANCE, dtype=x.dtype, device=x.device).reshape(1, _CHANNELS, 1, 1)
            x = (x * weights).sum(dim=1, keepdim=True).expand(-1, self.model_channels, -1, -1)
        count = self.model_channels
        scale = torch.tensor(self.scale, dtype=x.dtype, device=x.device).reshape(1, count, 1, 1)
        offset = torch.tensor(self.offset, dtype=x.dtype, device=x.device).reshape(1, count, 1, 1)
        return x * scale + offset

    def resize_torch(self, images: Any) -> Any:
        """The resizing step alone: ``N×3×H×W`` pixels → ``N×3×h×w`` pixels (unchanged without ``size``)."""
        import torch

        if self.size is None or tuple(images.shape[2:4]) == self.size:
            return images
        return torch.nn.functional.interpolate(images, size=self.size, mode="bilinear", align_corners=False,
                                               antialias=_shrinks(tuple(images.shape[2:4]), self.size))

    def keras(self, images: Any) -> Any:
        """``N×H×W×3`` pixel tensor → ``N×h×w×C`` model input (``keras.ops``, differentiable)."""
        import keras

        x = images
        if self.size is not None and tuple(x.shape[1:3]) != self.size:
            x = keras.ops.image.resize(x, self.size, interpolation="bilinear",
                                       antialias=_shrinks(tuple(x.shape[1:3]), self.size))
        if self.model_channels != _CHANNELS:
            grey = keras.ops.sum(x * keras.ops.convert_to_tensor(LUMINANCE, x.dtype), axis=-1, keepdims=True)
            x = keras.ops.repeat(grey, self.model_channels, axis=-1) if self.model_channels > 1 else grey
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


def _per_channel(name: str, value: Any, count: int = _CHANNELS) -> tuple[float, ...]:
    values = [value] * count if isinstance(value, Real) and not isinstance(value, bool) else value
    try:
        values = [float(v) for v in values if not isinstance(v, bool)]
    except (TypeError, ValueError):
        values = []
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise InputError(f"{name} must be a finite number or {count} of them, got {value!r}"
                         + ("" if count != _CHANNELS else " (for another number of channels, pass channels=...)"))
    return tuple(values)


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
