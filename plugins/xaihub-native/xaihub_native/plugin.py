"""Entry point of the ``native`` plugin."""

from xaihub import hookimpl
from xaihub_native.kernelshap import SuperpixelKernelShap
from xaihub_native.lime import QuickshiftLime


@hookimpl
def register_explainers(register):
    register(QuickshiftLime())
    register(SuperpixelKernelShap())
