"""Entry point of the ``lime`` plugin."""

from xaihub import hookimpl
from xaihub_lime.image import LimeImage


@hookimpl
def register_explainers(register):
    register(LimeImage())
