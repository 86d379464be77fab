"""The reports' words: metric names for people, legends, and HTML escaping."""

from __future__ import annotations

import html
from typing import Iterable

from xaihub.evaluation.ranking import lower_is_better

_METRIC_NAMES = {"srg": "SRG", "srg_morf": "MoRF AUC", "srg_lerf": "LeRF AUC",
                 "deletion": "deletion AUC", "insertion": "insertion AUC", "degradation": "degradation drop",
                 "degradation_top1": "top-1 kept"}

MAP_LEGEND = ("Maps: green supports the target class, pink speaks against it; each map is scaled to its own "
              "range (99th percentile of |attribution| = full colour), since methods' units differ.")
_DEFINITIONS = {
    "srg": ("SRG (symmetric relevance gain, Blücher et al. 2024): LeRF AUC − MoRF AUC, where MoRF AUC is the "
            "probability left as 16 px patches are replaced by a blurred copy, most relevant first, and LeRF AUC the "
            "same, least relevant first (↑ better; a map that knows nothing scores about 0)."),
    "deletion": "Deletion AUC: probability left as the most important pixels are blacked out (↓ better).",
    "insertion": "Insertion AUC: probability as they are pasted onto a blurred copy (↑ better).",
    "degradation": ("Degradation drop: probability lost when only the top 20% pixels are kept and the rest is "
                    "salt-and-pepper noise (↓ better); top-1 kept: whether the predicted class survived."),
}
"""The core metrics' definitions, by the metric that produces the value (``srg_morf`` is part of ``srg``)."""
_PARTS = {"srg_morf": "srg", "srg_lerf": "srg", "degradation_top1": "degradation"}


def metric_legend(values: Iterable[str]) -> str:
    """Sentences defining the metrics whose values (``"deletion"``, ``"sanity.randomization.flagged"``, ...) are
    among ``values``, and only those; another registered metric is defined by its one-line summary; ``""`` for
    none."""
    from xaihub.registry.plugins import metric_of_value

    sentences: dict[str, str] = {}
    for value in values:
        metric = _PARTS.get(value, value)
        if metric in _DEFINITIONS:
            sentences.setdefault(metric, _DEFINITIONS[metric])
            continue
        registered = metric_of_value(value)
        if registered is not None and registered.metric.summary:
            name = registered.metric.name
            sentences.setdefault(name, f"{name}: {registered.metric.summary}.")
    return " ".join(sentences.values())


COST_LEGEND = ("Costs are what each method would cost run alone: its own time and forward passes plus those of "
               "shared work (superpixels, perturbations) that it reused from another method of the same call, "
               "so they do not depend on the order of the methods.")


def metric_name(metric: str) -> str:
    """A metric's name for people (``"deletion AUC"``)."""
    return _METRIC_NAMES.get(metric, metric)


def metric_heading(metric: str) -> str:
    """A metric's name for people, with ↓ or ↑ for which direction is better."""
    return metric_name(metric) + _direction(metric)


def _direction(metric: str) -> str:
    lower = lower_is_better(metric)
    return "" if lower is None else " ↓" if lower else " ↑"


def e(text: object) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)
