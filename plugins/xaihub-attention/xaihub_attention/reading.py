"""Reading a torch vision transformer's attention: which modules attend, their attention maps during one
forward pass (in the graph, so that gradients reach them), and the patch grid the tokens come from.

Two kinds of attention module are read:

- ``torch.nn.MultiheadAttention`` used as self-attention (query, key and value the same tensor, no
  mask): a forward hook recomputes its output from the same weights with the attention as a tensor of its
  own (``torch``'s fused kernels do not return one that gradients reach) and hands that output on, so the
  model computes the same scores through it;
- Hugging Face ``transformers`` attention modules (the innermost ``*Attention``, returning
  ``(context, attention)``), with the model's ``eager`` attention implementation switched on for the
  call and switched back afterwards (``sdpa`` returns no attention);
- timm attention modules (``timm.layers.Attention`` and the others in :data:`TIMM_ATTENTION`) with
  ``fused_attn`` switched off for the call and restored afterwards: timm then runs its own unfused path,
  ``softmax(q·kᵀ·scale)`` handed to ``attn_drop`` and multiplied with ``v``, and a hook on ``attn_drop``
  records its input, the softmaxed attention, in the graph (``F.scaled_dot_product_attention``, the fused
  path, returns no attention).

The tokens are mapped to the image through the patch embedding: the first ``Conv2d`` to run whose
kernel equals its stride gives the grid ``h×w``; the ``N - h·w`` tokens before the patches are the
class (distillation, register) tokens.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from xaihub import InputError, MethodUnavailableError

WINDOWED = ("swin",)
"""Hugging Face model types whose attention is over windows, not over all tokens (no rollout)."""

TIMM_ATTENTION = frozenset({
    "timm.layers.attention.Attention", "timm.layers.attention.AttentionRope",
    "timm.models.beit.Attention", "timm.models.eva.EvaAttention",
})
"""timm attention classes (by the class that defines their ``forward``) whose unfused path, in timm 1.0.31,
computes ``attn = softmax(...)`` and then ``attn = self.attn_drop(attn)``, one ``N×H×T×T`` map used as
``attn @ v``; other timm modules with ``fused_attn`` (``DiffAttention``'s difference of two softmaxes,
attention pooling, fused blocks) are refused."""


@dataclass
class Attention:
    """One forward pass: ``maps`` one ``N×H×T×T`` tensor per attention layer (in the order they ran, in
    the graph), ``scores`` the raw class scores, ``grid`` the patch grid ``(h, w)``, ``extra`` the
    number of tokens before the patches and ``readout`` the tokens the model's head reads
    (:func:`readout`)."""

    maps: list[Any]
    scores: Any
    grid: tuple[int, int]
    extra: int
    readout: str = "class"


READOUTS = {
    "class": "the class token",
    "class+distillation": "the mean of the class and distillation tokens' heads",
    "patches": "the mean of the patch tokens",
    "class+patches": "the class token and the mean of the patch tokens",
}
"""What a classifier's head reads from the last layer's tokens; the map is the relevance of the same tokens
(their rows, averaged over the parts)."""


def readout(net: Any) -> str:
    """Which tokens ``net``'s head reads (a key of :data:`READOUTS`): known for Hugging Face BEiT (mean of the
    patches when ``use_mean_pooling``), DINOv2 (class token and the patches' mean), DeiT with teacher (class
    and distillation tokens), timm's ``global_pool`` (``token`` or ``avg``) and timm's distilled DeiT (class
    and distillation tokens, in eval mode the mean of both heads); otherwise the class token
    (a model without leading tokens: the mean of the patches, see :func:`forward`). Refuses a timm
    ``global_pool`` that is not a mean or a token (``max``: the head reads no fixed mix of rows)."""
    config = getattr(net, "config", None)
    model_type = str(getattr(config, "model_type", "")).lower()
    if model_type in ("beit", "data2vec-vision") and getattr(config, "use_mean_pooling", False):
        return "patches"
    if model_type.startswith("dinov2"):
        return "class+patches"
    if model_type == "deit" and type(net).__name__.endswith("WithTeacher"):
        return "class+distillation"
    if _is_timm(net) and hasattr(net, "global_pool") and hasattr(net, "num_prefix_tokens"):
        pool = net.global_pool
        if pool not in ("token", "avg", ""):
            raise MethodUnavailableError(f"timm's global_pool {pool!r} does not read a fixed mix of tokens "
                                         "(attention methods read the class token or the mean of the patches)")
        if pool == "avg":
            return "patches"
        return "class+distillation" if getattr(net, "dist_token", None) is not None else "class"
    return "class"


def attention_modules(net: Any) -> list[tuple[str, Any]]:
    """The modules whose attention can be read, by name; refuses (with the reason) a model with none."""
    import torch

    model_type = str(getattr(getattr(net, "config", None), "model_type", "")).lower()
    if any(kind in model_type for kind in WINDOWED) or any("Swin" in type(m).__name__ for m in net.modules()):
        raise MethodUnavailableError("the model's attention is windowed (Swin): each layer attends within shifted "
                                     "windows, not over all tokens, so attention does not roll out to the patches")
    found, refused = [], []
    hf = _hf_attention_modules(net)
    for name, module in net.named_modules():
        if isinstance(module, torch.nn.MultiheadAttention):
            reason = _unreadable_multihead(module)
            (refused if reason else found).append((name, f"MultiheadAttention: {reason}" if reason else module))
        elif any(module is m for m in hf) or _is_timm_attention(module):
            found.append((name, module))
        elif _is_timm(module) and hasattr(module, "fused_attn"):
            refused.append((name, f"timm's {type(module).__name__} is not one of the attention classes whose "
                                  "unfused path is read (softmaxed attention handed to attn_drop, then times v)"))
    if refused:
        name, reason = refused[0]
        raise MethodUnavailableError(f"cannot read the attention of {name!r}: {reason}")
    if not found:
        raise MethodUnavailableError(
            "the model has no attention layer that can be read (torch.nn.MultiheadAttention used as self-attention, "
            "a Hugging Face transformers *Attention module or a timm Attention); attention methods explain "
            "vision transformers")
    readout(net)  # refuses a head that reads no fixed mix of tokens
    return found


@contextlib.contextmanager
def recording(net: Any) -> Iterator[tuple[list[Any], list[tuple[int, int]]]]:
    """Within the block, forward passes of ``net`` record each attention map (``N×H×T×T``, in the graph)
    and each patch embedding's output grid; hooks and the attention implementation are restored after."""
    modules = attention_modules(net)
    maps: list[Any] = []
    grids: list[tuple[int, int]] = []
    handles = []
    try:
        for _, module in modules:
            if _is_hf_attention(module):
                handles.append(module.register_forward_hook(_hf_hook(maps)))
            elif _is_timm_attention(module):
                handles.append(module.attn_drop.register_forward_hook(
                    lambda module, args, output: maps.append(args[0])))
            else:
                handles.append(module.register_forward_hook(_multihead_hook(maps), with_kwargs=True))
        for module in _patch_embeddings(net):
            handles.append(module.register_forward_hook(
                lambda module, args, output: grids.append(tuple(output.shape[-2:]))))
        with _eager_attention(net), _unfused_timm_attention([m for _, m in modules if _is_timm_attention(m)]):
            yield maps, grids
    finally:
        for handle in handles:
            handle.remove()


def forward(model: Any, image: np.ndarray) -> Attention:
    """One forward pass of ``model`` (a :class:`xaihub.models.GradientAdapter`) on ``image``, recording
    the attention maps; the scores are differentiable with respect to the maps."""
    import torch

    x = model.differentiable_input(image[None]).requires_grad_(True)  # a graph even for a frozen model
    with torch.enable_grad(), recording(model.model) as (maps, grids):
        scores = model.scores(x)
    if not maps:
        raise InputError("no attention layer ran during the forward pass")
    sums = [m.detach().sum(-1) for m in maps]
    if any(not torch.allclose(total, torch.ones_like(total), atol=1e-3) for total in sums):
        raise MethodUnavailableError("a recorded attention map's rows do not sum to 1: not a softmax over the tokens")
    tokens = maps[-1].shape[-1]
    if any(m.shape[-1] != m.shape[-2] or m.shape[-1] != tokens for m in maps):
        raise MethodUnavailableError(f"the attention layers attend over different token counts "
                                     f"({sorted({tuple(m.shape[-2:]) for m in maps})}): not one sequence of tokens")
    grid = next((g for g in grids if 0 < g[0] * g[1] <= tokens), None)
    if grid is None:
        side = math.isqrt(tokens)
        extra = next((e for e in range(0, min(tokens, 9)) if math.isqrt(tokens - e) ** 2 == tokens - e), None)
        if extra is None or side == 0:
            raise MethodUnavailableError(f"cannot map {tokens} tokens to a patch grid: no patch embedding "
                                         "(a Conv2d with kernel equal to stride) ran and the count is not a square")
        side = math.isqrt(tokens - extra)
        grid = (side, side)
    return Attention(maps, scores, grid, tokens - grid[0] * grid[1], readout(model.model))


def _unreadable_multihead(module: Any) -> str | None:
    if not module._qkv_same_embed_dim:
        return "its key and value sizes differ from the query's (cross-attention)"
    if module.bias_k is not None or module.add_zero_attn:
        return "it adds a bias or zero key/value token"
    return None


def _multihead_hook(maps: list[Any]) -> Any:
    def hook(module: Any, args: tuple, kwargs: dict, output: Any) -> Any:
        import torch

        names = ("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask")
        given = dict(zip(names, args)) | kwargs
        query, key, value = given["query"], given.get("key"), given.get("value")
        if key is not query or value is not query:
            raise MethodUnavailableError("a MultiheadAttention is called with different query, key and value "
                                         "(cross-attention); attention methods read self-attention")
        if given.get("key_padding_mask") is not None or given.get("attn_mask") is not None or given.get("is_causal"):
            raise MethodUnavailableError("a MultiheadAttention is called with a mask; attention methods read "
                                         "unmasked self-attention over the image's tokens")
        x = query if module.batch_first else query.transpose(0, 1)
        if x.ndim != 3:
            raise MethodUnavailableError(f"a MultiheadAttention gets unbatched input of shape {tuple(x.shape)}")
        batch, tokens, width = x.shape
        heads = module.num_heads
        qkv = torch.nn.functional.linear(x, module.in_proj_weight, module.in_proj_bias)
        q, k, v = qkv.reshape(batch, tokens, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
        attention = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(width // heads), dim=-1)
        maps.append(attention)
        out = module.out_proj((attention @ v).transpose(1, 2).reshape(batch, tokens, width))
        out = out if module.batch_first else out.transpose(0, 1)
        return (out, *output[1:]) if isinstance(output, tuple) else out

    return hook


def _is_hf_attention(module: Any) -> bool:
    """A Hugging Face transformers attention module (``*Attention``, returning ``(context, attention)``)."""
    return type(module).__module__.startswith("transformers.") and type(module).__name__.endswith("Attention")


def _hf_attention_modules(net: Any) -> list[Any]:
    """The innermost Hugging Face attention modules (4.x wraps ``*SelfAttention`` in ``*Attention``)."""
    candidates = [m for m in net.modules() if _is_hf_attention(m)]
    return [m for m in candidates if not any(_is_hf_attention(c) for c in list(m.modules())[1:])]


def _hf_hook(maps: list[Any]) -> Any:
    def hook(module: Any, args: tuple, output: Any) -> None:
        weights = output[1] if isinstance(output, tuple) and len(output) > 1 else None
        if weights is None or getattr(weights, "ndim", 0) != 4:
            raise MethodUnavailableError(f"{type(module).__name__} returned no attention weights")
        maps.append(weights)

    return hook


def _is_timm(module: Any) -> bool:
    return type(module).__module__.startswith("timm.")


def _is_timm_attention(module: Any) -> bool:
    """A timm attention module whose ``forward`` (its own or inherited) is one of :data:`TIMM_ATTENTION`."""
    import torch

    if not _is_timm(module) or not isinstance(getattr(module, "attn_drop", None), torch.nn.Dropout):
        return False
    owner = next((c for c in type(module).__mro__ if "forward" in vars(c)), None)
    return owner is not None and f"{owner.__module__}.{owner.__qualname__}" in TIMM_ATTENTION


@contextlib.contextmanager
def _unfused_timm_attention(modules: list[Any]) -> Iterator[None]:
    """timm attention modules: ``fused_attn`` off for the block (timm's unfused path, which computes the
    softmax that ``attn_drop`` is handed), each module's own value (or its absence) restored after."""
    missing = object()
    before = [(module, vars(module).get("fused_attn", missing)) for module in modules]
    try:
        for module in modules:
            module.fused_attn = False
        yield
    finally:
        for module, value in before:
            if value is missing:
                vars(module).pop("fused_attn", None)
            else:
                module.fused_attn = value


def _patch_embeddings(net: Any) -> list[Any]:
    import torch

    return [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and tuple(m.kernel_size) == tuple(m.stride)
            and m.kernel_size[0] > 1]


@contextlib.contextmanager
def _eager_attention(net: Any) -> Iterator[None]:
    """Hugging Face models: the ``eager`` attention implementation (the only one returning the weights)
    for the block, restored after."""
    config = getattr(net, "config", None)
    before = getattr(config, "_attn_implementation", None)
    if config is None or before in (None, "eager") or not hasattr(net, "set_attn_implementation"):
        yield
        return
    net.set_attn_implementation("eager")
    try:
        yield
    finally:
        net.set_attn_implementation(before)
