"""The core's metrics of explanations, and summaries of metric values over several images.

Every metric is a :class:`~xaihub.Metric` plugin, offered through the ``register_metrics`` hook
(``xaihub list`` shows them). ``xaihub.explain(..., metrics=[...])`` runs them and stores their
values in each :attr:`Explanation.metrics <xaihub.Explanation.metrics>`. The core's own, registered by
:mod:`xaihub.metrics.builtin`:

* ``"srg"``: region flipping both ways, AUC(LeRF) − AUC(MoRF), with ``"srg_morf"`` and ``"srg_lerf"``
  (see :mod:`xaihub.metrics.regions`); the default faithfulness metric, since maps that know nothing
  about the model score about 0 on it;
* ``"deletion"``, ``"insertion"``: pixel-flipping AUCs in ``[0, 1]`` (see :mod:`xaihub.metrics.faithfulness`);
* ``"degradation"``: the drop of the target's probability, and ``"degradation_top1"``:
  1.0 when the top-1 class survived the degradation, 0.0 otherwise;
* ``"sanity.randomization"`` (MPRT and eMPRT from one rerun), ``"sanity.smooth_randomization"`` (sMPRT) and
  ``"sanity.cascading"`` (Adebayo's layer-by-layer curve): randomisation checks (see :mod:`xaihub.metrics.sanity`);
* ``"pointing_game"`` (with a tolerance) and ``"relevance_mass"``: does the map fall on the object given as a
  ``mask`` (see :mod:`xaihub.metrics.localisation`).

Every metric also takes ``reading`` (``"auto"``, ``"signed"``, ``"magnitude"``): how it reads the map
(:data:`xaihub.run.measure.READING`).

:func:`xaihub.lower_is_better` tells for any value name which direction is better;
:func:`xaihub.run.measure.compute` scores an explanation outside :func:`xaihub.explain`.
"""

from __future__ import annotations

from xaihub.core.agreement import Agreement, agreement, spearman
from xaihub.metrics.faithfulness import blurred, degradation, deletion_auc, insertion_auc
from xaihub.metrics.regions import region_curves, srg
from xaihub.metrics.summary import MetricStat, summarise

METRICS = ("srg", "deletion", "insertion", "degradation")
"""The core's faithfulness metrics, in order of preference; :func:`xaihub.list_metrics` has every registered one."""

__all__ = [
    "METRICS", "Agreement", "MetricStat", "agreement", "blurred", "deletion_auc", "degradation", "insertion_auc",
    "region_curves", "spearman", "srg", "summarise",
]
