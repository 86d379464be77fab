"""Token layouts for CAMs on vision transformers (torch). Imports torch only when called; the grid
arithmetic, shared with Keras, is :mod:`xaihub.models.token_layout`.

A CAM needs an ``N×C×h×w`` feature map. A transformer's blocks give tokens ``N×T×C`` (ViT, DeiT, BEiT,
DINOv2: class, distillation or register tokens first, then the ``h×w`` patches row by row) or, in timm's
Swin, channels-last maps ``N×h×w×C``. This module

- picks the CAM layer of a transformer (:func:`token_layer`): the first norm of the last block to run
  (Hugging Face ``layernorm_before``, timm ``norm1``). The block's output would not do on a model that
  pools its class token: only the class token's gradient reaches the head past the final ``LayerNorm``,
  so the patch tokens' gradients, and the CAM, are zero. The first norm feeds the block's attention, which
  mixes the patches into the class token (pytorch-grad-cam's documented choice for ViTs);
- infers the patch grid (:func:`infer_layout`, :func:`~xaihub.models.token_layout.token_layout`) from the
  token count, the model input's ``H×W`` and the patch size read from the patch-embedding convolution
  (kernel = stride), dropping the ``T − h·w`` leading tokens; non-square inputs and the coarser grids of
  Swin's later stages are found by trying strides ``patch·2^k``. Where no grid fits it refuses, naming the
  shape, before any explanation runs;
- exposes the grid as a module (:class:`TokenGrid`) that CAM code, xaihub's or a library's (captum's
  ``LayerGradCam``), hooks as if it were a convolution: while :meth:`TokenGrid.attached`, the source
  layer's tokens pass through it reshaped to ``N×C×h×w``, and gradients reach it exactly.

``reshape=`` (a callable ``tokens → N×C×h×w``, like pytorch-grad-cam's ``reshape_transform``) replaces the
inferred layout; it must only rearrange values (a view, permute, slice, ``reshape``), which is what lets
its gradients flow back.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from xaihub.core.errors import InputError
from xaihub.models.token_layout import LayerObject, Layout, Reshape, is_norm, token_layout

__all__ = ["LayerObject", "Layout", "Reshape", "attached", "infer_layout", "is_norm", "patch_size", "token_grid",
           "transformer_blocks"]


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
    return token_layout(shape, input_hw, patch_size(model))


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
