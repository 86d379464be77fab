"""Custom targets: scores computed from a model's class scores (a sum of classes, a difference, ...),
appended as extra classes, so that every method and metric explains them as it explains a class.

>>> combined = with_scores(model, {"cat or dog": class_sum(3, 5)})      # class K (K: the model's classes)
>>> xaihub.explain(combined, image, targets=[K], output="multilabel-logits", labels=[*names, "cat or dog"])

A torch ``nn.Module`` is wrapped in an ``nn.Module`` and a Keras 3 model in a Keras model (a functional one
on the same layers, when it has a graph: CAMs still find its layers), so gradient methods differentiate the
function; any other callable is wrapped in a function on numpy arrays. The functions receive the model's class scores ``N×K``
(its logits, or probabilities with ``softmax=True``) and return ``N`` scores each.

Which output kind to declare: for a **multi-label** (sigmoid) model, ``output="multilabel-logits"``: the new
columns are logits like the others (``class_sum(3, 5)``: the sum of the two logits; its sigmoid is what
black-box methods and metrics see). For a **softmax** classifier, pass ``softmax=True`` and
``output="probabilities"``: the functions receive the class probabilities (``class_sum(3, 5)``: the
probability of class 3 or 5), and appending a column to logits would change every class's softmax.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Mapping

import numpy as np

from xaihub.core.errors import InputError

ScoreFunction = Callable[[Any], Any]


def class_sum(*classes: int) -> ScoreFunction:
    """The score function ``scores[:, classes].sum(1)`` (numpy arrays, torch and Keras tensors alike)."""
    if not classes or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0 for c in classes):
        raise InputError(f"class_sum takes class indices (ints ≥ 0), got {classes!r}")
    chosen = [int(c) for c in classes]

    def summed(scores: Any) -> Any:
        total = scores[:, chosen[0]]
        for c in chosen[1:]:  # column by column: numpy arrays, torch and TensorFlow/Keras tensors alike
            total = total + scores[:, c]
        return total

    summed.__name__ = "class_sum_" + "_".join(map(str, chosen))
    return summed


def with_scores(model: Any, functions: Mapping[str, ScoreFunction], softmax: bool = False) -> Any:
    """``model`` with one extra class per entry of ``functions`` (``{name: f(scores N×K) -> N}``), in order,
    after the model's own classes. ``softmax``: the functions (and the output) get softmax probabilities
    instead of the raw scores. The model's output is read as the adapter reads it (a tensor, the first of a
    tuple, the ``logits`` of a dict or Hugging Face output)."""
    if not isinstance(functions, Mapping) or not functions:
        raise InputError("functions must be a non-empty {name: score function} mapping")
    bad = [name for name, f in functions.items() if not isinstance(name, str) or not callable(f)]
    if bad:
        raise InputError(f"functions must map names (str) to callables; {bad[0]!r} does not")
    keras = sys.modules.get("keras")  # a Keras model means keras is imported; never import it here
    if keras is not None and isinstance(model, keras.Model):
        from xaihub.models.keras_scores import keras_with_scores

        return keras_with_scores(model, dict(functions), softmax, read=class_scores)
    if type(model).__module__.startswith(("tf_keras", "tensorflow")):
        raise InputError("with_scores wraps Keras 3, torch and plain-function models; tf.keras (Keras 2) is not "
                         "supported: add the scores as a layer")
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is optional
        torch = None
    if torch is not None and isinstance(model, torch.nn.Module):
        from xaihub.models.torch_scores import WithScores

        return WithScores(model, dict(functions), softmax, read=class_scores)
    if not callable(model):
        raise InputError(f"with_scores needs a torch module or a callable model, got {type(model).__name__}")
    return _NumpyScores(model, dict(functions), softmax)


def class_scores(raw: Any) -> Any:
    """The class scores among a model's outputs, read as the adapter reads them by default."""
    if isinstance(raw, Mapping):
        return raw["logits"]
    if hasattr(raw, "logits") and not isinstance(raw, (tuple, list, np.ndarray)):
        return raw.logits
    if isinstance(raw, tuple):
        return raw[0]
    return raw


class _NumpyScores:
    """A callable model with extra score columns (numpy)."""

    def __init__(self, model: Callable[[Any], Any], functions: dict[str, ScoreFunction], softmax: bool) -> None:
        self.model, self.functions, self.softmax = model, functions, softmax

    def __call__(self, batch: Any) -> np.ndarray:
        scores = np.asarray(class_scores(self.model(batch)), dtype=np.float64)
        if self.softmax:
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores = scores / scores.sum(axis=1, keepdims=True)
        extra = [np.asarray(f(scores), dtype=np.float64).reshape(len(scores)) for f in self.functions.values()]
        return np.concatenate([scores, np.stack(extra, axis=1)], axis=1)
