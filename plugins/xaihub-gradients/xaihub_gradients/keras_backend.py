"""Gradients of a Keras (TensorFlow) model's scores (see :mod:`xaihub_gradients.backends`).

Gradients come from ``tf.GradientTape``. When the model's last layer applies softmax,
the differentiated score is the pre-softmax logit (a softmax saturates, and Grad-CAM is
defined on the logit): a new ``keras.Model`` reads the last layer's input and applies a
linear copy of that layer. Feature maps are read the same way, through a
``keras.Model(inputs, [layer.output, scores])`` sharing the user's layers, so the user's
model itself is never changed.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import InputError
from xaihub.models import ModelAdapter, class_scores
from xaihub_gradients.backends import LayerGradients


def model_input(model: ModelAdapter, images: np.ndarray) -> np.ndarray:
    tensor = np.asarray(model.to_tensor(images), dtype=np.float32)
    if tensor.ndim != 4:
        raise InputError(f"gradient methods need an N×H×W×C model input; preprocess gave shape {tensor.shape}")
    return tensor


def score_kind(model: ModelAdapter) -> str:
    """``"logit"`` when the scores are logits (given, or read before a final softmax), else ``"probability"``."""
    if _ends_in_softmax(model.model) and _is_functional(model.model):
        return "logit"
    return "logit" if model.output_kind in ("logits", "multilabel-logits") else "probability"


def input_gradients(model: ModelAdapter, inputs: np.ndarray, targets: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    net = model.model
    scorer = _functional(net, [_score_tensor(net)]) if _is_functional(net) else net
    x = tf.convert_to_tensor(np.asarray(inputs, dtype=np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        scores = class_scores(scorer(x, training=False))
    model.count_forward(len(inputs))
    gradients = [_target_gradient(tape, scores, x, t) for t in targets]
    del tape
    return scores.numpy()[:, list(targets)], np.stack(gradients)


def layer_gradients(model: ModelAdapter, image: np.ndarray, targets: Sequence[int], layer: str | None) -> LayerGradients:
    import tensorflow as tf

    net = model.model
    if not _is_functional(net):
        raise InputError("CAM methods need a built Sequential or functional Keras model (one with model.inputs)")
    chosen = _layer(net, layer)
    probe = _functional(net, [chosen.output, _score_tensor(net)])
    x = model.to_tensor(image[None])
    with tf.GradientTape(persistent=True) as tape:
        activation, scores = probe(x, training=False)
    model.count_forward(1)
    if len(activation.shape) != 4:
        raise InputError(f"layer {chosen.name!r} gives {tuple(activation.shape)}; CAM methods need an N×h×w×C feature map")
    gradients = [_target_gradient(tape, scores, activation, t)[0] for t in targets]
    del tape
    return LayerGradients(layer=chosen.name, activations=activation.numpy()[0], gradients=np.stack(gradients))


def _layer(net: Any, layer: str | None) -> Any:
    """The layer named ``layer``, or the last convolution among the model's layers."""
    import keras

    kinds = (keras.layers.Conv2D, keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D)
    convolutions = [candidate for candidate in net.layers if isinstance(candidate, kinds)]
    if layer is None:
        if not convolutions:
            raise InputError("the model has no Conv2D layer to explain; pass layer=<layer name>")
        return convolutions[-1]
    try:
        return net.get_layer(layer)
    except ValueError:
        raise InputError(f"the model has no layer named {layer!r}; its conv layers are "
                         f"{[c.name for c in convolutions]}") from None


def _score_tensor(net: Any) -> Any:
    """The symbolic scores: the pre-softmax logits when the last layer applies softmax, else the output."""
    import keras

    last = net.layers[-1]
    if not _ends_in_softmax(net):
        return net.outputs[0]
    if isinstance(last, (keras.layers.Softmax, keras.layers.Activation)):
        return last.input
    linear = type(last).from_config({**last.get_config(), "activation": "linear", "name": f"{last.name}_logits"})
    logits = linear(last.input)
    linear.set_weights(last.get_weights())
    return logits


def _ends_in_softmax(net: Any) -> bool:
    import keras

    last = net.layers[-1] if getattr(net, "layers", None) else None
    if last is None or len(getattr(net, "outputs", None) or []) != 1:
        return False
    if isinstance(last, keras.layers.Softmax):
        return True
    return getattr(getattr(last, "activation", None), "__name__", "") == "softmax"


def _is_functional(net: Any) -> bool:
    try:
        return bool(net.inputs)
    except (AttributeError, ValueError):
        return False


def _functional(net: Any, outputs: list[Any]) -> Any:
    import keras

    try:
        return keras.Model(net.inputs, outputs)
    except (AttributeError, ValueError, TypeError) as exc:
        raise InputError(f"cannot read inside this Keras model ({exc}); gradient methods need a built "
                         "Sequential or functional model") from exc


def _target_gradient(tape: Any, scores: Any, wrt: Any, target: int) -> np.ndarray:
    """Gradient of every row's ``target`` score; the one-hot seed selects it (a slice taken
    after the tape closed would not be recorded)."""
    import tensorflow as tf

    seed = tf.one_hot(tf.fill([tf.shape(scores)[0]], target), tf.shape(scores)[1], dtype=scores.dtype)
    return tape.gradient(scores, wrt, output_gradients=seed).numpy()
