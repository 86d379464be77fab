"""Keeping a user's torch module exactly as it was while a library works on it.

:class:`ModuleState` captures every submodule's hooks and train/eval mode and every parameter's
``.grad``; it can put them back (:func:`restored`) or tell whether anything changed
(:meth:`ModuleState.changes`). Libraries such as shap call ``model.eval()`` and ``zero_grad()`` and
register hooks; none of that may outlive an explanation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator

HOOK_DICTS = (
    "_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
    "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
    "_backward_hooks", "_backward_pre_hooks",
)


@dataclass
class ModuleState:
    """Hooks and mode of every submodule, and ``.grad`` of every parameter, of one module."""

    modules: list[tuple[str, Any]]
    hooks: list[dict[str, dict]]
    modes: list[bool]
    grads: list[tuple[Any, Any]]

    @classmethod
    def capture(cls, module: Any) -> "ModuleState":
        modules = list(module.named_modules())
        return cls(
            modules=modules,
            hooks=[{name: dict(getattr(m, name)) for name in HOOK_DICTS if hasattr(m, name)} for _, m in modules],
            modes=[m.training for _, m in modules],
            grads=[(p, p.grad) for p in module.parameters()],
        )

    def restore(self) -> None:
        """Put hooks, modes and ``.grad`` back as they were."""
        for (_, submodule), saved_hooks, training in zip(self.modules, self.hooks, self.modes):
            for name, saved in saved_hooks.items():
                current = getattr(submodule, name)
                current.clear()
                current.update(saved)
            submodule.training = training
        for parameter, grad in self.grads:
            parameter.grad = grad

    def changes(self, module: Any) -> list[str]:
        """What differs in ``module`` now (submodules, hooks, modes, ``.grad``), in words; empty if nothing."""
        now = ModuleState.capture(module)
        found = []
        if [n for n, _ in now.modules] != [n for n, _ in self.modules]:
            found.append("its submodules")
        for (name, _), before, after in zip(self.modules, self.hooks, now.hooks):
            if {k: list(v) for k, v in before.items()} != {k: list(v) for k, v in after.items()}:
                found.append(f"hooks of {name or 'the model'}")
        if now.modes != self.modes:
            found.append("train/eval mode")
        if any(p is not q or g is not h for (p, g), (q, h) in zip(self.grads, now.grads)):
            found.append("parameter .grad")
        return found


@contextlib.contextmanager
def restored(module: Any) -> Iterator[None]:
    """Within the block a library may change ``module``'s hooks, modes and ``.grad``; they are put back after."""
    state = ModuleState.capture(module)
    try:
        yield
    finally:
        state.restore()
