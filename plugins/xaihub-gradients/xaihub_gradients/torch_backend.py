"""Gradients of a torch model's raw scores (see :mod:`xaihub_gradients.backends`).

``torch.autograd.grad`` asks for the gradient of the input or feature map only, so no parameter's
``.grad`` or ``requires_grad`` changes; the adapter removes the hook it uses to read a feature map.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub.models import GradientAdapter
from xaihub_gradients.layer_gradients import LayerGradients


def input_gradients(model: GradientAdapter, inputs: np.ndarray, targets: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    import torch

    x = model.from_channels_last(inputs).requires_grad_(True)
    with torch.enable_grad():
        scores = model.scores(x)
        gradients = _gradients_per_target(scores, x, targets)
    return _numpy(scores[:, list(targets)]), np.stack([model.channels_last(g) for g in gradients])


def layer_gradients(model: GradientAdapter, image: np.ndarray, targets: Sequence[int], layer: str | None) -> LayerGradients:
    import torch

    module, name = model.layer(layer, image)
    x = model.differentiable_input(image[None]).requires_grad_(True)  # a graph even for a frozen model
    with torch.enable_grad():
        activation, scores = model.layer_scores(x, module)
        gradients = _gradients_per_target(scores, activation, targets)
    return LayerGradients(layer=name, activations=model.channels_last(activation)[0],
                          gradients=np.stack([model.channels_last(g)[0] for g in gradients]))


def _gradients_per_target(scores: Any, wrt: Any, targets: Sequence[int]) -> list[Any]:
    import torch

    last = len(targets) - 1
    return [torch.autograd.grad(scores[:, t].sum(), wrt, retain_graph=i < last)[0] for i, t in enumerate(targets)]


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()
