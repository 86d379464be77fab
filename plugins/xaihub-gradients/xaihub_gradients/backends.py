"""Which gradient backend serves a model, and what every backend offers.

A backend is a module with three functions, all working on channels-last numpy arrays
so that the methods never touch a framework:

- ``model_input(model, images) -> N×H×W×C``: ``images`` (pixel scale) as the model sees them.
- ``input_gradients(model, inputs, targets) -> (scores N×T, gradients T×N×H×W×C)``: each
  target's score (a logit where the model gives one, see ``score_kind``) and its gradient
  with respect to ``inputs`` (model-input space), from one forward pass over ``inputs``.
- ``layer_gradients(model, image, targets, layer) -> LayerGradients``: a layer's feature
  map on one image and each target score's gradient with respect to it.
- ``score_kind(model) -> "logit" | "probability"``: what the differentiated score is.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from xaihub import MethodUnavailableError
from xaihub.models import ModelAdapter


@dataclass
class LayerGradients:
    """A layer's feature map ``h×w×K`` and the gradients ``T×h×w×K`` of each target's score."""

    layer: str
    activations: np.ndarray
    gradients: np.ndarray


def backend_for(model: ModelAdapter) -> ModuleType:
    """The backend module for ``model``'s framework."""
    if model.framework == "torch":
        from xaihub_gradients import torch_backend

        return torch_backend
    if model.framework == "keras":
        from xaihub_gradients import keras_backend

        return keras_backend
    raise MethodUnavailableError(f"gradients need a torch or keras model, got a {model.framework!r} model")

