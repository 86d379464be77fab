"""Entry point of the ``omnixai`` plugin."""

from xaihub import hookimpl
from xaihub_omnixai.methods import ALL


@hookimpl
def register_explainers(register):
    for method in ALL:
        register(method())
