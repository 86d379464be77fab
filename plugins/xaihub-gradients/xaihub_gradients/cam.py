"""``gradients.gradcam`` and ``gradients.gradcampp``: class activation maps from gradients."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, MethodUnavailableError, Requirement
from xaihub.core.maps import resize_map
from xaihub.core.params import Boolean, String
from xaihub.models import GradientAdapter
from xaihub_gradients.backends import backend_for


class GradCam(Explainer):
    """Grad-CAM (Selvaraju et al., 2017): ``ReLU(Σ_k w_k A_k)``, ``w_k`` the mean gradient of channel ``k``.

    ``layer`` names the feature map (torch: a module name from ``named_modules()``;
    Keras: a layer name); ``None`` picks the last convolution to run (torch) or the
    last Conv2D layer (Keras), recorded in ``extras["layer"]``. The score is the raw
    output (the pre-softmax logit when the model emits logits, as Grad-CAM prescribes).
    The map is upsampled bilinearly to the image's size and not normalised. All
    targets share one forward pass. ``relu=False`` keeps the negative part of the weighted
    sum (Captum's ``LayerGradCam(relu_attributions=False)``): a map that the ReLU would
    make all zero then still ranks its pixels.
    """

    name = "gradients.gradcam"
    family = "grad_cam"
    summary = "Grad-CAM on a named or the last convolutional layer"
    requires = Requirement(GRADIENTS, ("torch", "keras"))
    defaults: dict[str, Any] = {"layer": None, "relu": True}
    constraints = {"layer": [None, String(meaning="a layer name")], "relu": Boolean()}

    def check_model(self, model: GradientAdapter, image: np.ndarray) -> None:
        super().check_model(model, image)
        if model.framework == "keras" and not _has_layer_graph(model.model):
            raise MethodUnavailableError(
                f"{self.name} reads a layer's feature map through the Keras model's graph, which a subclassed "
                "keras.Model does not have; pass a Sequential or functional model")

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                layer: str | None, relu: bool = True) -> list[Explanation]:
        feature = backend_for(model).layer_gradients(model, image, targets, layer)
        height, width = image.shape[:2]
        return [
            Explanation(
                target=target,
                attribution=resize_map(self.cam(feature.activations, gradients, relu), height, width),
                extras={"layer": feature.layer, "score": model.score_kind,
                        "feature_map": list(feature.activations.shape)},
            )
            for target, gradients in zip(targets, feature.gradients)
        ]

    @staticmethod
    def channel_weights(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        """One weight per feature channel (``K``) from the ``h×w×K`` map and its gradients."""
        return gradients.mean(axis=(0, 1))

    def cam(self, activations: np.ndarray, gradients: np.ndarray, relu: bool = True) -> np.ndarray:
        weights = self.channel_weights(activations.astype(np.float64), gradients.astype(np.float64))
        weighted = activations @ weights
        return np.maximum(weighted, 0.0) if relu else weighted


class GradCamPlusPlus(GradCam):
    """Grad-CAM++ (Chattopadhyay et al., 2018): channel weights ``Σ α·ReLU(g)``.

    ``α = g² / (2g² + Σ_ab A·g³)``, the closed form for an exponential of the score that
    needs first-order gradients only. Layer choice and score as for Grad-CAM.
    """

    name = "gradients.gradcampp"
    family = "grad_cam_pp"
    summary = "Grad-CAM++ on a named or the last convolutional layer"

    @staticmethod
    def channel_weights(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        squared = gradients**2
        denominator = 2 * squared + activations.sum(axis=(0, 1)) * gradients**3
        alpha = np.divide(squared, denominator, out=np.zeros_like(squared), where=np.abs(denominator) > 1e-12)
        return (alpha * np.maximum(gradients, 0.0)).sum(axis=(0, 1))


def _has_layer_graph(net: Any) -> bool:
    """Whether a Keras model has a graph of its layers (``Sequential`` and functional models do)."""
    try:
        return bool(net.inputs)
    except (AttributeError, ValueError):
        return False
