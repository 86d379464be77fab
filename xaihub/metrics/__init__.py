"""Faithfulness metrics, cross-method agreement and summaries over several images.

``xaihub.explain(..., metrics=["deletion", "insertion", "degradation"])`` stores the
results in each :attr:`Explanation.metrics <xaihub.Explanation.metrics>` under these keys:

* ``"deletion"``, ``"insertion"``: AUCs in ``[0, 1]`` (see :mod:`xaihub.metrics.faithfulness`);
* ``"degradation"``: the drop of the target's probability, and ``"degradation_top1"``:
  1.0 when the top-1 class survived the degradation, 0.0 otherwise.
"""

from __future__ import annotations

from typing import Sequence

from xaihub.errors import InputError
from xaihub.explanation import Explanation
from xaihub.metrics.agreement import Agreement, agreement, spearman
from xaihub.metrics.faithfulness import blurred, deletion_auc, degradation, insertion_auc
from xaihub.metrics.summary import MetricStat, summarise
from xaihub.models import ModelAdapter

METRICS = ("deletion", "insertion", "degradation")
LOWER_IS_BETTER = frozenset({"deletion", "degradation"})

__all__ = [
    "METRICS", "LOWER_IS_BETTER", "Agreement", "MetricStat", "agreement", "blurred", "check_metrics",
    "compute", "deletion_auc", "degradation", "insertion_auc", "spearman", "summarise",
]


def check_metrics(names: Sequence[str] | str | None) -> list[str]:
    """The metric names as a de-duplicated list; an unknown name raises :class:`InputError`."""
    if names is None:
        return []
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise InputError(f"unknown metric(s) {unknown}; choose from {list(METRICS)}")
    return list(dict.fromkeys(names))


def compute(names: Sequence[str], model: ModelAdapter, explanation: Explanation, seed: int = 0) -> dict[str, float]:
    """Evaluate ``names`` for ``explanation`` (which must carry its ``image``) through ``model``.

    The adapter's forward-pass count is left as it was, so metric passes are never charged to the method.
    """
    image, attribution, target = explanation.image, explanation.attribution, explanation.target
    counted = model.forward_passes
    results: dict[str, float] = {}
    try:
        for name in names:
            if name == "deletion":
                results[name] = deletion_auc(model, image, attribution, target)
            elif name == "insertion":
                results[name] = insertion_auc(model, image, attribution, target)
            elif name == "degradation":
                drop, kept = degradation(model, image, attribution, target, seed)
                results["degradation"], results["degradation_top1"] = drop, float(kept)
    finally:
        model.forward_passes = counted
    return results
