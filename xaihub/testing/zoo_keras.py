"""The Keras architectures of :mod:`xaihub.testing.zoo`: small, random (seeded) weights. Imports keras.

Every model starts with an :class:`~xaihub.models.keras_counter.EvaluationCounter`, so the checks can count the
images the model really evaluates, whoever calls it (the adapter, or a library running its own graph of it).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from xaihub.models.keras_counter import EvaluationCounter

CLASSES = 5


def sequential() -> keras.Model:
    """A ``Sequential`` CNN whose last ``Dense`` applies softmax."""
    return keras.Sequential([
        keras.Input((None, None, 3)), EvaluationCounter(),
        layers.Conv2D(8, 3, padding="same", activation="relu", kernel_initializer=_init(1)), layers.MaxPooling2D(),
        layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer=_init(2)),
        layers.GlobalAveragePooling2D(), layers.Dense(CLASSES, activation="softmax", kernel_initializer=_init(3)),
    ], name="zoo_sequential")


def residual() -> keras.Model:
    """A functional model with ``BatchNormalization`` and residual ``Add`` layers; logits out."""
    inputs = keras.Input((None, None, 3))
    x = EvaluationCounter()(inputs)
    x = layers.Conv2D(8, 3, padding="same", use_bias=False, kernel_initializer=_init(1))(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for k in range(2):
        y = layers.Conv2D(8, 3, padding="same", activation="relu", kernel_initializer=_init(10 + k))(x)
        y = layers.BatchNormalization()(layers.Conv2D(8, 3, padding="same", kernel_initializer=_init(20 + k))(y))
        x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(CLASSES, kernel_initializer=_init(3))(x), name="zoo_residual")


def depthwise() -> keras.Model:
    """Depthwise-separable convolutions (``DepthwiseConv2D`` + 1×1, ``SeparableConv2D``), a ``Softmax`` layer last."""
    inputs = keras.Input((None, None, 3))
    x = EvaluationCounter()(inputs)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6", kernel_initializer=_init(1))(x)
    x = layers.DepthwiseConv2D(3, padding="same", depthwise_initializer=_init(2))(x)
    x = layers.Conv2D(16, 1, activation="relu6", kernel_initializer=_init(3))(x)
    x = layers.SeparableConv2D(16, 3, padding="same", activation="relu", depthwise_initializer=_init(4),
                               pointwise_initializer=_init(5))(x)
    x = layers.Dense(CLASSES, kernel_initializer=_init(6))(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, layers.Softmax()(x), name="zoo_depthwise")


class _Subclassed(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="zoo_subclassed")
        self.counter = EvaluationCounter()
        self.conv1 = layers.Conv2D(8, 3, padding="same", activation="relu", kernel_initializer=_init(1))
        self.pool = layers.MaxPooling2D()
        self.conv2 = layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer=_init(2))
        self.average = layers.GlobalAveragePooling2D()
        self.head = layers.Dense(CLASSES, kernel_initializer=_init(3))

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.head(self.average(self.conv2(self.pool(self.conv1(self.counter(inputs))))))


def subclassed() -> keras.Model:
    """A subclassed ``keras.Model`` (its layers are called in ``call``: no symbolic graph to read layers from)."""
    model = _Subclassed()
    model(keras.ops.zeros((1, 16, 16, 3)))  # build its weights
    return model


def fixed_input() -> keras.Model:
    """A model built for 24×24 inputs (smaller than the zoo's image), flattened into a dense head."""
    inputs = keras.Input((24, 24, 3))
    x = EvaluationCounter()(inputs)
    x = layers.Conv2D(4, 3, strides=2, activation="relu", kernel_initializer=_init(1))(x)
    x = layers.Dense(CLASSES, activation="softmax", kernel_initializer=_init(2))(layers.Flatten()(x))
    return keras.Model(inputs, x, name="zoo_fixed_input")


def vit() -> keras.Model:
    """A vision transformer of plain Keras layers on 32×32 inputs: 8×8 patches embedded by a ``Conv2D``, two
    pre-norm blocks (``LayerNormalization``, ``MultiHeadAttention``, a GELU MLP, residual ``Add``), the mean
    over the 16 tokens and a linear head (logits); no class token or position embedding (no custom layer)."""
    inputs = keras.Input((32, 32, 3))
    x = EvaluationCounter()(inputs)
    x = layers.Conv2D(16, 8, strides=8, kernel_initializer=_init(1), name="patch_embed")(x)
    x = layers.Reshape((16, 16))(x)
    for k in range(2):
        normed = layers.LayerNormalization(name=f"block{k}_norm1")(x)
        attended = layers.MultiHeadAttention(2, 8, kernel_initializer=_init(10 + k), name=f"block{k}_attention")(
            normed, normed)
        x = layers.Add()([x, attended])
        hidden = layers.Dense(32, activation="gelu", kernel_initializer=_init(20 + k))(
            layers.LayerNormalization(name=f"block{k}_norm2")(x))
        x = layers.Add()([x, layers.Dense(16, kernel_initializer=_init(30 + k))(hidden)])
    x = layers.GlobalAveragePooling1D()(layers.LayerNormalization(name="norm")(x))
    return keras.Model(inputs, layers.Dense(CLASSES, kernel_initializer=_init(3))(x), name="zoo_vit")


def counter_of(model: Any) -> EvaluationCounter | None:
    """The model's :class:`EvaluationCounter`, if it has one (zoo models do)."""
    return next((layer for layer in getattr(model, "layers", []) if isinstance(layer, EvaluationCounter)), None)


def _init(seed: int) -> keras.initializers.Initializer:
    return keras.initializers.GlorotUniform(seed=seed)
