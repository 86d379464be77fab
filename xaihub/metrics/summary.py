"""Metrics across several images: mean ± standard deviation per method and metric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:
    from xaihub.core.comparison import Comparison


@dataclass(frozen=True)
class MetricStat:
    """Mean and (population) standard deviation of one metric over ``count`` explanations."""

    mean: float
    std: float
    count: int

    def __str__(self) -> str:
        return f"{round(self.mean, 3) + 0.0:.3f} ± {self.std:.3f} (n={self.count})"  # + 0.0: no "-0.000"


def summarise(comparisons: Iterable["Comparison"]) -> dict[str, dict[str, MetricStat]]:
    """``{method: {metric: MetricStat}}`` over every explanation (all images, all targets) that has the metric.

    Methods keep the order in which they first appear; a method with no metric values is left out.
    """
    values: dict[str, dict[str, list[float]]] = {}
    for comparison in comparisons:
        for explanation in comparison.explanations:
            for metric, value in explanation.metrics.items():
                values.setdefault(explanation.method, {}).setdefault(metric, []).append(value)
    return {
        method: {metric: MetricStat(float(np.mean(v)), float(np.std(v)), len(v)) for metric, v in per_metric.items()}
        for method, per_metric in values.items()
    }
