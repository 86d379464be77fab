"""Keeping a user's torch module exactly as it was while a library works on it."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

HOOK_DICTS = (
    "_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
    "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
    "_backward_hooks", "_backward_pre_hooks",
)


@contextlib.contextmanager
def module_restored(module: Any) -> Iterator[None]:
    """Put every submodule's hooks and train/eval mode, and every parameter's ``.grad``, back on exit.

    shap's torch explainers call ``model.eval()`` and ``model.zero_grad()``, and some register
    hooks; none of that may outlive the explanation.
    """
    submodules = list(module.modules())
    hooks = [{name: dict(getattr(m, name)) for name in HOOK_DICTS if hasattr(m, name)} for m in submodules]
    modes = [m.training for m in submodules]
    grads = [(p, p.grad) for p in module.parameters()]
    try:
        yield
    finally:
        for submodule, saved_hooks, training in zip(submodules, hooks, modes):
            for name, saved in saved_hooks.items():
                current = getattr(submodule, name)
                current.clear()
                current.update(saved)
            submodule.training = training
        for parameter, grad in grads:
            parameter.grad = grad
