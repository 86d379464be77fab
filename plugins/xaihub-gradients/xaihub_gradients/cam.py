"""``gradients.gradcam`` and ``gradients.gradcampp``: class activation maps from gradients."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, MethodUnavailableError, Requirement
from xaihub.core.maps import resize_map
from xaihub.core.params import Boolean, String
from xaihub.models import GradientAdapter
from xaihub.models.token_layout import LayerObject, Reshape
from xaihub_gradients.backends import backend_for
from xaihub_gradients.layer_gradients import LayerGradients


class GradCam(Explainer):
    """Grad-CAM (Selvaraju et al., 2017): ``ReLU(Σ_k w_k A_k)``, ``w_k`` the mean gradient of channel ``k``.

    ``layer`` names the feature map (torch: a module name from ``named_modules()``;
    Keras: a layer name; or the layer object); ``None`` picks the last convolution to run (torch) or the
    last Conv2D layer (Keras), and on a vision transformer the first norm of its last block with its
    tokens reshaped to the patch grid (torch: :mod:`xaihub.models.token_grid`, Keras:
    :mod:`xaihub.models.keras_tokens`; ``reshape``: a callable ``tokens → N×C×h×w``, on Keras
    ``N×h×w×C``, instead), recorded in ``extras["layer"]``. The score is the raw
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
    defaults: dict[str, Any] = {"layer": None, "reshape": None, "relu": True}
    constraints = {"layer": [None, String(meaning="a layer name"), LayerObject()], "reshape": [None, Reshape()],
                   "relu": Boolean()}

    def expected_forward_passes(self, params, targets):
        """One forward and backward for every target together (and a probe on torch): at most 2."""
        return 2

    def check_model(self, model: GradientAdapter, image: np.ndarray) -> None:
        super().check_model(model, image)
        if model.framework == "keras" and not _has_layer_graph(model.model):
            raise MethodUnavailableError(
                f"{self.name} reads a layer's feature map through the Keras model's graph, which a subclassed "
                "keras.Model does not have; pass a Sequential or functional model")

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                layer: Any, reshape: Any, relu: bool = True) -> list[Explanation]:
        feature = backend_for(model).layer_gradients(model, image, targets, layer, reshape)
        return self.explanations(feature, image, targets, model.score_kind, relu)

    def explanations(self, feature: LayerGradients, image: np.ndarray, targets: Sequence[int],
                     score: str, relu: bool = True) -> list[Explanation]:
        height, width = image.shape[:2]
        return [
            Explanation(
                target=target,
                attribution=resize_map(self.cam(feature.activations, gradients, relu), height, width),
                extras={"layer": feature.layer, "score": score, "feature_map": list(feature.activations.shape)},
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


class HiResCam(GradCam):
    """HiResCAM (Draelos & Carin, 2020): ``ReLU(Σ_k A_k ⊙ ∂y/∂A_k)``, the gradient times the feature map
    at each position before summing over channels (Grad-CAM averages the gradient first). For a model
    whose head is a global average pool and a linear layer the two agree up to a constant; elsewhere
    HiResCAM's map is what the score locally depends on. Layer choice and score as for Grad-CAM."""

    name = "gradients.hirescam"
    family = "hires_cam"
    summary = "HiResCAM on a named or the last convolutional layer"

    def cam(self, activations: np.ndarray, gradients: np.ndarray, relu: bool = True) -> np.ndarray:
        weighted = (activations.astype(np.float64) * gradients.astype(np.float64)).sum(axis=-1)
        return np.maximum(weighted, 0.0) if relu else weighted


class XGradCam(GradCam):
    """XGrad-CAM (Fu et al., 2020): channel weights ``Σ_ab (A_k,ab / Σ_ab A_k,ab) · ∂y/∂A_k,ab``, the
    gradient averaged with the activations as weights (zero for a channel that sums to zero). Layer choice
    and score as for Grad-CAM."""

    name = "gradients.xgradcam"
    family = "xgrad_cam"
    summary = "XGrad-CAM on a named or the last convolutional layer"

    @staticmethod
    def channel_weights(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        totals = activations.sum(axis=(0, 1))
        shares = np.divide(activations, totals, out=np.zeros_like(activations), where=np.abs(totals) > 1e-12)
        return (shares * gradients).sum(axis=(0, 1))


class EigenCam(GradCam):
    """Eigen-CAM (Muhammad & Yeasin, 2020): the feature map projected on its first principal component.

    The ``h·w × K`` activations are centred per channel and ``ReLU(A v₁)`` taken, ``v₁`` the first right
    singular vector, its sign chosen so that the projection correlates positively with the channel sum
    (an SVD leaves it open). No gradients and no class: every target gets the same map. Layer choice as
    for Grad-CAM; one forward pass.
    """

    name = "gradients.eigencam"
    family = "eigen_cam"
    summary = "Eigen-CAM (first principal component of a layer's features; class-agnostic)"

    def cam(self, activations: np.ndarray, gradients: np.ndarray, relu: bool = True) -> np.ndarray:
        flat = activations.reshape(-1, activations.shape[-1]).astype(np.float64)
        centred = flat - flat.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        projection = centred @ vt[0]
        if np.dot(projection, flat.sum(axis=1) - flat.sum(axis=1).mean()) < 0:
            projection = -projection
        return (np.maximum(projection, 0.0) if relu else projection).reshape(activations.shape[:2])


class AblationCam(GradCam):
    """Ablation-CAM (Desai & Ramaswamy, 2020): channel weights ``(y − y_k) / y``, ``y_k`` the target's raw
    score with channel ``k`` of the feature map set to zero; the map ``ReLU(Σ_k w_k A_k)``. Gradient-free:
    ``K`` forward passes (batched), ``K`` the layer's channels. Layer choice and score as for Grad-CAM
    (on Keras, the channel is zeroed in a model rebuilt on the user's layers).
    """

    name = "gradients.ablationcam"
    family = "ablation_cam"
    summary = "Ablation-CAM: channel weights from the score drop when each channel is zeroed"
    def expected_forward_passes(self, params, targets):
        """Unknown upfront: one ablated image per channel of the layer."""
        return None

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                layer: Any, reshape: Any, relu: bool = True) -> list[Explanation]:
        feature, drops = backend_for(model).layer_ablations(model, image, targets, layer, reshape)
        height, width = image.shape[:2]
        activations = feature.activations.astype(np.float64)
        return [
            Explanation(target=target,
                        attribution=resize_map(np.maximum(activations @ weights, 0.0) if relu else activations @ weights,
                                               height, width),
                        extras={"layer": feature.layer, "score": model.score_kind,
                                "feature_map": list(activations.shape)})
            for target, weights in zip(targets, drops)
        ]


def _has_layer_graph(net: Any) -> bool:
    """Whether a Keras model has a graph of its layers (``Sequential`` and functional models do)."""
    try:
        return bool(net.inputs)
    except (AttributeError, ValueError):
        return False
