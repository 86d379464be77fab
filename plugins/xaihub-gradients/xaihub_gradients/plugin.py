"""Entry point of the ``gradients`` plugin."""

from xaihub import hookimpl
from xaihub_gradients.cam import AblationCam, EigenCam, GradCam, GradCamPlusPlus, HiResCam, XGradCam
from xaihub_gradients.integrated import IntegratedGradients
from xaihub_gradients.saliency import Saliency


@hookimpl
def register_explainers(register):
    for explainer in (Saliency(), IntegratedGradients(), GradCam(), GradCamPlusPlus(), HiResCam(), XGradCam(),
                      EigenCam(), AblationCam()):
        register(explainer)
