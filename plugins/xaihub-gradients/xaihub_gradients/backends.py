"""Which gradient backend serves a model, and what every backend offers.

The methods work on channels-last numpy arrays in the adapter's input space
(:attr:`xaihub.models.GradientAdapter.input_space`: the image's pixels, or the preprocessed model
input for a preprocess function); a backend only knows how its framework differentiates:

- ``input_gradients(model, inputs, targets) -> (scores N×T, gradients T×N×H×W×C)``: each target's
  raw score (a logit where the model gives one, see ``GradientAdapter.score_kind``) and its
  gradient with respect to ``inputs``, from one forward pass over ``inputs``;
- ``layer_gradients(model, image, targets, layer) -> LayerGradients``
  (:mod:`xaihub_gradients.layer_gradients`): a layer's feature map on one image and each target
  score's gradient with respect to it.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from xaihub import MethodUnavailableError
from xaihub.models import GradientAdapter, ModelAdapter


def backend_for(model: ModelAdapter) -> ModuleType:
    """The backend module for ``model``'s framework."""
    if isinstance(model, GradientAdapter) and model.framework == "torch":
        from xaihub_gradients import torch_backend

        return torch_backend
    if isinstance(model, GradientAdapter) and model.framework == "keras":
        from xaihub_gradients import keras_backend

        return keras_backend
    raise MethodUnavailableError(f"gradients need a torch or keras model, got a {model.framework!r} model")


def inputs_of(model: GradientAdapter, images: np.ndarray) -> np.ndarray:
    """``images`` in the adapter's input space, as channels-last numpy."""
    return model.channels_last(model.differentiable_input(images))
