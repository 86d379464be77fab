"""Entry point of the ``xplique`` plugin."""

from xaihub import hookimpl
from xaihub_xplique.cams import XpliqueGradCam, XpliqueGradCamPlusPlus
from xaihub_xplique.gradients import (
    XpliqueDeconvNet,
    XpliqueGradientInput,
    XpliqueGuidedBackprop,
    XpliqueIntegratedGradients,
    XpliqueSaliency,
    XpliqueSmoothGrad,
    XpliqueSquareGrad,
    XpliqueVarGrad,
)
from xaihub_xplique.perturbations import XpliqueHsic, XpliqueOcclusion, XpliqueRise, XpliqueSobol
from xaihub_xplique.surrogates import XpliqueKernelShap, XpliqueLime

ALL = (XpliqueSaliency, XpliqueGradientInput, XpliqueIntegratedGradients, XpliqueSmoothGrad, XpliqueVarGrad,
       XpliqueSquareGrad, XpliqueGuidedBackprop, XpliqueDeconvNet, XpliqueGradCam, XpliqueGradCamPlusPlus,
       XpliqueOcclusion, XpliqueRise, XpliqueLime, XpliqueKernelShap, XpliqueSobol, XpliqueHsic)


@hookimpl
def register_explainers(register):
    for method in ALL:
        register(method())
