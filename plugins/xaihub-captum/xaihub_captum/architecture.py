"""What captum's hook-based methods can handle, read from one traced forward pass of the model.

captum's ``DeepLift``/``DeepLiftShap`` and ``GuidedBackprop``/``Deconvolution``/``GuidedGradCam`` change
the backward pass with hooks on modules of particular types. Where those hooks cannot see, or cannot
tell apart, what the forward pass does, they give a wrong map or fail half-way:

- **a hooked module that runs more than once** per forward pass: DeepLift keeps one input and output
  per module and raises "used more than once"; Deconvolution hands one call the output gradient of
  another unless the calls follow one another;
- **a hooked module whose input also feeds other operations** (a pre-activation residual block):
  captum's hook replaces that tensor's whole gradient, so the other paths' gradient is rescaled or
  lost (DeepLift's contributions then no longer add up to the score difference);
- **non-linear operations no hook covers**: DeepLift has rules for non-linear modules only (LayerNorm,
  a functional ``F.relu``, a product of two activations have none), the guided methods rectify
  ``ReLU``/``ReLU6`` modules only; gradients pass through everything else unchanged.

:func:`traced` runs the model once on the image, with gradients, and keeps what it saw as plain data
(module calls, the autograd graph's operations); :func:`deeplift_problems` and
:func:`rectifier_problems` say what stands in each method's way, in words.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xaihub.core.cache import array_key
from xaihub.models import GradientAdapter

LINEAR_OPERATIONS = frozenset({
    "AccumulateGrad", "Add", "Sub", "Rsub", "Neg", "Mean", "Sum", "Clone", "ToCopy", "Alias", "CopySlices", "Copy",
    "View", "UnsafeView", "Reshape", "ReshapeAlias", "Permute", "Transpose", "T", "Expand", "Squeeze", "Unsqueeze",
    "Cat", "Stack", "Slice", "Select", "Split", "SplitWithSizes", "Unbind", "Repeat", "AsStrided", "Flip", "Roll",
    "IndexSelect", "Gather", "Narrow", "PixelShuffle", "PixelUnshuffle", "Im2Col", "Col2Im",
    "ConstantPadNd", "ReflectionPad1D", "ReflectionPad2D", "ReflectionPad3D", "ReplicationPad1D",
    "ReplicationPad2D", "ReplicationPad3D",
    "AvgPool1D", "AvgPool2D", "AvgPool3D", "AdaptiveAvgPool1D", "AdaptiveAvgPool2D", "AdaptiveAvgPool3D",
    "NativeBatchNorm", "CudnnBatchNorm", "MiopenBatchNorm",  # affine in eval mode, where every method runs
    "UpsampleNearest1D", "UpsampleNearest2D", "UpsampleNearest3D", "UpsampleBilinear2D", "UpsampleBilinear2DAa",
    "UpsampleBicubic2D", "UpsampleBicubic2DAa", "UpsampleLinear1D", "UpsampleTrilinear3D",
    "BackwardHookFunction",
})
"""Operations whose output is linear (affine) in each input (``grad_fn`` names without ``Backward0``)."""
BILINEAR_OPERATIONS = frozenset({"Mul", "Div", "Mm", "Bmm", "Addmm", "Baddbmm", "Addbmm", "Addmv", "Mv", "Dot",
                                 "Convolution"})
"""Operations that are linear in the input as long as only one operand depends on it (and, for ``Div``,
the divisor does not)."""
ACTIVATIONS = frozenset({
    "Relu", "Hardtanh", "Threshold", "Clamp", "ClampMin", "ClampMax", "Sigmoid", "Tanh", "Silu", "Gelu", "Elu",
    "LeakyRelu", "Softplus", "Hardswish", "Hardsigmoid", "Mish", "Prelu", "PreluKernel", "Celu", "LogSigmoid",
    "RreluWithNoise",
})
"""Element-wise non-linear operations (the ones guided backpropagation is about)."""
_SHOWN = 4


@dataclass(frozen=True)
class Call:
    """One module call of the traced pass."""

    module: str
    """Dotted name in ``named_modules()`` (``"(the model)"`` for the model itself)."""
    kind: type
    output: int | None
    """Graph node that produced the call's output, ``None`` when it carries no gradient."""
    input: int | None
    """Graph node that produced the call's first input."""


@dataclass
class Trace:
    """The traced pass: module calls in order and the autograd graph from the scores back to the input."""

    calls: list[Call]
    operations: dict[int, str] = field(default_factory=dict)
    """Node → operation name (``"Relu"`` for ``ReluBackward0``)."""
    operands: dict[int, tuple[int | None, ...]] = field(default_factory=dict)
    """Node → the nodes of its inputs, in order (``None`` for an input that carries no gradient)."""
    dependent: set[int] = field(default_factory=set)
    """Nodes whose value depends on the explained input."""
    consumers: Counter[int] = field(default_factory=Counter)
    """Node → how many operations take its output."""

    def reaches(self, start: int, goal: int) -> bool:
        """Whether ``goal`` lies upstream of ``start`` (``start`` was computed from ``goal``)."""
        stack, seen = [start], set()
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                stack.extend(n for n in self.operands.get(node, ()) if n is not None)
        return False


def traced(model: GradientAdapter, image: np.ndarray) -> Trace:
    """The trace of ``model`` on ``image``: one forward pass, shared by the methods of an ``explain`` call."""
    key = (array_key(image), model.input_space)
    return model.cache.get_or_compute("captum-architecture", key, lambda: trace(model, image))


def trace(model: GradientAdapter, image: np.ndarray) -> Trace:
    """Run ``model.scores`` once on ``image`` with gradients and forward hooks on every module (removed after)."""
    import torch

    net = model.model
    started: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    seen: list[tuple[str, type, Any, Any]] = []  # in the order calls end: an inner module before its parent

    def before(name: str):
        def hook(module, args):  # the input's producer, read before an in-place module overwrites it
            first = next((a for a in args if isinstance(a, torch.Tensor)), None)
            started[name].append((first, None if first is None else first.grad_fn))
        return hook

    def after(name: str):
        def hook(module, args, output):
            first, producer = started[name].pop()
            seen.append((name, type(module), output if isinstance(output, torch.Tensor) else None,
                         producer if producer is not None else first))
        return hook

    handles = []
    for name, module in net.named_modules():
        label = name or "(the model)"
        handles += [module.register_forward_pre_hook(before(label)), module.register_forward_hook(after(label))]
    try:
        with model.session(), torch.enable_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns when the adapter reads the range of scores with a graph
            x = model.differentiable_input(image[None]).requires_grad_(True)
            scores = model.scores(x)
    finally:
        for handle in handles:
            handle.remove()
    result = Trace(calls=[])
    leaves = _read_graph(scores.grad_fn, result)
    result.dependent = _upstream_of(leaves.get(id(x)), result)
    result.calls = [Call(name, kind, _node(output, leaves), _node(first, leaves)) for name, kind, output, first in seen]
    return result


def deeplift_problems(trace: Trace, rules: tuple[type, ...]) -> list[str]:
    """Why captum's DeepLift cannot explain the traced model, given the module types it has ``rules``
    for; empty when it can."""
    problems = []
    hooked = [call for call in trace.calls if call.kind in rules]  # captum looks the exact type up
    reused = _reused(hooked)
    if reused:
        problems.append(f"non-linear modules run more than once per forward pass: {_modules(reused)} (captum's "
                        "DeepLift keeps one input and output per module and raises 'used more than once')")
    shared = [call for call in hooked if trace.consumers[call.input] > 1]
    if shared:
        problems.append(f"the input of a non-linear module also feeds other operations: {_modules(shared)} "
                        "(captum's hook replaces that tensor's whole gradient, so the contributions would not add up)")
    explained = {call.output for call in hooked}
    unruled = _nonlinear_operations(trace, explained)
    if unruled:
        problems.append(f"DeepLift has no rule for {_described(unruled, trace)} (gradients would pass through "
                        f"unchanged); it has rules for {', '.join(sorted(kind.__name__ for kind in rules))} modules")
    return problems


def rectifier_problems(trace: Trace, rectifiers: tuple[type, ...], follows_output_gradient: bool) -> list[str]:
    """Why hooks on ``rectifiers`` modules (guided backpropagation, deconvolution) cannot explain the traced
    model; ``follows_output_gradient`` for deconvolution, whose hook reads the call's output gradient."""
    names = " and ".join(kind.__name__ for kind in rectifiers)
    calls = [call for call in trace.calls if issubclass(call.kind, rectifiers)]
    if not calls:
        return [f"no {names} module runs, so captum's hooks would change nothing (the map would be the plain gradient)"]
    problems = []
    explained = {call.output for call in calls}
    others = [node for node, operation in trace.operations.items()
              if operation in ACTIVATIONS and node not in explained and node in trace.dependent]
    if others:
        problems.append(f"its activations include {_described(others, trace)}, which captum's hooks on {names} "
                        "modules do not reach (gradients would pass through them unchanged)")
    shared = [call for call in calls if trace.consumers[call.input] > 1]
    if shared:
        problems.append(f"the input of a rectifier also feeds other operations: {_modules(shared)} (captum's "
                        "hook would rectify that tensor's whole gradient, other paths included)")
    if follows_output_gradient:
        interleaved = [call for call in _reused(calls) if not _chained(trace, call.module)]
        if interleaved:
            problems.append(f"rectifiers run more than once on parallel paths: {_modules(interleaved)} (captum's "
                            "hook keeps one output gradient per module, so the calls would get each other's)")
    return problems


def _read_graph(root: Any, into: Trace) -> dict[int, int]:
    """Fill ``into`` with the graph behind ``root``; returns leaf tensor id → its node."""
    leaves: dict[int, int] = {}
    stack = [root] if root is not None else []
    kept = []  # node objects stay alive while their ids label the graph
    while stack:
        function = stack.pop()
        node = id(function)
        if node in into.operations:
            continue
        kept.append(function)
        into.operations[node] = re.sub(r"Backward\d*$", "", type(function).__name__)
        variable = getattr(function, "variable", None)
        if variable is not None:
            leaves[id(variable)] = node
        children = [child for child, _ in function.next_functions]
        into.operands[node] = tuple(None if child is None else id(child) for child in children)
        for child in children:
            if child is not None:
                into.consumers[id(child)] += 1
                stack.append(child)
    return leaves


def _node(value: Any, leaves: dict[int, int]) -> int | None:
    """The graph node of a tensor (its ``grad_fn``, or a leaf's own node), or of a ``grad_fn`` itself."""
    import torch

    if value is None:
        return None
    if not isinstance(value, torch.Tensor):
        return id(value)
    return id(value.grad_fn) if value.grad_fn is not None else leaves.get(id(value))


def _upstream_of(node: int | None, trace: Trace) -> set[int]:
    """Every node computed from ``node`` (and ``node`` itself)."""
    if node is None:
        return set()
    users: dict[int, list[int]] = defaultdict(list)
    for parent, children in trace.operands.items():
        for child in children:
            if child is not None:
                users[child].append(parent)
    found, stack = {node}, [node]
    while stack:
        for parent in users[stack.pop()]:
            if parent not in found:
                found.add(parent)
                stack.append(parent)
    return found


def _nonlinear_operations(trace: Trace, explained: set[int | None]) -> list[int]:
    """Nodes that depend on the input non-linearly and are not the output of a hooked module."""
    found = []
    for node, operation in trace.operations.items():
        if node in explained or node not in trace.dependent or operation in LINEAR_OPERATIONS:
            continue
        if operation in BILINEAR_OPERATIONS:
            operands = [o is not None and o in trace.dependent for o in trace.operands[node]]
            divides_by_input = operation == "Div" and len(operands) > 1 and operands[1]
            if sum(operands) <= 1 and not divides_by_input:
                continue
        found.append(node)
    return found


def _reused(calls: list[Call]) -> list[Call]:
    """One call of each module that runs more than once."""
    counts = Counter(call.module for call in calls)
    firsts = {call.module: call for call in reversed(calls)}
    return [firsts[name] for name, count in counts.items() if count > 1]


def _chained(trace: Trace, module: str) -> bool:
    """Whether each call of ``module`` is computed from the previous call's output."""
    outputs = [call.output for call in trace.calls if call.module == module]
    return all(later is not None and earlier is not None and trace.reaches(later, earlier)
               for earlier, later in zip(outputs, outputs[1:]))


def _modules(calls: list[Call]) -> str:
    """``"ReLU6 '_swish', ReLU6 '_blocks.1._swish' and 14 more"``."""
    kinds = {call.module: call.kind.__name__ for call in calls}
    shown = ", ".join(f"{kind} '{name}'" for name, kind in list(kinds.items())[:_SHOWN])
    return shown + (f" and {len(kinds) - _SHOWN} more" if len(kinds) > _SHOWN else "")


def _described(nodes: list[int], trace: Trace) -> str:
    """Operations in words: the module that produced each, or the operation itself."""
    producers: dict[int, Call] = {}
    for call in trace.calls:  # an inner module's hook runs before its parent's: the first is the innermost
        if call.output is not None:
            producers.setdefault(call.output, call)
    words: Counter[str] = Counter()
    for node in nodes:
        call, operation = producers.get(node), trace.operations[node]
        if call is not None:
            words[f"{call.kind.__name__} (module '{call.module}')"] += 1
        elif operation in BILINEAR_OPERATIONS:
            words[f"a product of two activations ({operation})"] += 1
        else:
            words[f"{operation} outside modules"] += 1
    shown = [f"{text}{f' ×{count}' if count > 1 else ''}" for text, count in words.most_common(_SHOWN)]
    more = len(words) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")
