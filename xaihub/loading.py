"""Loading what the command line names: models, ``module:object`` specs and label files."""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any

from xaihub.errors import InputError

TORCHSCRIPT_SUFFIXES = (".pt", ".pth")
KERAS_SUFFIXES = (".keras",)


def load_model(spec: str) -> Any:
    """A model from a TorchScript file (``.pt``/``.pth``), a saved Keras model (``.keras``) or
    ``module:object`` (the object is used as-is: a model, or a predict function)."""
    suffix = os.path.splitext(spec)[1].lower()
    if suffix in TORCHSCRIPT_SUFFIXES + KERAS_SUFFIXES:
        if not os.path.isfile(spec):
            raise InputError(f"model file {spec!r} does not exist")
        try:
            if suffix in TORCHSCRIPT_SUFFIXES:
                import torch

                return torch.jit.load(spec, map_location="cpu")
            import keras

            return keras.saving.load_model(spec)
        except Exception as exc:
            raise InputError(f"cannot load model {spec!r}: {type(exc).__name__}: {exc}") from exc
    if ":" in spec:
        return import_object(spec, "model")
    raise InputError(f"model {spec!r} is neither a .pt/.pth/.keras file nor module:object")


def import_object(spec: str, what: str) -> Any:
    """The object named by ``module:attribute`` (dots allowed in both); the working directory is importable."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InputError(f"{what} {spec!r} must look like module:object")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target = importlib.import_module(module_name)
    except Exception as exc:
        raise InputError(f"cannot import module {module_name!r} for {what} {spec!r}: {type(exc).__name__}: {exc}") from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise InputError(f"module {module_name!r} has no {attribute!r} (from {what} {spec!r})") from None
    return target


def load_labels(path: str) -> list[str]:
    """Class names from a text file (one per line) or a JSON list."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read labels file {path!r}: {exc.strerror}") from exc
    if path.lower().endswith(".json"):
        try:
            labels = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"labels file {path!r} is not valid JSON: {exc}") from exc
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise InputError(f"labels file {path!r} must hold a JSON list of strings")
        return labels
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise InputError(f"labels file {path!r} is empty")
    return labels
