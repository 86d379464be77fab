"""`describe`: what one method takes and costs, in words: its parameters with their defaults and constraints,
its family, plugin and libraries, what it needs from the model, the parameter a sample budget sets, and its
forward passes where it declares them (``xaihub describe METHOD`` prints it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xaihub.contracts.explainer import FAMILIES, installed_version
from xaihub.core.params import BUDGETS, budget_samples
from xaihub.core.params import describe as describe_constraint
from xaihub.registry.plugins import get_method


@dataclass(frozen=True)
class Parameter:
    """One parameter of a method: its default and what it accepts."""

    name: str
    default: Any
    accepts: str
    """The constraint in words (empty when the method declares none)."""


@dataclass(frozen=True)
class MethodDescription:
    """What :func:`describe` finds about one method; ``str()`` gives the text ``xaihub describe`` prints."""

    name: str
    summary: str
    family: str | None
    plugin: str
    libraries: dict[str, str | None]
    """Each library the method uses and its installed version (``None``: not installed)."""
    requires: str
    parameters: list[Parameter]
    samples_parameter: str | None
    budgets: dict[str, Any] = field(default_factory=dict)
    """What ``budget="fast" | "default" | "thorough"`` sets :attr:`samples_parameter` to."""
    forward_passes: str = ""
    """The model evaluations of one call, as the method declares them, or how they scale."""

    def __str__(self) -> str:
        family = f"{self.family} ({FAMILIES[self.family]})" if self.family in FAMILIES else str(self.family)
        libraries = ", ".join(f"{lib} {version or '(not installed)'}" for lib, version in self.libraries.items())
        lines = [f"{self.name}: {self.summary}" if self.summary else self.name,
                 f"  family:         {family}",
                 f"  plugin:         {self.plugin}",
                 f"  libraries:      {libraries or 'none beyond xaihub'}",
                 f"  needs:          {self.requires}"]
        if self.samples_parameter:
            levels = ", ".join(f"{level} {value!r}" for level, value in self.budgets.items())
            lines.append(f"  samples:        {self.samples_parameter} (budget=: {levels}; samples=N sets it to N)")
        else:
            lines.append("  samples:        none (budget= and samples= leave it as it is)")
        lines.append(f"  forward passes: {self.forward_passes}")
        if not self.parameters:
            lines.append("  parameters:     none")
        else:
            lines.append("  parameters (name = default: accepts):")
            lines += [f"    {p.name} = {p.default!r}" + (f": {p.accepts}" if p.accepts else "") for p in self.parameters]
        return "\n".join(lines)

    __repr__ = __str__


def describe(name: str) -> MethodDescription:
    """What method ``name`` (``xaihub list``) takes and costs: ``print(xaihub.describe("native.lime"))``.

    :raises UnknownMethodError: for a name no plugin registered (listing the registered ones).
    """
    registered = get_method(name)
    explainer = registered.explainer
    constraints = dict(explainer.constraints)
    parameters = [Parameter(key, value, describe_constraint(constraints[key]) if key in constraints else "")
                  for key, value in explainer.defaults.items()]
    parameter = explainer.samples_parameter
    budgets: dict[str, Any] = {}
    if parameter is not None:
        for level in BUDGETS:
            budgets[level] = budget_samples(name, explainer, level).get(parameter, explainer.defaults.get(parameter))
    return MethodDescription(
        name=name, summary=explainer.summary, family=explainer.family, plugin=registered.plugin,
        libraries={lib: installed_version(lib) for lib in explainer.libraries},
        requires=explainer.requires.describe(), parameters=parameters, samples_parameter=parameter,
        budgets=budgets, forward_passes=_forward_passes(explainer))


def _forward_passes(explainer: Any) -> str:
    """The method's own estimate for its defaults and one target (:meth:`~xaihub.Explainer.expected_forward_passes`),
    else how they scale."""
    estimate = explainer.expected_forward_passes(dict(explainer.defaults), 1)
    if estimate is not None:
        return f"{estimate} per image for one target, with the defaults"
    if explainer.samples_parameter is not None:
        return f"not declared; they grow with {explainer.samples_parameter}"
    return "not declared"
