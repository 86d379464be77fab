"""Entry point of the ``attention`` plugin."""

from xaihub import hookimpl
from xaihub_attention.methods import AttentionRollout, TransformerAttribution


@hookimpl
def register_explainers(register):
    register(AttentionRollout())
    register(TransformerAttribution())
