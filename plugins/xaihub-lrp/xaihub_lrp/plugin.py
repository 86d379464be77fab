"""Entry point of the ``lrp`` plugin."""

from xaihub import hookimpl
from xaihub_lrp.epsilon import LrpEpsilon


@hookimpl
def register_explainers(register):
    register(LrpEpsilon())
