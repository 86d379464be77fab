"""Entry point of the ``baseline`` plugin."""

from xaihub import hookimpl
from xaihub_baseline.maps import CentredPrior, SeededNoise


@hookimpl
def register_explainers(register):
    register(SeededNoise())
    register(CentredPrior())
