"""A private copy of the user's torch model, made ready for captum's LRP.

captum's ``LRP`` writes ``rule`` and ``activations`` attributes and hooks onto the modules it
explains, and rules such as gamma rewrite weights; it does all that to the copy made here, so
the user's model keeps its hooks, mode, attributes and weights.
"""

from __future__ import annotations

from typing import Any, Iterator

from xaihub import ModelError

RULES = ("epsilon", "gamma")


def prepared_copy(net: Any, rule: str, epsilon: float, gamma: float) -> tuple[Any, bool]:
    """A deep copy of ``net`` in eval mode with a propagation rule on every layer.

    Every layer gets the epsilon rule with ``epsilon``; with ``rule="gamma"`` the ``Conv2d``
    layers get the gamma rule with ``gamma`` instead. A final ``nn.Softmax`` of an
    ``nn.Sequential`` is dropped, so relevance starts from the logit.

    :return: the copy, and whether a final ``Softmax`` was dropped.
    :raises ModelError: when the model cannot be copied or has a layer LRP has no rule for.
    """
    import copy

    try:
        copied = copy.deepcopy(net)
    except Exception as exc:
        raise ModelError(f"LRP runs on a copy of the model and copy.deepcopy failed: {exc}") from exc
    copied.eval()
    copied, dropped_softmax = _without_final_softmax(copied)
    _attach_rules(copied, rule, epsilon, gamma)
    return copied, dropped_softmax


def _without_final_softmax(net: Any) -> tuple[Any, bool]:
    from torch import nn

    if isinstance(net, nn.Sequential) and len(net) and isinstance(net[-1], nn.Softmax):
        return net[:-1], True
    return net, False


def _attach_rules(net: Any, rule: str, epsilon: float, gamma: float) -> None:
    from captum.attr._core.lrp import SUPPORTED_LAYERS_WITH_RULES, SUPPORTED_NON_LINEAR_LAYERS
    from captum.attr._utils.lrp_rules import EpsilonRule, GammaRule
    from torch import nn

    # captum has no rule for Flatten or Identity, yet the epsilon rule passes relevance
    # through a pure reshape unchanged.
    with_rules = (*SUPPORTED_LAYERS_WITH_RULES, nn.Flatten, nn.Identity)
    unsupported = []
    for name, layer in _leaves(net):
        if type(layer) in SUPPORTED_NON_LINEAR_LAYERS:
            continue
        if type(layer) in with_rules:
            use_gamma = rule == "gamma" and type(layer) is nn.Conv2d
            layer.rule = GammaRule(gamma) if use_gamma else EpsilonRule(epsilon)
        else:
            unsupported.append(f"{type(layer).__name__} (module {name!r})")
    if unsupported:
        known = sorted({t.__name__ for t in (*with_rules, *SUPPORTED_NON_LINEAR_LAYERS)})
        raise ModelError(
            f"LRP has no propagation rule for {', '.join(unsupported)}; it supports the layer types "
            f"{', '.join(known)}"
        )


def _leaves(module: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """The modules without children, as captum's LRP collects them, with their dotted names."""
    for name, child in module.named_children():
        path = prefix + name
        if next(child.children(), None) is None:
            yield path, child
        else:
            yield from _leaves(child, path + ".")
