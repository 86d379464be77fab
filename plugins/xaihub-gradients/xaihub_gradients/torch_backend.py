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


def layer_gradients(model: GradientAdapter, image: np.ndarray, targets: Sequence[int], layer: Any,
                    reshape: Any = None) -> LayerGradients:
    import torch

    module, name = model.layer(layer, image, reshape=reshape)
    x = model.differentiable_input(image[None]).requires_grad_(True)  # a graph even for a frozen model
    with torch.enable_grad():
        activation, scores = model.layer_scores(x, module)
        gradients = _gradients_per_target(scores, activation, targets)
    return LayerGradients(layer=name, activations=model.channels_last(activation)[0],
                          gradients=np.stack([model.channels_last(g)[0] for g in gradients]))


def layer_ablations(model: GradientAdapter, image: np.ndarray, targets: Sequence[int], layer: Any,
                    reshape: Any = None) -> tuple[LayerGradients, np.ndarray]:
    """The layer's feature map (``gradients`` empty) and, per target, ``(y − y_k) / y`` for each channel
    ``k``: the relative drop of the target's raw score when channel ``k`` is zeroed (``T×K``)."""
    import torch

    module, name = model.layer(layer, image, reshape=reshape)
    x = model.differentiable_input(image[None])
    with torch.no_grad():
        activation, scores = model.layer_scores(x, module)
        channels = int(activation.shape[1])
        per_batch = model.images_per_batch(*x.shape[2:])
        ablated = []
        for start in range(0, channels, per_batch):
            ks = list(range(start, min(channels, start + per_batch)))

            def zero(mod: Any, args: Any, out: Any, ks: list[int] = ks) -> Any:
                out = out.clone()
                out[torch.arange(len(ks)), torch.tensor(ks)] = 0
                return out

            handle = module.register_forward_hook(zero)
            try:
                ablated.append(model.layer_scores(x.expand(len(ks), *x.shape[1:]), module)[1][:, list(targets)])
            finally:
                handle.remove()
    full = _numpy(scores[0, list(targets)]).astype(np.float64)[:, None]
    drops = _numpy(torch.cat(ablated)).astype(np.float64).T
    weights = np.divide(full - drops, full, out=np.zeros_like(drops), where=np.abs(full) > 1e-12)
    features = LayerGradients(layer=name, activations=model.channels_last(activation)[0],
                              gradients=np.zeros((0,), np.float32))
    return features, weights


def _gradients_per_target(scores: Any, wrt: Any, targets: Sequence[int]) -> list[Any]:
    import torch

    last = len(targets) - 1
    return [torch.autograd.grad(scores[:, t].sum(), wrt, retain_graph=i < last)[0] for i, t in enumerate(targets)]


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()
