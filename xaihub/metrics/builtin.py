"""The core's metrics, registered through the ``register_metrics`` hook like any plugin's.

The plugin manager registers this module before loading entry points, so these metrics work
with no plugin installed (and whatever ``XAIHUB_PLUGINS`` says).
"""

from __future__ import annotations

from typing import Callable

from xaihub.contracts.hookspecs import hookimpl
from xaihub.contracts.metric import Metric
from xaihub.metrics.faithfulness import Degradation, Deletion, Insertion
from xaihub.metrics.regions import SymmetricRelevanceGain
from xaihub.metrics.sanity import Cascading, Randomization, SmoothRandomization


@hookimpl
def register_metrics(register: Callable[[Metric], None]) -> None:
    for metric in (SymmetricRelevanceGain(), Deletion(), Insertion(), Degradation(), Randomization(),
                   SmoothRandomization(), Cascading()):
        register(metric)
