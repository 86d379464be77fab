"""A private copy of the user's torch model, made ready for captum's LRP, and which layers LRP supports.

captum's ``LRP`` writes ``rule`` and ``activations`` attributes and hooks onto the modules it
explains, and rules such as gamma rewrite weights; it does all that to the copy made here, so
the user's model keeps its hooks, mode, attributes and weights.

Beyond captum's own table, the copy gets rules for the layers published models are made of:

- linear pass-through layers (padding, ``Identity``, ``Flatten``) and ``AdaptiveMaxPool2d`` take the
  epsilon rule, which passes relevance through a re-indexing unchanged (and picks the maximum, as
  captum does for ``MaxPool2d``);
- element-wise activations (``ReLU6``, ``SiLU``, ``GELU``, ``Hardswish``, ...) pass relevance through
  unchanged, as captum treats ``ReLU``: in the copy each becomes a
  :class:`~xaihub_lrp.straight_through.StraightThrough` (its value, an identity gradient), which stays
  right when activations are chained or called several times in one forward pass;
- a subclass of a supported layer that owns parameter-free helper modules (a "same"-padding
  ``Conv2d`` with its own ``ZeroPad2d``) is explained as one layer.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

from xaihub import MethodUnavailableError, ModelError

RULES = ("epsilon", "gamma")
_PASS_THROUGH = ("ZeroPad2d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d", "Identity", "Flatten",
                 "Unflatten", "AdaptiveMaxPool2d")
_ELEMENT_WISE = ("ReLU6", "SiLU", "GELU", "Hardswish", "Hardsigmoid", "LeakyReLU", "ELU", "Sigmoid", "Softplus",
                 "Mish", "Dropout2d", "Dropout1d", "AlphaDropout", "Hardtanh")
_captum_table = threading.Lock()


def prepared_copy(net: Any, rule: str, epsilon: float, gamma: float) -> Any:
    """A deep copy of ``net`` in eval mode with a propagation rule on every layer.

    Every layer gets the epsilon rule with ``epsilon``; with ``rule="gamma"`` the ``Conv2d``
    layers get the gamma rule with ``gamma`` instead.

    :raises ModelError: when the model cannot be copied.
    """
    import copy

    from captum.attr._utils.lrp_rules import EpsilonRule, GammaRule
    from torch import nn

    try:
        copied = copy.deepcopy(net)
    except Exception as exc:
        raise ModelError(f"LRP runs on a copy of the model and copy.deepcopy failed: {exc}") from exc
    copied.eval()
    _merge_helpers(copied)
    _straight_through_activations(copied)
    for _, layer in _leaves(copied):
        if _kind(layer) == "rule":
            layer.rule = GammaRule(gamma) if rule == "gamma" and isinstance(layer, nn.Conv2d) else EpsilonRule(epsilon)
    return copied


def check_supported(net: Any) -> None:
    """Raise :class:`MethodUnavailableError` naming every layer LRP has no rule for (no copy made)."""
    unsupported = [f"{type(layer).__name__} (module {name!r})" for name, layer in _leaves(net, merged=True)
                   if _kind(layer) is None]
    if unsupported:
        raise MethodUnavailableError(
            f"LRP has no propagation rule for {', '.join(unsupported[:5])}"
            f"{f' and {len(unsupported) - 5} more' if len(unsupported) > 5 else ''}; it supports the layer "
            f"types {', '.join(sorted(_supported_names()))}")


@contextlib.contextmanager
def element_wise_pass_through() -> Iterator[None]:
    """While active, captum's LRP accepts :class:`StraightThrough` leaves as it accepts ``ReLU`` (its
    table of such layers is a module-level list; it is put back after)."""
    from captum.attr._core import lrp

    from xaihub_lrp.straight_through import StraightThrough

    with _captum_table:
        table = lrp.SUPPORTED_NON_LINEAR_LAYERS
        saved = list(table)
        table.append(StraightThrough)
        try:
            yield
        finally:
            table[:] = saved


def _straight_through_activations(net: Any) -> None:
    """Replace every element-wise activation (each instance once, wherever it is used) by a
    :class:`StraightThrough` of it."""
    from xaihub_lrp.straight_through import StraightThrough

    wrapped: dict[int, Any] = {}
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if type(child).__name__ in _ELEMENT_WISE:
                parent._modules[name] = wrapped.setdefault(id(child), StraightThrough(child))


def _kind(layer: Any) -> str | None:
    """``"rule"`` (gets a propagation rule), ``"element-wise"`` (relevance passes through) or ``None``."""
    from captum.attr._core.lrp import SUPPORTED_LAYERS_WITH_RULES, SUPPORTED_NON_LINEAR_LAYERS

    kind = type(layer)
    if kind in SUPPORTED_NON_LINEAR_LAYERS or kind.__name__ in _ELEMENT_WISE:
        return "element-wise"
    if kind.__name__ in _PASS_THROUGH or isinstance(layer, tuple(SUPPORTED_LAYERS_WITH_RULES)):
        return "rule"
    return None


def _supported_names() -> set[str]:
    from captum.attr._core.lrp import SUPPORTED_LAYERS_WITH_RULES, SUPPORTED_NON_LINEAR_LAYERS

    return {t.__name__ for t in (*SUPPORTED_LAYERS_WITH_RULES, *SUPPORTED_NON_LINEAR_LAYERS)} | set(_PASS_THROUGH) \
        | set(_ELEMENT_WISE)


def _is_helper_owner(module: Any) -> bool:
    """A supported layer type with parameter-free children (e.g. a "same"-padding convolution)."""
    from captum.attr._core.lrp import SUPPORTED_LAYERS_WITH_RULES

    children = list(module.children())
    return bool(children) and isinstance(module, tuple(SUPPORTED_LAYERS_WITH_RULES)) and \
        not any(p for child in children for p in child.parameters())


def _merge_helpers(net: Any) -> None:
    """Turn each helper owner into a leaf: its helpers stay attributes its forward can call, but are
    no longer submodules that captum would explain on their own."""
    for module in list(net.modules()):
        if _is_helper_owner(module):
            helpers = dict(module._modules)
            module._modules.clear()
            for name, helper in helpers.items():
                object.__setattr__(module, name, helper)


def _leaves(module: Any, prefix: str = "", merged: bool = False) -> Iterator[tuple[str, Any]]:
    """The modules captum's LRP explains (those without children), with their dotted names;
    ``merged`` reports helper owners as leaves, as :func:`prepared_copy` will make them."""
    for name, child in module.named_children():
        path = prefix + name
        if next(child.children(), None) is None or (merged and _is_helper_owner(child)):
            yield path, child
        else:
            yield from _leaves(child, path + ".", merged)
