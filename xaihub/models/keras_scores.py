"""A Keras model with extra score columns (see :func:`xaihub.models.custom_scores.with_scores`). Imports keras."""

from __future__ import annotations

from typing import Any, Callable

import keras


class ExtraScores(keras.layers.Layer):
    """``[scores, f₁(scores), f₂(scores), ...]``: the class scores (their softmax with ``softmax``) and one
    column per function, differentiable (the functions are applied to tensors, as ``class_sum`` is)."""

    def __init__(self, functions: dict[str, Callable[[Any], Any]], softmax: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.names, self.functions, self.softmax = list(functions), list(functions.values()), softmax

    def call(self, scores: Any) -> Any:
        if self.softmax:
            scores = keras.ops.softmax(scores, axis=-1)
        extra = [keras.ops.reshape(keras.ops.cast(f(scores), scores.dtype), (-1, 1)) for f in self.functions]
        return keras.ops.concatenate([scores, *extra], axis=-1)


class _Wrapped(keras.Model):
    """A subclassed model's scores with the extra columns (it has no graph to extend)."""

    def __init__(self, model: Any, extra: ExtraScores, read: Callable[[Any], Any]) -> None:
        super().__init__(name=f"{model.name}_with_scores")
        self.model, self.extra, self._read = model, extra, read

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.extra(self._read(self.model(inputs, training=training)))


def keras_with_scores(model: Any, functions: dict[str, Callable[[Any], Any]], softmax: bool,
                      read: Callable[[Any], Any]) -> Any:
    """``model`` with one extra class per function: a functional model on the same layers (so CAMs still find
    them) for a Sequential or functional model, else a subclassed wrapper. ``read`` picks the class scores
    among the model's outputs."""
    extra = ExtraScores(functions, softmax, name="extra_scores")
    try:
        inputs, output = model.inputs, model.output
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        return _Wrapped(model, extra, read)
    scores = read(tuple(output) if isinstance(output, list) else output)
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs, extra(scores), name=f"{model.name}_with_scores")
