"""Declarative parameter constraints, in the spirit of scikit-learn's ``_parameter_constraints``.

An explainer declares what each parameter accepts once, in :attr:`xaihub.Explainer.constraints`;
the runner checks the user's parameters against them before any method runs, so a bad value is an
:class:`~xaihub.InputError` naming the method and the parameter, never an error minutes later.

>>> constraints = {"num_samples": Integer(2, 100_000), "fill": Choice("zero", "mean"),
...                "layer": [None, String()]}          # a list: any of its entries

Each constraint can also name values it must refuse (:meth:`Constraint.invalid_examples`), which
:func:`xaihub.testing.check_explainer` feeds to every explainer to prove that it refuses them.
"""

from __future__ import annotations

import math
import re
from numbers import Integral
from numbers import Real as RealNumber
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from xaihub.core.errors import InputError


class Constraint:
    """What a parameter accepts."""

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def invalid_examples(self) -> list[Any]:
        """Values this constraint refuses (used to test that explainers refuse them)."""
        return []


class Integer(Constraint):
    """An int (not a bool) in ``[low, high]``; ``None`` leaves a side open."""

    def __init__(self, low: int | None = None, high: int | None = None) -> None:
        self.low, self.high = low, high

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, Integral):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        return f"an int {_range(self.low, self.high, False, False)}".rstrip()

    def invalid_examples(self) -> list[Any]:
        examples: list[Any] = [True, "3", 2.5]
        if self.low is not None:
            examples.append(self.low - 1)
        if self.high is not None:
            examples.append(self.high + 1)
        return examples


class Real(Constraint):
    """A finite real number (int or float, not a bool) in the given range."""

    def __init__(self, low: float | None = None, high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False) -> None:
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, RealNumber) or not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (value > self.high or (self.high_open and value == self.high))

    def describe(self) -> str:
        return f"a number {_range(self.low, self.high, self.low_open, self.high_open)}".rstrip()

    def invalid_examples(self) -> list[Any]:
        examples: list[Any] = [False, "0.5", float("nan"), float("inf")]
        if self.low is not None:
            examples.append(self.low if self.low_open else self.low - 1)
        if self.high is not None:
            examples.append(self.high if self.high_open else self.high + 1)
        return examples


class Choice(Constraint):
    """One of the given values (compared with ``==``, bools never equal to ints)."""

    def __init__(self, *options: Any) -> None:
        self.options = options

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(option) and value == option for option in self.options)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)

    def invalid_examples(self) -> list[Any]:
        return ["not-an-option", 12345]


class String(Constraint):
    """A string, optionally matching ``pattern`` in full."""

    def __init__(self, pattern: str | None = None, meaning: str = "a string") -> None:
        self.pattern = re.compile(pattern) if pattern else None
        self.meaning = meaning

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value) and (self.pattern is None or bool(self.pattern.fullmatch(value)))

    def describe(self) -> str:
        return self.meaning

    def invalid_examples(self) -> list[Any]:
        return [3, ""] + (["?not matching?"] if self.pattern else [])


class Boolean(Constraint):
    def accepts(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def describe(self) -> str:
        return "True or False"

    def invalid_examples(self) -> list[Any]:
        return ["yes", 2]


class Array(Constraint):
    """An array-like of ``ndim`` dimensions whose dtype kind is in ``kinds`` (``"iu"``, ``"f"``, ...)."""

    def __init__(self, ndim: int, kinds: str = "iuf", meaning: str | None = None) -> None:
        self.ndim, self.kinds = ndim, kinds
        self.meaning = meaning or f"a {ndim}-d array"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, (str, bytes, Mapping)):
            return False
        try:
            array = np.asarray(value)
        except Exception:
            return False
        return array.ndim == self.ndim and array.dtype.kind in self.kinds and array.size > 0

    def describe(self) -> str:
        return self.meaning

    def invalid_examples(self) -> list[Any]:
        return ["array", np.zeros((2,) * (self.ndim + 1), np.int64)]


class Anything(Constraint):
    """Any value: for parameters a library validates itself (document what it takes)."""

    def __init__(self, meaning: str = "any value") -> None:
        self.meaning = meaning

    def accepts(self, value: Any) -> bool:
        return True

    def describe(self) -> str:
        return self.meaning


Spec = Constraint | None | Sequence[Constraint | None]


def as_options(spec: Spec) -> list[Constraint | None]:
    """A constraint spec as a list of alternatives (``None`` in the list accepts ``None``)."""
    return list(spec) if isinstance(spec, (list, tuple)) else [spec]


def accepts(spec: Spec, value: Any) -> bool:
    """Whether ``value`` satisfies any alternative of ``spec``."""
    return any(value is None if option is None else option.accepts(value) for option in as_options(spec))


def describe(spec: Spec) -> str:
    """What ``spec`` accepts, in words."""
    return " or ".join("None" if option is None else option.describe() for option in as_options(spec))


def invalid_examples(spec: Spec) -> list[Any]:
    """Values that every alternative of ``spec`` refuses."""
    examples = [value for option in as_options(spec) if option is not None for value in option.invalid_examples()]
    if None not in as_options(spec):
        examples.append(None)
    return [value for value in examples if not _is_accepted(spec, value)]


def check(method: str, constraints: Mapping[str, Spec], params: Mapping[str, Any],
          known: Iterable[str] | None = None) -> None:
    """Raise :class:`InputError` for the first parameter that is unknown or breaks its constraint.

    :param known: every parameter name the method takes (default: the names in ``constraints``).
    """
    names = set(constraints if known is None else known)
    unknown = sorted(set(params) - names)
    if unknown:
        raise InputError(f"{method} got unknown parameter(s) {unknown}; it accepts {sorted(names)}")
    for name, value in params.items():
        if name in constraints and not accepts(constraints[name], value):
            raise InputError(f"{method}: parameter {name!r} must be {describe(constraints[name])}, "
                             f"got {_shown(value)}")


def _is_accepted(spec: Spec, value: Any) -> bool:
    try:
        return accepts(spec, value)
    except Exception:
        return False


def _range(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if low_open else '>='} {low}"
    if low is None:
        return f"{'<' if high_open else '<='} {high}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def _shown(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


BUDGETS = {"fast": 0.25, "default": 1.0, "thorough": 4.0}
"""``budget=`` levels, as multiples of each sampling method's own default number of samples (its
:attr:`xaihub.Explainer.samples_parameter`): ``"default"`` keeps every default."""


def budget_samples(method: str, explainer: Any, budget: str | None = None, samples: int | None = None) -> dict[str, Any]:
    """The parameter a budget sets for ``explainer``: ``{samples_parameter: n}``, or ``{}`` when the method does
    not sample (it declares no :attr:`~xaihub.Explainer.samples_parameter`) or neither is given.

    ``samples=n`` gives every sampling method ``n`` of its own unit (samples, steps, noisy copies, designs,
    evaluations); ``budget`` (a key of :data:`BUDGETS`) scales each method's default, kept inside what its
    constraint accepts. The user's own value for that parameter wins over both (see the runner).

    :raises InputError: for an unknown budget, a ``samples`` that is not a positive int, or both given.
    """
    if budget is not None and samples is not None:
        raise InputError("give budget= or samples=, not both")
    if budget is not None and budget not in BUDGETS:
        raise InputError(f"budget must be one of {list(BUDGETS)}, got {budget!r}")
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, Integral) or samples < 1):
        raise InputError(f"samples must be a positive int, got {samples!r}")
    parameter = getattr(explainer, "samples_parameter", None)
    if parameter is None or (budget is None and samples is None) or budget == "default":
        return {}
    if samples is not None:
        return {parameter: int(samples)}
    reference = getattr(explainer, "defaults", {}).get(parameter)
    if isinstance(reference, bool) or not isinstance(reference, Integral):
        reference = getattr(explainer, "samples_default", None)
    if reference is None:
        raise InputError(f"{method} declares samples_parameter {parameter!r} but no number of samples to scale: "
                         "its default is not an int and it declares no samples_default")
    wanted = max(1, round(reference * BUDGETS[budget]))
    return {parameter: _clamped(getattr(explainer, "constraints", {}).get(parameter), wanted)}


def _clamped(spec: Spec, value: int) -> int:
    """``value`` moved into the range of the first :class:`Integer` of ``spec`` (unchanged without one)."""
    for option in as_options(spec) if spec is not None else []:
        if isinstance(option, Integer):
            low = option.low if option.low is not None else value
            high = option.high if option.high is not None else value
            return int(min(max(value, low), high))
    return value
