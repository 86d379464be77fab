"""What OmniXAI needs from xaihub's adapter: its image type, a preprocess, a target layer."""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import numpy as np

from xaihub.core.quiet import quiet as quiet_libraries
from xaihub.models import GradientAdapter, ModelAdapter
from xaihub_omnixai.isolation import layers_of


def quiet() -> contextlib.AbstractContextManager:
    """Silence what OmniXAI, TensorFlow and shap print or warn while importing and explaining."""
    return quiet_libraries("omnixai", "tensorflow", "shap", "absl")


def omnixai_images(image: np.ndarray, copies: int) -> Any:
    """``copies`` of ``image`` as one batched OmniXAI ``Image`` (one copy per target)."""
    from omnixai.data.image import Image

    return Image(np.repeat(image[None], copies, axis=0), batched=True, channel_last=True)


def omnixai_preprocess(model: ModelAdapter) -> Callable[[Any], Any]:
    """OmniXAI's ``preprocess_function``: OmniXAI ``Image`` → the model's input (the adapter's
    preprocessing, so OmniXAI explains the model input and its maps are brought back to the image).

    Keras models get numpy, never a tensor: OmniXAI's TF Grad-CAM calls ``.detach()`` on
    anything that is not an ndarray (“EagerTensor has no attribute detach”). Torch
    models get a tensor on the model's device, which OmniXAI's SHAP wrapper needs.
    """

    def preprocess(images: Any) -> Any:
        tensor = model.model_input(images.to_numpy(keepdim=True).astype(np.float32))
        return tensor.detach() if model.framework == "torch" else np.asarray(tensor, dtype=np.float32)

    return preprocess


def target_layer(model: GradientAdapter, network: Any, layer: Any, image: np.ndarray,
                 reshape: Any = None) -> tuple[Any, Any, str]:
    """``(network, layer, name)``: the model OmniXAI should work on, the layer of it that OmniXAI's CAM
    methods should use, chosen by the adapter, and its name. ``network`` is the model OmniXAI was going to
    get (a private copy of a torch model, a view of a Keras one).

    A transformer's token layer comes back as a token grid: on torch, on the copy's layer, attached for good
    (the copy is OmniXAI's alone and dropped after the call; :mod:`xaihub.models.token_grid`); on Keras, as
    the grid layer of ``network`` rebuilt around it (:mod:`xaihub.models.keras_tokens`)."""
    chosen, name = model.layer(layer, image, reshape=reshape)
    if model.framework == "torch":
        module = dict(layers_of(network).named_modules())[name]
        if hasattr(chosen, "layout"):
            module = chosen.on(module)
            module.attach()
        return network, module, name
    if hasattr(chosen, "view"):
        return (*chosen.view(network), name)
    return network, network.get_layer(name), name
