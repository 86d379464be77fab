"""Entry point of the ``shap`` plugin."""

from xaihub import hookimpl
from xaihub_shap.gradient import ShapGradient
from xaihub_shap.kernel import SuperpixelKernelShap
from xaihub_shap.partition import PartitionShap


@hookimpl
def register_explainers(register):
    register(PartitionShap())
    register(SuperpixelKernelShap())
    register(ShapGradient())
