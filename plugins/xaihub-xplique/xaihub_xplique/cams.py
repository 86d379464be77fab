"""Xplique's Grad-CAM and Grad-CAM++ on the layer the adapter chooses.

Xplique finds its convolution among the model's own layers (``model.get_layer``) and watches that
layer's output while the model runs. ``model.scores_model`` nests the user's model inside one
layer, hiding its convolutions, so these methods take ``model.score_model()`` (the user's graph up to
the raw scores, sharing its layers) and the preprocessed model input; ``model.layer(name, image)``
picks the layer (``None``: the last convolution, or a transformer's last block's first norm), and Xplique is
handed its name. A transformer's token layer is read as its patch grid (``reshape``: a callable
``tokens → N×h×w×C`` instead), a layer of its own in the score model rebuilt around it
(:mod:`xaihub.models.keras_tokens`). Xplique upsamples the CAM to the model input (bicubic); it is then
resized (bilinear) to the image.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xaihub import Explanation, InputError
from xaihub.core.maps import resize_map
from xaihub.core.params import String
from xaihub.models import GradientAdapter, ModelAdapter
from xaihub.models.token_layout import LayerObject, Reshape
from xaihub_xplique.base import XpliqueMethod, copies, one_hot
from xaihub_xplique.gradients import KERAS_GRADIENTS
from xaihub_xplique.keras_models import call_restored, layered_scores_model


class XpliqueCam(XpliqueMethod):
    """A CAM of ``layer``'s feature map for the target's raw score; the layer is in ``extras["layer"]``.

    Xplique wraps the layer's ``call`` while it explains (on the user's own layer: the score model
    shares it) and unwraps it afterwards; :func:`call_restored` makes sure the layer ends as it was.
    One forward pass per target, counted from that (Xplique runs the Keras model itself).
    """

    requires = KERAS_GRADIENTS
    defaults: dict[str, Any] = {"layer": None, "reshape": None}
    constraints = {"layer": [None, String(meaning="a layer name"), LayerObject()], "reshape": [None, Reshape()]}

    def expected_forward_passes(self, params, targets):
        """One gradient per target."""
        return targets

    def check_model(self, model: ModelAdapter, image: np.ndarray) -> None:
        super().check_model(model, image)
        layered_scores_model(model, self.name)

    def run(self, model: GradientAdapter, image, targets, seed, params):
        layered_scores_model(model, self.name)
        chosen, name = model.layer(params["layer"], image, reshape=params["reshape"])
        network, layer = model.layer_network(chosen)
        feature_shape = tuple(layer.output.shape)
        if len(feature_shape) != 4:
            raise InputError(f"{self.name}: layer {name!r} gives {feature_shape}; a CAM needs an N×h×w×C feature map")
        height, width = image.shape[:2]
        inputs = copies(model.channels_last(model.model_input(image[None]))[0], len(targets))
        with call_restored(layer):
            explainer = self.xplique_type()(network, conv_layer=layer.name, batch_size=model.images_per_batch(height, width))
            maps = np.asarray(explainer.explain(inputs, one_hot(targets, model.num_classes)))
        model.count_forward(len(targets))
        extras = {"layer": name, "score": model.score_kind, "feature_map": list(feature_shape[1:])}
        return [Explanation(target=target, attribution=resize_map(values[..., 0], height, width), extras=dict(extras))
                for target, values in zip(targets, maps)]


class XpliqueGradCam(XpliqueCam):
    """Grad-CAM (Selvaraju et al. 2017): ``ReLU(Σ_k mean(∂score/∂A_k) A_k)``."""

    name = "xplique.gradcam"
    family = "grad_cam"
    summary = "Xplique Grad-CAM on a named or the last conv layer (Keras)"
    xplique_class = "xplique.attributions:GradCAM"


class XpliqueGradCamPlusPlus(XpliqueCam):
    """Grad-CAM++ (Chattopadhyay et al. 2018), Xplique's form: channel weights are the spatial mean of
    ``α·ReLU(g)`` with ``α = g² / (2g² + g³·mean(A))``."""

    name = "xplique.gradcampp"
    family = "grad_cam_pp"
    summary = "Xplique Grad-CAM++ on a named or the last conv layer (Keras)"
    xplique_class = "xplique.attributions:GradCAMPP"
