"""Entry point of the ``onnx`` plugin: the ``adapt_model`` hook for ONNX models (recognised by
:func:`xaihub_onnx.recognise.is_onnx_model`, which imports nothing heavy)."""

from __future__ import annotations

from typing import Any

from xaihub import hookimpl
from xaihub.models import ModelAdapter, ModelOptions
from xaihub_onnx.recognise import is_onnx_model


@hookimpl
def adapt_model(model: Any, options: ModelOptions) -> ModelAdapter | None:
    if not is_onnx_model(model):
        return None
    from xaihub_onnx.adapter import OnnxAdapter

    return OnnxAdapter(model, options)
