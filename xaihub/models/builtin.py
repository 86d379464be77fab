"""The built-in `adapt_model` implementations: torch, Keras, plain callables."""

from __future__ import annotations

import sys
from typing import Any

from xaihub.hookspecs import hookimpl
from xaihub.models.base import CallableAdapter, ModelAdapter, ModelOptions


@hookimpl
def adapt_model(model: Any, options: ModelOptions) -> ModelAdapter | None:
    if "torch" in sys.modules:
        import torch

        if isinstance(model, torch.nn.Module):
            from xaihub.models.torch_adapter import TorchAdapter

            return TorchAdapter(model, options)
    if "keras" in sys.modules:
        import keras

        if isinstance(model, keras.Model):
            from xaihub.models.keras_adapter import KerasAdapter

            return KerasAdapter(model, options)
    return None


class CallableFallback:
    """Registered separately so it runs after every other adapter (``trylast``)."""

    @staticmethod
    @hookimpl(trylast=True)
    def adapt_model(model: Any, options: ModelOptions) -> ModelAdapter | None:
        return CallableAdapter(model, options) if callable(model) else None
