"""Telling an ONNX model from other models without importing anything heavy: a path is told by its
``.onnx`` suffix, a session or a ``ModelProto`` only when ``onnxruntime`` or ``onnx`` is already imported
(the user made one)."""

from __future__ import annotations

import os
import sys
from typing import Any

ONNX_SUFFIX = ".onnx"


def is_onnx_model(model: Any) -> bool:
    """Whether ``model`` is a path to a ``.onnx`` file, an ``onnxruntime.InferenceSession`` or an
    ``onnx.ModelProto``."""
    if isinstance(model, (str, os.PathLike)):
        return os.fsdecode(model).lower().endswith(ONNX_SUFFIX)
    if "onnxruntime" in sys.modules:
        import onnxruntime

        if isinstance(model, onnxruntime.InferenceSession):
            return True
    if "onnx" in sys.modules:
        import onnx

        if isinstance(model, onnx.ModelProto):
            return True
    return False
