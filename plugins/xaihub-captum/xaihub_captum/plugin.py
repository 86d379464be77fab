"""Entry point of the ``captum`` plugin."""

from xaihub import hookimpl
from xaihub_captum.cam import LayerGradCam
from xaihub_captum.deeplift import DeepLift, DeepLiftShap
from xaihub_captum.gradients import GradientShap, InputXGradient, IntegratedGradients, Saliency
from xaihub_captum.noise_tunnel import SmoothGrad, SmoothGradSquared, VarGrad
from xaihub_captum.occlusion import Occlusion
from xaihub_captum.rectifiers import Deconvolution, GuidedBackprop, GuidedGradCam
from xaihub_captum.superpixel_methods import FeatureAblation, KernelShap, Lime, ShapleyValueSampling

EXPLAINERS = (Saliency, InputXGradient, IntegratedGradients, GradientShap, DeepLift, DeepLiftShap, GuidedBackprop,
              Deconvolution, GuidedGradCam, LayerGradCam, Occlusion, FeatureAblation, ShapleyValueSampling, Lime,
              KernelShap, SmoothGrad, VarGrad, SmoothGradSquared)


@hookimpl
def register_explainers(register):
    for explainer in EXPLAINERS:
        register(explainer())
