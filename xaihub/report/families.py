"""Methods grouped by family (what they compute), and whether a family's implementations agree.

A family is :attr:`Explainer.family <xaihub.Explainer.family>` of the registered method; a method that
has none, or is no longer registered, goes to :data:`OTHER`. Baselines (family ``"baseline"``) are
references, shown last.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    from xaihub.core.agreement import Agreement
    from xaihub.core.comparison import Comparison

OTHER = "other"
BASELINE = "baseline"
DISAGREEMENT = 0.8
"""A family whose implementations' mean Spearman correlation is below this is flagged."""


def family_of(method: str) -> str:
    """The family of a registered method, or :data:`OTHER`."""
    from xaihub.core.errors import XaihubError
    from xaihub.registry.plugins import get_method

    try:
        return get_method(method).explainer.family or OTHER
    except XaihubError:
        return OTHER


def family_title(family: str) -> str:
    """A family's description for people (from :data:`xaihub.contracts.explainer.FAMILIES`), else its name."""
    from xaihub.contracts.explainer import FAMILIES

    if family == OTHER:
        return "other methods (no family declared)"
    return FAMILIES.get(family, family)


def baselines(methods: Sequence[str]) -> list[str]:
    """The reference methods (family ``"baseline"``) among ``methods``."""
    return [m for m in methods if family_of(m) == BASELINE]


def by_family(methods: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``[(family, methods)]`` in order of first appearance, :data:`OTHER` and then baselines last."""
    groups: dict[str, list[str]] = {}
    for method in methods:
        groups.setdefault(family_of(method), []).append(method)
    rank = {OTHER: 1, BASELINE: 2}
    return sorted(groups.items(), key=lambda item: rank.get(item[0], 0))


def library_of(method: str) -> str:
    """The namespace of a method name (``"lime"`` for ``"lime.image"``): which plugin implements it."""
    return method.split(".", 1)[0]


@dataclass(frozen=True)
class FamilyAgreement:
    """How far implementations of one family from different libraries agree on one image."""

    family: str
    methods: list[str]
    mean: float
    """Mean Spearman correlation of the maps over every pair of implementations and every shared target;
    ``NaN`` when no pair could be compared (a constant map)."""
    lowest: tuple[str, str, float] | None
    """The pair that agrees least, with its mean correlation."""
    differing: dict[str, dict[str, Any]]
    """``{parameter: {method: value}}`` for every parameter whose value differs between the implementations
    (missing where an implementation does not have it)."""

    @property
    def disagrees(self) -> bool:
        return not math.isnan(self.mean) and self.mean < DISAGREEMENT


def family_agreement(comparison: "Comparison", agreement: "Agreement") -> list[FamilyAgreement]:
    """Every family with explanations from at least two libraries, in family order, read from the
    comparison's ``agreement`` matrix (:meth:`Comparison.agreement <xaihub.Comparison.agreement>`)."""
    index = {m: i for i, m in enumerate(agreement.methods)}
    found = []
    for family, methods in by_family([m for m in comparison.methods if m in index]):
        if family in (OTHER, BASELINE) or len({library_of(m) for m in methods}) < 2:
            continue
        pairs = {(a, b): float(agreement.matrix[index[a], index[b]]) for a, b in itertools.combinations(methods, 2)}
        pairs = {pair: value for pair, value in pairs.items() if not math.isnan(value)}
        lowest = min(pairs.items(), key=lambda item: item[1], default=None)
        found.append(FamilyAgreement(
            family, methods, float(np.mean(list(pairs.values()))) if pairs else math.nan,
            (*lowest[0], lowest[1]) if lowest else None,
            differing_parameters({m: comparison.by_method(m)[0].params for m in methods})))
    return found


def differing_parameters(params: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The parameters whose values are not the same for every method (a missing one counts as different)."""
    names = list(dict.fromkeys(name for p in params.values() for name in p))
    differing = {}
    for name in names:
        values = {method: p[name] for method, p in params.items() if name in p}
        shown = {json.dumps(v, sort_keys=True, default=str) for v in values.values()}
        if len(values) < len(params) or len(shown) > 1:
            differing[name] = values
    return differing
