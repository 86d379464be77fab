"""Entry point of the ``zennit`` plugin."""

from xaihub import hookimpl
from xaihub_zennit.methods import ZennitEpsilon, ZennitEpsilonGammaBox, ZennitEpsilonPlusFlat


@hookimpl
def register_explainers(register):
    register(ZennitEpsilonPlusFlat())
    register(ZennitEpsilonGammaBox())
    register(ZennitEpsilon())
