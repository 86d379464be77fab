"""Everything about a user's model that an explanation method must leave as it found it.

torch: the values of every parameter and buffer (a hash of the state dict), ``requires_grad`` and
``.grad`` (object and values) of every parameter, and each submodule's hooks and train/eval mode
(:class:`xaihub.models.torch_state.ModuleState`). Keras: the values of every weight, each layer's
``trainable`` flag, and the model's layers. A plain function has no state to check.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ModelSnapshot:
    """What a model looked like; :meth:`changes` says what differs now."""

    kind: str
    parts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def capture(cls, model: Any) -> "ModelSnapshot":
        if "torch" in sys.modules:
            import torch

            if isinstance(model, torch.nn.Module):
                return cls("torch", _torch_parts(model))
        if "keras" in sys.modules:
            import keras

            if isinstance(model, keras.Model):
                return cls("keras", _keras_parts(model))
        return cls("callable")

    def changes(self, model: Any) -> list[str]:
        """What differs in ``model`` from the snapshot, in words; empty when nothing does."""
        if self.kind == "torch":
            found = self.parts["module"].changes(model)
            now = _torch_parts(model)
        elif self.kind == "keras":
            found, now = [], _keras_parts(model)
        else:
            return []
        found += [what for what, value in self.parts.items() if what != "module" and now[what] != value]
        return found


def _torch_parts(model: Any) -> dict[str, Any]:
    from xaihub.models.torch_state import ModuleState

    parameters = list(model.named_parameters())
    return {
        "module": ModuleState.capture(model),
        "parameter and buffer values": _digest(tensor for _, tensor in sorted(model.state_dict().items())),
        "requires_grad of its parameters": [(name, p.requires_grad) for name, p in parameters],
        "values of its parameters' .grad": _digest(p.grad for _, p in parameters),
    }


def _keras_parts(model: Any) -> dict[str, Any]:
    from xaihub.models.keras_counter import EvaluationCounter

    layers = [layer for layer in model.layers if not isinstance(layer, EvaluationCounter)]
    return {
        "weight values": _digest(weight for layer in layers for weight in layer.get_weights()),
        "trainable flags of its layers": [(layer.name, layer.trainable) for layer in layers],
        "its layers": [id(layer) for layer in model.layers],
    }


def _digest(arrays: Any) -> str:
    """SHA-256 over the arrays' shapes, dtypes and bytes (``None`` counts as a value)."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        if hasattr(array, "detach"):
            array = array.detach().cpu().numpy()
        values = np.ascontiguousarray(array)
        digest.update(f"{values.shape}{values.dtype}".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()
