"""``captum.gradcam``: captum's ``LayerGradCam``."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import Explanation, InputError
from xaihub.core.maps import resize_map
from xaihub.core.params import Boolean, String
from xaihub.models import GradientAdapter
from xaihub.models.token_grid import LayerObject, Reshape, attached
from xaihub_captum.method import CaptumMethod
from xaihub_captum.running import batches, captum_run, repeated

LAYER = {"layer": [None, String(meaning="a module name from named_modules()"), LayerObject()]}


class LayerGradCam(CaptumMethod):
    """captum's ``LayerGradCam`` of the target's raw score (the pre-softmax logit, as Grad-CAM prescribes).

    ``layer`` names a module (``named_modules()``, or the module itself); ``None`` picks the last convolution
    that runs, or on a vision transformer the first norm of its last block with its tokens reshaped to the
    patch grid (``model.layer``, :mod:`xaihub.models.token_grid`; ``reshape``: a callable ``tokens → N×C×h×w``
    instead), recorded in ``extras["layer"]``. Channel weights are the mean gradients over the
    feature map; the map is ``ReLU(Σ_k w_k A_k)`` (``relu=False``: without the ReLU, captum's default),
    upsampled bilinearly to the image's size and not normalised. A layer that runs more than once per
    forward pass is explained at its last call (captum keeps the last output). Forward passes: one per
    target (and one to find the last convolution, shared by the methods of the call).
    """

    name = "captum.gradcam"
    family = "grad_cam"
    summary = "captum LayerGradCam on a named or the last convolutional layer"
    defaults: dict[str, Any] = {"layer": None, "relu": True, "reshape": None}
    constraints = {**LAYER, "relu": Boolean(), "reshape": [None, Reshape()]}

    def expected_forward_passes(self, params, targets):
        """One probe of the layer, then one gradient per target."""
        return 1 + targets

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                layer: Any, relu: bool, reshape: Any) -> list[Explanation]:
        import torch
        from captum.attr import LayerGradCam as CaptumLayerGradCam

        module, layer_name = model.layer(layer, image, reshape=reshape)
        inputs = model.differentiable_input(image[None])
        per_batch = model.images_per_batch(*inputs.shape[2:])
        with captum_run(model, seed), attached(module):
            cam = CaptumLayerGradCam(model.scores_module(), module)
            maps = torch.cat([cam.attribute(repeated(inputs, len(group)), target=group, relu_attributions=relu).detach()
                              for group in batches(targets, per_batch)])
        if maps.ndim != 4:
            raise InputError(f"layer {layer_name!r} gives a feature map of shape {tuple(maps.shape[1:])}; "
                             "Grad-CAM needs an N×C×h×w one")
        height, width = image.shape[:2]
        values = maps[:, 0].float().cpu().numpy()
        return [Explanation(target=target, attribution=resize_map(values[i], height, width).astype(np.float32),
                            extras={"layer": layer_name, "score": model.score_kind,
                                    "feature_map": list(values.shape[1:])})
                for i, target in enumerate(targets)]
