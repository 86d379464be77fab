"""A private copy of a torch model in which a module used several times per forward pass becomes one
module per use. Imports torch.

Libraries that explain by module hooks (shap's DeepExplainer, captum's DeepLift and LRP) keep one
input per module, so a module called twice in one forward pass — EfficientNet's blocks call their
activation twice — gets the wrong input for one of the calls. In the copy, each such module is
replaced by :class:`PerUse`, which hands its k-th call of a forward pass to its own k-th copy.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import torch


class PerUse(torch.nn.Module):
    """Call ``k`` of a forward pass goes to ``uses[k]``, a copy of the shared module."""

    def __init__(self, shared: torch.nn.Module, times: int) -> None:
        super().__init__()
        self.uses = torch.nn.ModuleList(copy.deepcopy(shared) for _ in range(times))
        self.calls = 0

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        module = self.uses[self.calls % len(self.uses)]
        self.calls += 1
        return module(*args, **kwargs)


def uses_per_pass(net: torch.nn.Module, run: Callable[[], Any]) -> dict[str, int]:
    """How often each leaf module of ``net`` runs during ``run()`` (one forward pass), by name."""
    counts: dict[str, int] = {}
    handles = []
    for name, module in net.named_modules():
        if next(module.children(), None) is None:
            handles.append(module.register_forward_hook(
                lambda m, args, out, name=name: counts.__setitem__(name, counts.get(name, 0) + 1)))
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return counts


def unshared(net: torch.nn.Module, counts: dict[str, int]) -> torch.nn.Module:
    """``net`` (a private copy: it is modified) with every module run more than once per pass, by
    ``counts`` from :func:`uses_per_pass`, replaced by a :class:`PerUse`."""
    modules = dict(net.named_modules())
    wrappers = {}
    for name, times in counts.items():
        if times > 1:
            wrappers[id(modules[name])] = PerUse(modules[name], times)
    if not wrappers:
        return net
    for parent in list(net.modules()):
        for child_name, child in list(parent.named_children()):
            if id(child) in wrappers:
                parent._modules[child_name] = wrappers[id(child)]

    def new_pass(module: torch.nn.Module, args: Any) -> None:
        for wrapper in wrappers.values():
            wrapper.calls = 0

    net.register_forward_pre_hook(new_pass)
    return net
