"""The patch grid of a vision transformer's tokens, framework-free: the arithmetic that both the torch
(:mod:`xaihub.models.token_grid`) and the Keras (:mod:`xaihub.models.keras_tokens`) token CAMs use.

A transformer block gives tokens ``N×T×C``: class, distillation or register tokens first, then the
``h×w`` patches row by row. :func:`token_layout` finds ``h×w`` and the ``T − h·w`` leading tokens from
the token count, the model input's ``H×W`` and the patch size (the patch embedding's stride; the coarser
grids of Swin's later stages are found by trying strides ``patch·2^k``), or from grids the model states
outright (a Keras ``Reshape`` from ``N×h×w×C`` to tokens). Where no grid fits it refuses, naming the
shape and the ``layer=``/``reshape=`` overrides, before any explanation runs. A :class:`Layout` applies
the result to a torch (``N×C×h×w``) or a Keras (``N×h×w×C``) tensor.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from xaihub.core.errors import InputError
from xaihub.core.params import Constraint

MAX_PREFIX = 8
"""At most this many leading non-patch tokens (class, distillation, registers) are dropped."""
MAX_HALVINGS = 6
"""Grids down to ``patch·2^MAX_HALVINGS`` pixels per cell are tried (Swin halves the grid per stage)."""
_NORM = re.compile(r"(Layer|RMS)Norm", re.IGNORECASE)


class LayerObject(Constraint):
    """A layer given as the object itself (a torch ``nn.Module``, a Keras layer)."""

    def accepts(self, value: Any) -> bool:
        return hasattr(value, "register_forward_hook") or (hasattr(value, "name") and hasattr(value, "output"))

    def describe(self) -> str:
        return "a layer object (torch nn.Module, Keras layer)"

    def invalid_examples(self) -> list[Any]:
        return [3.5]


class Reshape(Constraint):
    """A callable from a layer's tokens to a feature map (a pytorch-grad-cam ``reshape_transform``):
    ``N×C×h×w`` on torch, ``N×h×w×C`` on Keras."""

    def accepts(self, value: Any) -> bool:
        return callable(value) and not isinstance(value, type)

    def describe(self) -> str:
        return "a callable mapping the layer's output to N×C×h×w (torch) or N×h×w×C (Keras)"

    def invalid_examples(self) -> list[Any]:
        return ["reshape", 3]


def is_norm(layer: Any) -> bool:
    """Whether ``layer`` is a LayerNorm/RMSNorm (torch's, Keras' ``LayerNormalization``, a library's look-alike)."""
    return bool(_NORM.search(type(layer).__name__))


class Layout:
    """How a layer's output maps to a feature map: tokens ``N×T×C`` with ``prefix`` leading tokens dropped
    and the rest an ``h×w`` grid, channels-last ``N×h×w×C`` (torch's Swin), or a user's ``reshape``."""

    def __init__(self, kind: str, grid: tuple[int, int] | None = None, prefix: int = 0,
                 reshape: Callable[[Any], Any] | None = None) -> None:
        self.kind, self.grid, self.prefix, self.reshape = kind, grid, prefix, reshape

    def __call__(self, output: Any) -> Any:
        """``output`` (a torch tensor) as ``N×C×h×w``."""
        if self.kind == "custom":
            return self._checked(self.reshape(output), "N×C×h×w")
        if self.kind == "channels_last":
            return output.permute(0, 3, 1, 2)
        h, w = self.grid
        return output[:, self.prefix:].reshape(output.shape[0], h, w, output.shape[-1]).permute(0, 3, 1, 2)

    def channels_last(self, output: Any) -> Any:
        """``output`` (a Keras/TensorFlow tensor) as ``N×h×w×C``."""
        import keras

        if self.kind == "custom":
            return self._checked(self.reshape(output), "N×h×w×C")
        h, w = self.grid
        return keras.ops.reshape(output[:, self.prefix:], (-1, h, w, output.shape[-1]))

    def tokens_of(self, grid: Any, tokens: Any) -> Any:
        """The adjoint of :meth:`channels_last` for the token layout: a Keras ``N×h×w×C`` grid back in
        ``tokens``' ``N×T×C`` shape, the leading tokens zero."""
        import keras

        patches = keras.ops.reshape(grid, (-1, self.grid[0] * self.grid[1], tokens.shape[-1]))
        return keras.ops.concatenate([keras.ops.zeros_like(tokens[:, :self.prefix]), patches], axis=1)

    def describe(self) -> str:
        if self.kind == "tokens":
            return f"tokens → {self.grid[0]}×{self.grid[1]} grid, {self.prefix} leading token(s) dropped"
        return {"channels_last": "channels-last map", "custom": "reshape="}[self.kind]

    @staticmethod
    def _checked(grid: Any, expected: str) -> Any:
        if len(getattr(grid, "shape", ())) != 4:
            shape = tuple(grid.shape) if hasattr(grid, "shape") else type(grid).__name__
            raise InputError(f"reshape= gave {shape}; it must give {expected}")
        return grid


def token_layout(shape: Sequence[int], input_hw: tuple[int, int], patch: int | None,
                 grids: Sequence[tuple[int, int]] = ()) -> Layout:
    """The layout of ``N×T×C`` tokens of ``shape`` on an ``input_hw`` input: one of the ``grids`` the model
    states, else the grid of stride ``patch·2^k``, else (no patch size, a square input) a square grid with
    the fewest leading tokens. :class:`~xaihub.InputError` where none leaves 0–``MAX_PREFIX`` tokens."""
    tokens = int(shape[1])
    height, width = input_hw
    strides = [patch * 2**k for k in range(MAX_HALVINGS + 1)] if patch else []
    candidates = [tuple(grid) for grid in grids]
    for stride in strides:
        candidates += [(height // stride, width // stride), (-(-height // stride), -(-width // stride))]
    for h, w in candidates:
        if h and w and 0 <= tokens - h * w <= MAX_PREFIX:
            return Layout("tokens", (h, w), tokens - h * w)
    if height == width and not grids:  # no patch embedding found: a square grid, the fewest leading tokens
        for prefix in range(MAX_PREFIX + 1):
            side = round((tokens - prefix) ** 0.5) if tokens > prefix else 0
            if side and side * side == tokens - prefix:
                return Layout("tokens", (side, side), prefix)
    raise InputError(
        f"cannot infer the patch grid of the chosen layer's {tuple(shape)} tokens on a {height}×{width} input "
        f"(patch size {patch or 'unknown'}: no h×w grid leaves 0–{MAX_PREFIX} leading tokens); "
        "pass reshape=<tokens → feature map> or layer=<a layer with an image-shaped feature map>")
