"""Gradients of a torch model's raw scores (see :mod:`xaihub_gradients.backends`).

Inputs are detached copies with ``requires_grad``; ``torch.autograd.grad`` asks for the
gradient of the input or feature map only, so no parameter's ``.grad`` or
``requires_grad`` changes. Feature maps are read by forward hooks removed in ``finally``,
and :meth:`TorchAdapter.session` restores the model's train/eval mode.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import InputError
from xaihub.models import ModelAdapter, class_scores
from xaihub_gradients.backends import LayerGradients


def model_input(model: ModelAdapter, images: np.ndarray) -> np.ndarray:
    tensor = model.to_tensor(images)
    if tensor.ndim != 4:
        raise InputError(f"gradient methods need an N×C×H×W model input; preprocess gave shape {tuple(tensor.shape)}")
    return tensor.detach().permute(0, 2, 3, 1).float().cpu().numpy()


def input_gradients(model: ModelAdapter, inputs: np.ndarray, targets: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    import torch

    x = torch.from_numpy(np.ascontiguousarray(inputs)).permute(0, 3, 1, 2)
    x = x.to(device=model.device, dtype=model.dtype).requires_grad_(True)
    with model.session(), torch.enable_grad():
        scores = class_scores(model.model(x))
        model.count_forward(len(inputs))
        gradients = _gradients_per_target(scores, x, targets)
    return _numpy(scores[:, list(targets)]), np.stack([_numpy(g.permute(0, 2, 3, 1)) for g in gradients])


def layer_gradients(model: ModelAdapter, image: np.ndarray, targets: Sequence[int], layer: str | None) -> LayerGradients:
    import torch

    candidates = _layers(model.model, layer)
    seen: dict[str, Any] = {}

    def keep_last(name: str):
        def hook(module, inputs, output):
            seen["name"], seen["output"] = name, output
        return hook

    handles = [module.register_forward_hook(keep_last(name)) for name, module in candidates.items()]
    try:
        x = model.to_tensor(image[None]).detach().requires_grad_(True)
        with model.session(), torch.enable_grad():
            scores = class_scores(model.model(x))
            model.count_forward(1)
            activation = _feature_map(seen)
            gradients = _gradients_per_target(scores, activation, targets)
    finally:
        for handle in handles:
            handle.remove()
    return LayerGradients(
        layer=seen["name"],
        activations=_numpy(activation[0].permute(1, 2, 0)),
        gradients=np.stack([_numpy(g[0].permute(1, 2, 0)) for g in gradients]),
    )


def _layers(net: Any, layer: str | None) -> dict[str, Any]:
    """The module named ``layer``, or every ``Conv2d`` (the last one to run wins)."""
    import torch

    modules = dict(net.named_modules())
    convolutions = {name: m for name, m in modules.items() if isinstance(m, torch.nn.Conv2d)}
    if layer is None:
        if not convolutions:
            raise InputError("the model has no Conv2d layer to explain; pass layer=<module name>")
        return convolutions
    if not layer or layer not in modules:
        raise InputError(f"the model has no module named {layer!r}; its Conv2d layers are {sorted(convolutions)}")
    return {layer: modules[layer]}


def _feature_map(seen: dict[str, Any]) -> Any:
    import torch

    if "name" not in seen:
        raise InputError("the chosen layer did not run during the forward pass")
    output = seen["output"]
    if not isinstance(output, torch.Tensor) or output.ndim != 4:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise InputError(f"layer {seen['name']!r} gives {shape}; CAM methods need an N×C×h×w feature map")
    return output


def _gradients_per_target(scores: Any, wrt: Any, targets: Sequence[int]) -> list[Any]:
    import torch

    last = len(targets) - 1
    return [torch.autograd.grad(scores[:, t].sum(), wrt, retain_graph=i < last)[0] for i, t in enumerate(targets)]


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def score_kind(model: ModelAdapter) -> str:
    """The raw output is differentiated: a logit when the model emits logits."""
    return "logit" if model.output_kind in ("logits", "multilabel-logits") else "probability"
