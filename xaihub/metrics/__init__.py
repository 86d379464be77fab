"""Metrics of explanations, cross-method agreement and summaries over several images.

Every metric is a :class:`~xaihub.Metric` plugin, offered through the ``register_metrics`` hook
(``xaihub list`` shows them). ``xaihub.explain(..., metrics=[...])`` runs them and stores their
values in each :attr:`Explanation.metrics <xaihub.Explanation.metrics>`. The core's own:

* ``"deletion"``, ``"insertion"``: AUCs in ``[0, 1]`` (see :mod:`xaihub.metrics.faithfulness`);
* ``"degradation"``: the drop of the target's probability, and ``"degradation_top1"``:
  1.0 when the top-1 class survived the degradation, 0.0 otherwise;
* ``"sanity.randomization"``: the model-parameter randomisation test (see :mod:`xaihub.metrics.sanity`).

:func:`lower_is_better` tells for any value name which direction is better.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from typing import Any, Mapping, Sequence

from xaihub.explanation import Explanation
from xaihub.metrics.agreement import Agreement, agreement, spearman
from xaihub.metrics.faithfulness import blurred, degradation, deletion_auc, insertion_auc
from xaihub.metrics.measure import MetricRequests, MetricResult, check_metrics, check_model, measure
from xaihub.metrics.summary import MetricStat, summarise
from xaihub.models import ModelAdapter
from xaihub.plugins import list_metrics, metric_of_value

METRICS = ("deletion", "insertion", "degradation")
"""The core's faithfulness metrics; :func:`xaihub.plugins.list_metrics` has every registered one."""


class _LowerIsBetterValues(Set):
    """The registered metric values where lower is better, read from the registry at each use."""

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and lower_is_better(value) is True

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(value for registered in list_metrics()
                           for value, lower in registered.metric.lower_is_better.items() if lower))

    def __len__(self) -> int:
        return sum(1 for _ in self)


LOWER_IS_BETTER: Set[str] = _LowerIsBetterValues()
"""Every registered metric value where lower is better (a set kept for older callers; prefer
:func:`lower_is_better`, which also tells values that have no direction)."""

__all__ = [
    "METRICS", "LOWER_IS_BETTER", "Agreement", "MetricRequests", "MetricResult", "MetricStat", "agreement",
    "blurred", "check_metrics", "check_model", "compute", "deletion_auc", "degradation", "insertion_auc",
    "lower_is_better", "measure", "spearman", "summarise",
]


def lower_is_better(value: str) -> bool | None:
    """``True`` when lower is better for the metric value named ``value`` (``"deletion"``,
    ``"quantus.road"``, ...), ``False`` when higher is, ``None`` when it has no direction or no
    registered metric produces it."""
    registered = metric_of_value(value)
    return None if registered is None else registered.metric.lower_is_better[value]


def compute(metrics: Sequence[str] | Mapping[str, Mapping[str, Any] | None] | str, model: ModelAdapter,
            explanation: Explanation, seed: int = 0) -> dict[str, float]:
    """The values of ``metrics`` (names, or ``{name: params}``) for ``explanation``, which must carry its
    ``image``, through ``model``; the first metric that fails raises.

    For scoring an explanation outside :func:`xaihub.explain`, e.g. one loaded from disk. The
    adapter's forward-pass count is left as it was.
    """
    values: dict[str, float] = {}
    for result in measure(check_metrics(metrics), model, explanation, seed):
        if result.error is not None:
            raise result.error
        values.update(result.values)
    return values
