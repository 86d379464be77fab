"""Entry point of the ``baseline`` plugin."""

from xaihub import hookimpl
from xaihub_baseline.maps import CentredPrior, EdgeMap, SeededNoise


@hookimpl
def register_explainers(register):
    register(SeededNoise())
    register(CentredPrior())
    register(EdgeMap())
