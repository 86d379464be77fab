"""Counting the images a Keras model evaluates, whoever calls it: a layer to put in a model's graph. Imports keras.

Plugins add it to views of a user's model they hand to a library that calls the model itself (the
count then goes to ``ModelAdapter.count_forward``); :mod:`xaihub.testing` builds its Keras models with
it, to count their evaluations independently of the adapter.
"""

from __future__ import annotations

from typing import Any

import keras


class EvaluationCounter(keras.layers.Layer):
    """Passes its input through and adds the batch size to a non-trainable weight, so the count is right
    in eager calls, under ``tf.GradientTape`` and inside graphs a library compiles alike."""

    def build(self, input_shape: Any) -> None:
        self.seen = self.add_weight(name="seen", shape=(), initializer="zeros", trainable=False)

    def call(self, inputs: Any) -> Any:
        self.seen.assign_add(keras.ops.cast(keras.ops.shape(inputs)[0], self.seen.dtype))
        return inputs

    def count(self) -> int:
        """Images seen so far (0 before the first call builds the layer)."""
        return int(keras.ops.convert_to_numpy(self.seen)) if self.built else 0
