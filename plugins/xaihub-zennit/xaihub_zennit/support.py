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
    by_type: dict[str, list[str]] = {}
    for name, module in _leaves(net):
        if not _has_rule(module):
            by_type.setdefault(type(module).__name__, []).append(repr(name))
    if by_type:
        listed = ", ".join(f"{kind} (module {_listed(names)})" for kind, names in by_type.items())
        raise MethodUnavailableError(f"zennit's LRP has no rule for {listed}; it explains convolutions, Linear, "
                                     "BatchNorm, pooling, element-wise activations and reshapes")
    graph = _graph(net)
    misplaced = _misplaced_batchnorms(net, graph)
    if misplaced:
        raise MethodUnavailableError(
            f"zennit's canonizer would merge {_listed(misplaced)} into the layer registered before it, which "
            "does not compute its input: the merged model would compute other scores")
    operations = _operations(graph)
    if operations:
        raise MethodUnavailableError(
            f"the model's forward computes {_listed(operations)} outside modules; zennit would pass relevance "
            "through them as a gradient, which counts it twice at a residual addition (only torchvision's "
            "ResNet blocks are rewritten by zennit's canonizer)")


def _blocks() -> tuple[type, ...]:
    from torchvision.models.resnet import BasicBlock, Bottleneck

    return BasicBlock, Bottleneck


def _leaves(net: Any) -> list[tuple[str, Any]]:
    """The modules zennit treats as one layer: modules without children, and modules with a rule (a
    torchvision ResNet block; a ``Conv2d`` subclass owning its padding module, whose rule reruns it whole)."""
    units = [name for name, m in net.named_modules() if name and _is_unit(m)]
    return [(name, m) for name, m in net.named_modules()
            if (not list(m.children()) or name in units) and not any(name.startswith(f"{u}.") for u in units)]


def _is_unit(module: Any) -> bool:
    """A module explained as a whole, children included."""
    import torch

    if isinstance(module, torch.nn.MultiheadAttention):  # its own forward computes the attention
        return True
    return isinstance(module, _blocks()) or (_has_rule(module) and list(module.children()) != []
                                             and not any(True for _ in _own_children_parameters(module)))


def _own_children_parameters(module: Any) -> Any:
    return (p for child in module.children() for p in child.parameters())


def _has_rule(module: Any) -> bool:
    import torch
    from zennit import types

    if isinstance(module, _blocks()):
        return True
    if isinstance(module, torch.nn.MultiheadAttention):
        return False
    known = (types.Convolution, torch.nn.Linear, types.BatchNorm, types.AvgPool, types.MaxPool, types.Activation)
    return isinstance(module, known) or type(module).__name__ in PASS_THROUGH


def _graph(net: Any) -> Any:
    """``net``'s forward traced by ``torch.fx``, the modules of :func:`_is_unit` kept whole."""
    import torch.fx

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, module: Any, name: str) -> bool:
            return _is_unit(module) or super().is_leaf_module(module, name)

    try:
        graph = Tracer().trace(net)
    except Exception as exc:  # torch.fx raises many kinds on data-dependent control flow
        raise MethodUnavailableError(f"zennit's LRP needs to know every operation in the model's forward, and "
                                     f"torch.fx cannot trace it ({type(exc).__name__}: {exc})") from exc
    return graph


def _misplaced_batchnorms(net: Any, graph: Any) -> list[str]:
    """The BatchNorms zennit's ``SequentialMergeBatchNorm`` pairs with the leaf before them in
    ``modules()`` order (a ``Conv``/``Linear``) although, in the traced forward, that layer is not their input."""
    from zennit import types

    producers = {node.name: node.target for node in graph.nodes if node.op == "call_module"}
    inputs = {node.target: [producers.get(a.name) for a in node.args if hasattr(a, "name")]
              for node in graph.nodes if node.op == "call_module"}
    leaves = [(name, m) for name, m in net.named_modules() if not list(m.children())]
    misplaced = []
    for (before, previous), (name, module) in zip(leaves, leaves[1:]):
        if isinstance(previous, types.Linear) and isinstance(module, types.BatchNorm) and name in inputs:
            if inputs[name] != [before]:
                misplaced.append(f"BatchNorm {name!r}")
    return misplaced


def _operations(graph: Any) -> list[str]:
    """The operations in the traced ``forward`` (outside the leaves) that are not :data:`HARMLESS`."""
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


def _listed(items: list[str], shown: int = 3) -> str:
    return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")
