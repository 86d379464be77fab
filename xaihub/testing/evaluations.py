"""Counting the images a model really evaluates, from outside the adapter, to hold the adapter's count
(:attr:`xaihub.models.ModelAdapter.forward_passes`) to it.

- a plain function: wrapped, counting the rows of every batch it is called with;
- a torch module: a forward pre-hook on the first layer to run (found with one probing forward pass),
  counting the images of every batch reaching it, also in copies of the model a method makes
  (``copy.deepcopy`` keeps the hook). The layer is assumed to run once per image;
- a Keras model with an :class:`~xaihub.models.keras_counter.EvaluationCounter` (every zoo model):
  its count. Other Keras models cannot be counted from outside (:attr:`Evaluations.measurable` is False).
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np


class Evaluations:
    """Images evaluated by one model since :meth:`reset`. Use :meth:`model` in place of the model."""

    def __init__(self, model: Any, probe: np.ndarray, preprocess: Any = None) -> None:
        self._model = model
        self._images = 0
        self._read: Callable[[], int] | None = None
        self._handle: Any = None
        if _is_torch(model):
            self._first_layer = _first_layer_to_run(model, probe, preprocess)
            self._read = lambda: self._images
        elif _is_keras(model):
            from xaihub.testing.zoo_keras import counter_of

            counter = counter_of(model)
            if counter is not None:
                self._read = counter.count
        elif callable(model):
            self._read = lambda: self._images
        self._start = self._read() if self._read is not None else 0

    @property
    def measurable(self) -> bool:
        return self._read is not None

    def model(self) -> Any:
        """The model to use: a counting wrapper of a plain function, else the model itself."""
        if _is_torch(self._model) or _is_keras(self._model) or not callable(self._model):
            return self._model
        original = self._model

        def counted(batch: Any) -> Any:
            self._images += len(batch)
            return original(batch)

        return counted

    def attach(self) -> None:
        """Start counting torch evaluations (a hook on the model, removed by :meth:`detach`)."""
        if _is_torch(self._model):
            self._handle = self._first_layer.register_forward_pre_hook(self._count_torch)

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def reset(self) -> None:
        self._start = self._read() if self._read is not None else 0

    @property
    def images(self) -> int | None:
        """Images evaluated since :meth:`reset`, or ``None`` when they cannot be counted."""
        return self._read() - self._start if self._read is not None else None

    def _count_torch(self, module: Any, args: tuple) -> None:
        if args and hasattr(args[0], "shape") and len(args[0].shape):
            self._images += int(args[0].shape[0])


def _is_torch(model: Any) -> bool:
    if "torch" not in sys.modules:
        return False
    import torch

    return isinstance(model, torch.nn.Module)


def _is_keras(model: Any) -> bool:
    if "keras" not in sys.modules:
        return False
    import keras

    return isinstance(model, keras.Model)


def _first_layer_to_run(model: Any, probe: np.ndarray, preprocess: Any) -> Any:
    """The first module without children that runs on ``probe`` (one forward pass, hooks removed after)."""
    from xaihub.models import ModelOptions
    from xaihub.registry.plugins import adapt

    ran: list[Any] = []
    leaves = [module for module in model.modules() if next(module.children(), None) is None]
    handles = [leaf.register_forward_pre_hook(lambda module, args: ran.append(module)) for leaf in leaves]
    try:
        adapt(model, ModelOptions(preprocess=preprocess)).predict(probe[None])
    finally:
        for handle in handles:
            handle.remove()
    if not ran:
        raise AssertionError("no layer of the torch model ran on the image: cannot count its evaluations")
    return ran[0]
