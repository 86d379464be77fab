"""Token layouts for CAMs on vision transformers (torch). Imports torch only when called.

A CAM needs an ``N×C×h×w`` feature map. A transformer's blocks give tokens ``N×T×C`` (ViT, DeiT, BEiT,
DINOv2: class, distillation or register tokens first, then the ``h×w`` patches row by row) or, in timm's
Swin, channels-last maps ``N×h×w×C``. This module

- picks the CAM layer of a transformer (:func:`token_layer`): the first norm of the last block to run
  (Hugging Face ``layernorm_before``, timm ``norm1``). The block's output would not do on a model that
  pools its class token: only the class token's gradient reaches the head past the final ``LayerNorm``,
  so the patch tokens' gradients, and the CAM, are zero. The first norm feeds the block's attention, which
  mixes the patches into the class token (pytorch-grad-cam's documented choice for ViTs);
- infers the patch grid (:func:`infer_layout`) from the token count, the model input's ``H×W`` and the
  patch size read from the patch-embedding convolution (kernel = stride), dropping the ``T − h·w`` leading
  tokens; non-square inputs and the coarser grids of Swin's later stages are found by trying strides
  ``patch·2^k``. Where no grid fits it refuses, naming the shape, before any explanation runs;
- exposes the grid as a module (:class:`TokenGrid`) that CAM code, xaihub's or a library's (captum's
  ``LayerGradCam``), hooks as if it were a convolution: while :meth:`TokenGrid.attached`, the source
  layer's tokens pass through it reshaped to ``N×C×h×w``, and gradients reach it exactly.

``reshape=`` (a callable ``tokens → N×C×h×w``, like pytorch-grad-cam's ``reshape_transform``) replaces the
inferred layout; it must only rearrange values (a view, permute, slice, ``reshape``), which is what lets
its gradients flow back.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Callable, Iterator

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
    """A callable ``tokens → N×C×h×w`` (a pytorch-grad-cam ``reshape_transform``)."""

    def accepts(self, value: Any) -> bool:
        return callable(value) and not isinstance(value, type)

    def describe(self) -> str:
        return "a callable mapping the layer's output to N×C×h×w"

    def invalid_examples(self) -> list[Any]:
        return ["reshape", 3]


def is_norm(module: Any) -> bool:
    """Whether ``module`` is a LayerNorm/RMSNorm (torch's or a library's subclass or look-alike)."""
    return bool(_NORM.search(type(module).__name__))


def transformer_blocks(model: Any) -> dict[str, Any]:
    """``{name: module}`` of the modules that look like transformer blocks: two or more norm children
    and an attention module below them."""
    blocks = {}
    for name, module in model.named_modules():
        norms = [child for child in module.children() if is_norm(child)]
        if len(norms) >= 2 and any("attention" in type(m).__name__.lower() for m in module.modules()):
            blocks[name] = module
    return blocks


def patch_size(model: Any) -> int | None:
    """The stride of the first ``Conv2d`` whose kernel equals its stride (a patch embedding), if any."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d) and module.kernel_size == module.stride and module.stride[0] > 1:
            return int(module.stride[0]) if module.stride[0] == module.stride[1] else None
    return None


class Layout:
    """How a layer's output maps to ``N×C×h×w``: tokens ``N×T×C`` with ``prefix`` leading tokens dropped
    and the rest an ``h×w`` grid, channels-last ``N×h×w×C``, or a user's ``reshape``."""

    def __init__(self, kind: str, grid: tuple[int, int] | None = None, prefix: int = 0,
                 reshape: Callable[[Any], Any] | None = None) -> None:
        self.kind, self.grid, self.prefix, self.reshape = kind, grid, prefix, reshape

    def __call__(self, output: Any) -> Any:
        if self.kind == "custom":
            grid = self.reshape(output)
            if not hasattr(grid, "ndim") or grid.ndim != 4:
                shape = tuple(grid.shape) if hasattr(grid, "shape") else type(grid).__name__
                raise InputError(f"reshape= gave {shape}; it must give N×C×h×w")
            return grid
        if self.kind == "channels_last":
            return output.permute(0, 3, 1, 2)
        h, w = self.grid
        return output[:, self.prefix:].reshape(output.shape[0], h, w, output.shape[-1]).permute(0, 3, 1, 2)

    def describe(self) -> str:
        if self.kind == "tokens":
            return f"tokens → {self.grid[0]}×{self.grid[1]} grid, {self.prefix} leading token(s) dropped"
        return {"channels_last": "channels-last map", "custom": "reshape="}[self.kind]


def infer_layout(model: Any, layer: Any, shape: tuple[int, ...], input_hw: tuple[int, int],
                 reshape: Callable[[Any], Any] | None = None) -> Layout | None:
    """The layout of ``layer``'s output of ``shape`` (``None``: already ``N×C×h×w``); raises
    :class:`~xaihub.InputError` where no grid can be inferred."""
    if reshape is not None:
        return Layout("custom", reshape=reshape)
    if len(shape) == 4:
        return Layout("channels_last") if is_norm(layer) else None
    if len(shape) != 3:
        raise InputError(f"the chosen layer gives {shape}; CAM methods need an N×C×h×w feature map "
                         "(or N×T×C tokens; else pass reshape=<output → N×C×h×w>)")
    tokens = shape[1]
    height, width = input_hw
    patch = patch_size(model)
    strides = [patch * 2**k for k in range(MAX_HALVINGS + 1)] if patch else []
    for stride in strides:
        for h, w in {(height // stride, width // stride), (-(-height // stride), -(-width // stride))}:
            if h and w and 0 <= tokens - h * w <= MAX_PREFIX:
                return Layout("tokens", (h, w), tokens - h * w)
    if height == width:  # no patch embedding found: a square grid, the fewest leading tokens
        for prefix in range(MAX_PREFIX + 1):
            side = round((tokens - prefix) ** 0.5) if tokens > prefix else 0
            if side and side * side == tokens - prefix:
                return Layout("tokens", (side, side), prefix)
    raise InputError(
        f"cannot infer the patch grid of the chosen layer's {shape} tokens on a {height}×{width} input "
        f"(patch size {patch or 'unknown'}: no h×w grid leaves 0–{MAX_PREFIX} leading tokens); "
        "pass reshape=<tokens → N×C×h×w> or layer=<a layer with an N×C×h×w output>")


def token_grid(source: Any, layout: Layout, name: str) -> Any:
    """A :class:`TokenGrid` module for ``source``'s output seen through ``layout``."""
    return _grid_class()(source, layout, name)


def attached(layer: Any) -> contextlib.AbstractContextManager:
    """``layer.attached()`` for a token grid, else a no-op: wrap any forward pass that must feed it."""
    return layer.attached() if hasattr(layer, "attached") and hasattr(layer, "layout") else contextlib.nullcontext()


_CLASS: list[Any] = []


def _grid_class() -> Any:
    if _CLASS:
        return _CLASS[0]
    import torch

    class TokenGrid(torch.nn.Module):
        """An identity module fed, while :meth:`attached`, with ``layout(source's output)`` (``N×C×h×w``).

        The source's output is passed on unchanged in value unless a hook on this module returns other
        values (Ablation-CAM zeroes channels), which then replace the source's; what it returns flows
        back into it exactly (``out + Lᵀ(g − g.detach())``, ``Lᵀ`` the adjoint of the linear layout), so
        gradients of the scores with respect to this module's output are the layout of the gradients
        with respect to the tokens, and the model's own gradients are unchanged.
        """

        def __init__(self, source: Any, layout: Layout, name: str) -> None:
            super().__init__()
            object.__setattr__(self, "source", source)  # not a submodule: the model stays the owner
            self.layout, self.source_name = layout, name

        def forward(self, grid: Any) -> Any:
            return grid.clone()  # an operation of its own, for libraries that hook its backward pass

        def attach(self) -> Any:
            """Feed this grid from the source layer until the returned handle's ``remove()``."""
            return self.source.register_forward_hook(self._route)

        def on(self, source: Any) -> Any:
            """The same layout on another module (the same layer in a copy of the model)."""
            return TokenGrid(source, self.layout, self.source_name)

        @contextlib.contextmanager
        def attached(self) -> Iterator[Any]:
            handle = self.attach()
            try:
                yield self
            finally:
                handle.remove()

        def _route(self, module: Any, args: Any, output: Any) -> Any:
            if not isinstance(output, torch.Tensor):
                raise InputError(f"layer {self.source_name!r} returns {type(output).__name__}; "
                                 "token CAMs need a tensor output (choose its norm layer)")
            grad = torch.is_grad_enabled()
            with torch.enable_grad():
                probe = output.detach().requires_grad_(True)
                view = self.layout(probe)
            grid = self(view.detach().requires_grad_(grad))
            delta = grid - view.detach()  # zero, unless a hook on this module changed the values (ablation)
            if not grad and not bool(delta.any()):
                return None
            with torch.enable_grad():
                back = torch.autograd.grad(view, probe, grad_outputs=delta, create_graph=grad)[0]
            return output + back

    _CLASS.append(TokenGrid)
    return TokenGrid
