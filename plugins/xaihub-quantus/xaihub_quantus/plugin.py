"""Entry point of the ``quantus`` plugin."""

from xaihub import hookimpl
from xaihub_quantus.metrics import METRICS


@hookimpl
def register_metrics(register):
    for metric in METRICS:
        register(metric())
