"""The core's model adapters as a plugin: ``adapt_model`` for torch modules, Keras models and plain callables.

The plugin manager (:mod:`xaihub.registry.plugins`) registers them before any entry point, the callable
fallback last (``trylast``), so every model kind, the core's and a plugin's, is adapted through the hook.
"""

from __future__ import annotations

import sys
from typing import Any

from xaihub.contracts.hookspecs import hookimpl
from xaihub.models.base import CallableAdapter, ModelAdapter, ModelOptions


class FrameworkAdapters:
    """Torch ``nn.Module`` and ``keras.Model``, recognised without importing either framework."""

    @staticmethod
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
