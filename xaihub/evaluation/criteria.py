"""The criteria a verdict weighs, and which metric values speak to each.

One metric never decides alone: LATEC (Klein et al., NeurIPS 2024: 17 methods × 20 metrics × 3 architectures)
finds that metrics disagree and single-metric rankings are unreliable, and recommends ranks aggregated over
criteria. A *criterion* is a question about a map; each is answered by one or more metric values:

* **faithfulness**: does the model's score follow the map (SRG, ROAD, insertion, deletion, IROF, …)?
* **randomisation**: does the map change when the model's weights are randomised (eMPRT, sMPRT, MPRT)?
* **robustness**: does the map stay put under a small input noise (max-sensitivity)?
* **localisation**: does the map point at the object, where object masks are given?
* **complexity**: how concentrated is the map (sparseness)? Shown as information, never ranked: a sparse map
  is not a better one.

Value names not listed here (curve parts such as ``srg_morf``, flags such as ``sanity.randomization.flagged``,
facts such as ``degradation_top1``) are parts of a listed value or not scores, and are not ranked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Criterion:
    """A question about a map, and the metric values that answer it (best first)."""

    name: str
    question: str
    values: tuple[str, ...]
    ranked: bool = True
    """Whether the criterion counts in the aggregated rank (complexity only informs)."""


CRITERIA: tuple[Criterion, ...] = (
    Criterion("faithfulness", "does the model's score follow the map?",
              ("srg", "quantus.road", "insertion", "deletion", "quantus.irof", "quantus.region_perturbation",
               "quantus.pixel_flipping", "quantus.faithfulness_correlation", "degradation")),
    Criterion("randomisation", "does the map change when the model's weights are randomised?",
              ("sanity.randomization.emprt", "sanity.smooth_randomization.spearman", "sanity.cascading.auc",
               "sanity.randomization.spearman", "quantus.random_logit")),
    Criterion("robustness", "does the map stay put under a small input noise?",
              ("quantus.max_sensitivity", "quantus.avg_sensitivity")),
    Criterion("localisation", "does the map point at the object?",
              ("pointing_game", "relevance_mass", "quantus.pointing_game", "quantus.relevance_mass_accuracy")),
    Criterion("complexity", "how concentrated is the map? (information, not ranked)",
              ("quantus.sparseness", "quantus.complexity"), ranked=False),
)
"""Every criterion, in the order a verdict shows them."""

BY_NAME = {criterion.name: criterion for criterion in CRITERIA}


def criterion_of(value: str) -> str | None:
    """The criterion a metric value speaks to, or ``None`` for a value that is not a score to rank by."""
    return next((c.name for c in CRITERIA if value in c.values), None)


def criterion_of_metric(metric: str) -> str | None:
    """The criterion a metric (a name in ``metrics=[...]``, e.g. ``"sanity.randomization"``, whose values are
    ``"sanity.randomization.emprt"``, ...) speaks to, or ``None`` when none of its values is ranked by one."""
    return criterion_of(metric) or next((c.name for c in CRITERIA for v in c.values if v.startswith(metric + ".")),
                                        None)


def present(values: Iterable[str]) -> dict[str, list[str]]:
    """``{criterion: [value names]}`` for the criteria that the metric ``values`` of a run answer, in the
    order of :data:`CRITERIA` and of each criterion's values."""
    have = set(values)
    found = {c.name: [v for v in c.values if v in have] for c in CRITERIA}
    return {name: names for name, names in found.items() if names}
