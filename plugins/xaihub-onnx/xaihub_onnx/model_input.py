"""What an ONNX model's input looks like, read from the shape and type its session declares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xaihub.core.errors import ModelError

FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}
OTHER_TYPES = {"tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(int32)": np.int32,
               "tensor(int64)": np.int64}
_MOST_CHANNELS = 4


@dataclass(frozen=True)
class ModelInput:
    """The model's one input: ``name``, declared ``shape`` (ints for fixed dimensions, names or
    ``None`` for free ones) and the numpy ``dtype`` it is fed in."""

    name: str
    shape: tuple[Any, ...]
    dtype: type

    @property
    def floating(self) -> bool:
        return np.issubdtype(self.dtype, np.floating)

    @property
    def batch(self) -> int | None:
        """The fixed batch size a model was exported with, or ``None`` when any batch goes."""
        return _fixed(self.shape[0]) if self.shape else None

    @property
    def channels_first(self) -> bool | None:
        """``True`` for ``N×C×H×W``, ``False`` for ``N×H×W×C``, ``None`` when the shape does not say
        (not 4-d, or both or neither of dimensions 1 and 3 look like a channel count)."""
        if len(self.shape) != 4:
            return None
        first, last = _channel_count(self.shape[1]), _channel_count(self.shape[3])
        return first if first != last else None

    def channels(self, channels_first: bool) -> int | None:
        return _fixed(self.shape[1 if channels_first else 3])

    def size(self, channels_first: bool) -> tuple[int, int] | None:
        """The fixed ``height×width``, or ``None`` when either may vary."""
        height, width = (self.shape[2:4] if channels_first else self.shape[1:3])
        height, width = _fixed(height), _fixed(width)
        return (height, width) if height is not None and width is not None else None


def model_input(session: Any) -> ModelInput:
    """The one input of ``session``; :class:`ModelError` for several inputs or an unusable type."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = [i.name for i in inputs]
        raise ModelError(f"the ONNX model has {len(inputs)} inputs {names}; xaihub feeds it one batch of images")
    declared = inputs[0]
    dtype = FLOAT_TYPES.get(declared.type) or OTHER_TYPES.get(declared.type)
    if dtype is None:
        raise ModelError(f"the ONNX model's input {declared.name!r} is a {declared.type}; xaihub feeds "
                         f"{sorted(FLOAT_TYPES)} (or, from a preprocess function, {sorted(OTHER_TYPES)})")
    return ModelInput(declared.name, tuple(declared.shape or ()), dtype)


def _fixed(dimension: Any) -> int | None:
    return dimension if isinstance(dimension, int) and dimension > 0 else None


def _channel_count(dimension: Any) -> bool:
    return _fixed(dimension) is not None and dimension <= _MOST_CHANNELS
