"""Which torch models zennit's composites explain, checked before any work (:func:`check_supported`).

zennit gives a rule to each module of a known type (convolutions and ``Linear``: the composite's rules;
activations: relevance passed through; average pooling and zennit's ``Sum``: normalised; ``BatchNorm``:
merged into the ``Conv``/``Linear`` before it by a canonizer). Everything else, modules and operations
written in ``forward`` alike, passes relevance on as a gradient would: right for a reshape, a mean or a
``relu``, wrong for a residual ``x + y`` (both branches get the whole relevance, which is then counted
twice) or a product. So the model is refused, naming what is in the way, when it has a leaf module
without a rule or, traced by ``torch.fx``, an operation in ``forward`` beyond the harmless ones.
torchvision's ``BasicBlock`` and ``Bottleneck`` are allowed: zennit's ``ResNetCanonizer`` rewrites
their addition as a ``Sum`` module.
"""

from __future__ import annotations

import operator
from typing import Any

from xaihub import MethodUnavailableError

PASS_THROUGH = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Flatten", "Unflatten",
                "Identity", "ZeroPad2d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d")
"""Leaf modules that only move or drop values: relevance passes them as the gradient does."""
HARMLESS = {"flatten", "view", "reshape", "size", "getattr", "getitem", "contiguous", "squeeze", "unsqueeze",
            "mean", "relu", "permute", "transpose", "dim"}
"""Operations in ``forward`` through which the gradient carries relevance unchanged (re-indexing, a mean,
``relu``, whose zeros get no relevance from the layer after it anyway)."""


def check_supported(net: Any) -> None:
    """Raise :class:`MethodUnavailableError` naming the modules and ``forward`` operations zennit would
    propagate wrongly; nothing is run."""
    leaves = [f"{type(m).__name__} (module {name!r})" for name, m in _leaves(net) if not _has_rule(m)]
    if leaves:
        raise MethodUnavailableError(
            f"zennit's LRP has no rule for {_listed(leaves)}; it explains convolutions, Linear, BatchNorm, "
            "pooling, element-wise activations and reshapes")
    operations = _operations(net)
    if operations:
        raise MethodUnavailableError(
            f"the model's forward computes {_listed(operations)} outside modules; zennit would pass relevance "
            "through them as a gradient, which counts it twice at a residual addition (only torchvision's "
            "ResNet blocks are rewritten by zennit's canonizer)")


def _blocks() -> tuple[type, ...]:
    from torchvision.models.resnet import BasicBlock, Bottleneck

    return BasicBlock, Bottleneck


def _leaves(net: Any) -> list[tuple[str, Any]]:
    blocks = _blocks()
    inside = [name for name, m in net.named_modules() if isinstance(m, blocks)]
    return [(name, m) for name, m in net.named_modules()
            if (not list(m.children()) or isinstance(m, blocks))
            and not any(name.startswith(f"{block}.") for block in inside)]


def _has_rule(module: Any) -> bool:
    import torch
    from zennit import types

    if isinstance(module, _blocks()):
        return True
    if isinstance(module, torch.nn.MultiheadAttention):
        return False
    known = (types.Convolution, torch.nn.Linear, types.BatchNorm, types.AvgPool, types.MaxPool, types.Activation)
    return isinstance(module, known) or type(module).__name__ in PASS_THROUGH


def _operations(net: Any) -> list[str]:
    """The operations ``torch.fx`` finds in ``forward`` (outside the leaves) that are not :data:`HARMLESS`."""
    import torch.fx

    blocks = _blocks()

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, module: Any, name: str) -> bool:
            return isinstance(module, blocks) or super().is_leaf_module(module, name)

    try:
        graph = Tracer().trace(net)
    except Exception as exc:  # torch.fx raises many kinds on data-dependent control flow
        raise MethodUnavailableError(f"zennit's LRP needs to know every operation in the model's forward, and "
                                     f"torch.fx cannot trace it ({type(exc).__name__}: {exc})") from exc
    found = []
    for node in graph.nodes:
        if node.op not in ("call_function", "call_method"):
            continue
        name = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
        if node.target is operator.getitem:
            name = "getitem"
        if name not in HARMLESS:
            found.append(f"{name} ({node.name})")
    return found


def _listed(items: list[str]) -> str:
    return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
