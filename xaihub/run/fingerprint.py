"""What a run's results depend on, recorded in ``run.json`` so that a resume cannot mix two setups.

A fingerprint is a JSON-able dict: the model (a hash of a torch model's parameters and buffers, of
a Keras model's weights, or a predict function's qualified name, or the user's ``model_id``), the
preprocessing, the output kind, the metrics, the object masks, the seed, the targets and each method's
parameters, arrays among them recorded by content (shape, dtype, SHA-256), and the true ``labels``.

Each image is recorded apart, on its index lines (:func:`image_digest`): a run directory reused with other
images under the same ids re-explains them instead of returning the old results.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import math
import os
import re
import stat
import sys
from typing import Any, Mapping, Sequence

import numpy as np

from xaihub.core.errors import InputError

COMPARED_FIELDS = ("model", "preprocess", "output", "metrics", "masks", "seed", "targets", "labels")
"""Fields of a fingerprint that must be equal for a resume; ``params`` are compared per method."""
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def run_fingerprint(*, model: Any, model_id: str | None, preprocess: Any, output: str, metrics: Sequence[str],
                    seed: int, targets: Any, params: Mapping[str, Mapping[str, Any]],
                    masks: Mapping[str, np.ndarray] | None = None, labels: Any = None) -> dict[str, Any]:
    """The fingerprint of an ``explain_many`` call (see the module docstring)."""
    return {
        "model": model_fingerprint(model, model_id),
        "preprocess": describe(preprocess),
        "output": output,
        "metrics": sorted(metrics),
        "masks": describe(masks),
        "seed": describe(seed),
        "targets": describe(targets),
        "labels": describe(labels),
        "params": {method: describe(dict(values)) for method, values in params.items()},
    }


def model_fingerprint(model: Any, model_id: str | None = None) -> dict[str, Any]:
    """``{"id": model_id}`` when given; else a torch or Keras model's class and weights hash; else
    a callable's qualified name (which cannot tell two closures or two lambdas apart: pass ``model_id``)."""
    if model_id is not None:
        if not isinstance(model_id, str) or not model_id:
            raise InputError(f"model_id must be a non-empty string, got {model_id!r}")
        return {"id": model_id}
    from xaihub.models import ModelAdapter

    if isinstance(model, ModelAdapter):
        return {"adapter": qualified_name(model), **model_fingerprint(model.model)}
    if "torch" in sys.modules:
        import torch

        if isinstance(model, torch.nn.Module):
            digest = hashlib.sha256()
            for name, tensor in sorted(model.state_dict().items()):
                _hash_array(digest, name, _tensor_array(tensor))
            return {"class": qualified_name(model), "torch_sha256": digest.hexdigest()}
    if "keras" in sys.modules:
        import keras

        if isinstance(model, keras.Model):
            digest = hashlib.sha256()
            for position, weights in enumerate(model.get_weights()):
                _hash_array(digest, str(position), np.asarray(weights))
            return {"class": qualified_name(model), "keras_sha256": digest.hexdigest()}
    return {"callable": qualified_name(model)}


def describe(value: Any) -> Any:
    """``value`` as JSON that is equal exactly when the values are: arrays by shape, dtype and
    SHA-256, callables by qualified name, an ``xaihub.Preprocess`` by its ``describe()``, floats
    that are not finite as strings; other objects by ``repr`` without memory addresses."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, np.generic):
        return describe(value.item())
    if isinstance(value, np.ndarray):
        return {"array": _array_record(value)}
    if isinstance(value, Mapping):
        return {str(key): describe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [describe(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((describe(item) for item in value), key=repr)
    from xaihub.core.preprocess import Preprocess

    if isinstance(value, Preprocess):
        return {"preprocess": value.describe()}
    if "torch" in sys.modules:
        import torch

        if isinstance(value, torch.Tensor):
            return {"array": _array_record(_tensor_array(value))}
    if isinstance(value, functools.partial):
        return {"partial": qualified_name(value.func), "args": describe(value.args),
                "keywords": describe(value.keywords)}
    if callable(value):
        return {"callable": qualified_name(value)}
    return {"object": _ADDRESS.sub("", repr(value))}


def qualified_name(value: Any) -> str:
    """``module.QualifiedName`` of a function or class, ``Class.method`` of a bound method, else
    the qualified name of the object's class."""
    if inspect.ismethod(value):
        return f"{qualified_name(value.__self__)}.{value.__name__}"
    named = value if isinstance(getattr(value, "__qualname__", None), str) else type(value)
    return f"{getattr(named, '__module__', None) or '?'}.{named.__qualname__}"


def differences(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """Names of the fields in which two fingerprints disagree. A field ``before`` lacks (a run
    directory of an older xaihub) is not a difference; nor is a method only one of them has."""
    found = [name for name in COMPARED_FIELDS if name in before and before[name] != now.get(name)]
    before_params = before.get("params") if isinstance(before.get("params"), Mapping) else {}
    found += [f"params of {method}" for method, params in now.get("params", {}).items()
              if method in before_params and before_params[method] != params]
    return found


def image_digest(image: Any) -> str | None:
    """The SHA-256 that tells an image's content: of a file's bytes for a path, of the pixels (with shape and
    dtype) for an array, a PIL image or a tensor. ``None`` when it cannot be told without reading something
    that is not a regular file (a FIFO, a device) or the image is not one of those forms; the image is then
    refused by its own task, as before."""
    if isinstance(image, (str, os.PathLike)):
        return _file_digest(image)
    if isinstance(image, np.ndarray):
        return _array_record(image)["sha256"]
    if "torch" in sys.modules:
        import torch

        if isinstance(image, torch.Tensor):
            return _array_record(_tensor_array(image))["sha256"]
    if "PIL" in sys.modules:
        from PIL import Image

        if isinstance(image, Image.Image):
            try:
                return _array_record(np.asarray(image))["sha256"] + f"/{image.mode}"
            except (OSError, ValueError):
                return None
    return None


def _file_digest(path: str | os.PathLike) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.sha256()
        while chunk := os.read(fd, 2**20):
            digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


def _array_record(array: np.ndarray) -> dict[str, Any]:
    digest = hashlib.sha256()
    _hash_array(digest, "", array)
    return {"shape": list(array.shape), "dtype": str(array.dtype), "sha256": digest.hexdigest()}


def _hash_array(digest: Any, name: str, array: np.ndarray) -> None:
    digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
    if array.dtype.hasobject:
        digest.update(repr(array.tolist()).encode())
    else:
        digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))


def _tensor_array(tensor: Any) -> np.ndarray:
    """A torch tensor's bytes as numpy (bfloat16 and other dtypes numpy lacks, as raw bytes)."""
    import torch

    tensor = tensor.detach().to("cpu").contiguous()
    try:
        return tensor.numpy()
    except (TypeError, RuntimeError):
        return tensor.reshape(-1).view(torch.uint8).numpy().reshape(*tensor.shape, -1)
