"""How Quantus reaches xaihub's model adapter, and how it asks for new explanations.

Quantus calls a framework model (a torch ``nn.Module`` or a ``tf.keras`` model) on batches in
the model's input layout. Every xaihub model, whatever its framework, is handed to Quantus as
one thin torch module, :class:`AdapterModule`, whose ``forward`` gives the adapter's
``predict`` pixel-scale images: so preprocessing, batching, the output kind (Quantus receives
the adapter's probabilities, and is always called with ``softmax=False``) and forward-pass
counting are xaihub's, and torch, Keras and plain-callable models are evaluated alike.

Quantus' inputs are ``N×3×H×W`` float32 in ``[0, 1]`` (pixels / 255), the scale its default
perturbation sizes assume; pixels are clipped to ``[0, 255]`` on their way to the adapter.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from xaihub.core.quiet import quiet as quiet_libraries

if TYPE_CHECKING:
    from xaihub import Explanation
    from xaihub.contracts.metric import Rerun
    from xaihub.models import ModelAdapter


def adapter_module(model: "ModelAdapter") -> Any:
    """``model`` as an eval-mode torch module mapping ``N×3×H×W`` inputs in ``[0, 1]`` to probabilities."""
    import torch

    class AdapterModule(torch.nn.Module):
        """No parameters and no sub-modules: Quantus finds no softmax layer to add or remove."""

        def __init__(self) -> None:
            super().__init__()
            self.adapter = model  # not a Module: stays a plain attribute

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(self.adapter.predict(to_pixels(x.detach().cpu().numpy())))

    return AdapterModule().eval()


def model_input(image: np.ndarray) -> np.ndarray:
    """An ``H×W×3`` uint8 image as Quantus' ``x_batch``: ``1×3×H×W`` float32 in ``[0, 1]``."""
    return (np.moveaxis(image, -1, 0)[None] / np.float32(255.0)).astype(np.float32)


def to_pixels(batch: np.ndarray) -> np.ndarray:
    """Quantus' ``N×3×H×W`` in ``[0, 1]`` back to ``N×H×W×3`` pixel scale, clipped to ``[0, 255]``."""
    return np.clip(np.moveaxis(np.asarray(batch, dtype=np.float32), 1, -1) * 255.0, 0.0, 255.0)


def explain_function(adapter: "ModelAdapter", explanation: "Explanation", seed: int,
                     rerun: "Rerun") -> Callable[..., np.ndarray]:
    """Quantus' ``explain_func`` for metrics that explain again: the explanation's own method, run by the
    runner's ``rerun`` through ``adapter`` with its recorded parameters on each image Quantus gives (rounded
    to uint8) for each target; returns ``N×1×H×W`` maps. Every call is a full method run."""

    def explain(model: Any = None, inputs: np.ndarray | None = None, targets: Any = None, **_: Any) -> np.ndarray:
        images = np.rint(to_pixels(inputs)).astype(np.uint8)
        maps = [rerun(adapter, explanation, image=image, target=int(target), seed=seed)
                for image, target in zip(images, np.broadcast_to(np.asarray(targets), len(images)))]
        return np.stack(maps)[:, None].astype(np.float32)

    return explain


def quiet() -> contextlib.AbstractContextManager:
    """Silence what Quantus (and TensorFlow, which it imports when installed) prints, logs or warns."""
    return quiet_libraries("quantus", "tensorflow", "absl")


def import_quantus() -> Any:
    """``quantus``, repaired for NumPy ≥ 2.4 (see :func:`xaihub_quantus.repairs.restore_trapz`)."""
    import quantus

    from xaihub_quantus.repairs import restore_trapz

    restore_trapz(quantus)
    return quantus
