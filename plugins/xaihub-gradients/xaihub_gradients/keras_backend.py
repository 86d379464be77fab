"""Gradients of a Keras (TensorFlow) model's scores from ``tf.GradientTape`` (see
:mod:`xaihub_gradients.backends`). The adapter reads logits before a final softmax and feature
maps through models that share the user's layers, so the user's model is never changed."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub.models import GradientAdapter
from xaihub_gradients.layer_gradients import LayerGradients


def input_gradients(model: GradientAdapter, inputs: np.ndarray, targets: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    x = model.from_channels_last(inputs)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        scores = model.scores(x)
    gradients = [_target_gradient(tape, scores, x, t) for t in targets]
    del tape
    return np.asarray(scores)[:, list(targets)], np.stack(gradients)


def layer_gradients(model: GradientAdapter, image: np.ndarray, targets: Sequence[int], layer: Any,
                    reshape: Any = None) -> LayerGradients:
    import tensorflow as tf

    chosen, name = model.layer(layer, image, reshape=reshape)
    with tf.GradientTape(persistent=True) as tape:
        activation, scores = model.layer_scores(model.differentiable_input(image[None]), chosen)
    gradients = [_target_gradient(tape, scores, activation, t)[0] for t in targets]
    del tape
    return LayerGradients(layer=name, activations=np.asarray(activation)[0], gradients=np.stack(gradients))


def layer_ablations(model: GradientAdapter, image: np.ndarray, targets: Sequence[int], layer: Any,
                    reshape: Any = None) -> tuple[LayerGradients, np.ndarray]:
    """The layer's feature map (``gradients`` empty) and, per target, ``(y − y_k) / y`` for each channel
    ``k``: the relative drop of the target's raw score when channel ``k`` is zeroed (``T×K``)."""
    import tensorflow as tf

    chosen, name = model.layer(layer, image, reshape=reshape)
    x = model.differentiable_input(image[None])
    activation, scores = model.layer_scores(x, chosen)
    channels = int(activation.shape[-1])
    per_batch = min(channels, model.images_per_batch(*image.shape[:2]))
    ablated = []
    for start in range(0, channels, per_batch):
        ks = list(range(start, min(channels, start + per_batch)))
        batch = tf.repeat(x, len(ks), axis=0)
        ablated.append(np.asarray(model.ablated_scores(batch, chosen, ks, per_batch))[:, list(targets)])
    full = np.asarray(scores)[0, list(targets)].astype(np.float64)[:, None]
    drops = np.concatenate(ablated).astype(np.float64).T
    weights = np.divide(full - drops, full, out=np.zeros_like(drops), where=np.abs(full) > 1e-12)
    features = LayerGradients(layer=name, activations=np.asarray(activation)[0], gradients=np.zeros((0,), np.float32))
    return features, weights


def _target_gradient(tape: Any, scores: Any, wrt: Any, target: int) -> np.ndarray:
    """Gradient of every row's ``target`` score; the one-hot seed selects it (a slice taken
    after the tape closed would not be recorded)."""
    import tensorflow as tf

    seed = tf.one_hot(tf.fill([tf.shape(scores)[0]], target), tf.shape(scores)[1], dtype=scores.dtype)
    return tape.gradient(scores, wrt, output_gradients=seed).numpy()
