"""The Keras models Xplique's gradient methods get, built from the adapter's surface.

- :func:`counted_scores_model`: ``model.scores_model(h, w)`` (the image's input space to raw scores,
  preprocessing inside, so maps come back at the image's resolution) behind a layer that reports
  every image it sees to ``model.count_forward``. Shared by the methods of one ``explain`` call, so
  TensorFlow traces it once.
- :func:`layered_scores_model`: ``model.score_model()``, the user's functional graph up to the raw
  scores, for the methods that must find the user's layers among the model's own (Grad-CAM's
  convolution, the ReLUs that guided backpropagation and DeconvNet rewrite); its input is the
  preprocessed model input.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from xaihub import MethodUnavailableError
from xaihub.models import GradientAdapter


def counted_scores_model(model: GradientAdapter, height: int, width: int) -> Any:
    """A ``keras.Model`` from a batch in :attr:`~GradientAdapter.input_space` to raw scores that
    counts its images with ``model.count_forward`` (inside ``tf.function`` graphs too)."""
    import keras

    def build() -> Any:
        scores = model.scores_model(height, width)
        source = keras.Input(shape=tuple(scores.inputs[0].shape[1:]))
        return keras.Model(source, scores(_image_counter(model.count_forward)(source)))

    return model.cache.get_or_compute("xplique-counted-scores-model", (height, width), build)


def _image_counter(count: Callable[[int], None]) -> Any:
    """An identity layer that calls ``count(batch size)`` each time it runs: a ``tf.py_function``,
    so that a traced graph calls it on every execution, not once when traced."""
    import keras
    import tensorflow as tf

    def report(size: Any) -> int:
        count(int(size))
        return 0

    class ImageCounter(keras.layers.Layer):
        def call(self, images: Any) -> Any:
            tf.py_function(report, [tf.shape(images)[0]], Tout=tf.int32)
            return images

    return ImageCounter(name="xaihub_image_counter")


def layered_scores_model(model: GradientAdapter, method: str) -> Any:
    """``model.score_model()`` when it is a functional or Sequential model with one output (Xplique
    reads its layers); :class:`MethodUnavailableError` otherwise."""
    network = model.score_model()
    try:
        outputs = list(network.outputs)
    except (AttributeError, ValueError):
        outputs = []
    if len(outputs) != 1:
        raise MethodUnavailableError(
            f"{method} reads the model's own layers: it needs a built Sequential or functional Keras "
            f"model with one output, got a {type(network).__name__}"
            + (f" with {len(outputs)} outputs" if outputs else " without a layer graph"))
    return network


@contextlib.contextmanager
def call_restored(layer: Any) -> Iterator[None]:
    """Put back the layer's own ``call`` after Xplique's Grad-CAM: it wraps ``layer.call`` to watch the
    feature map, and unwrapping leaves a bound method in the instance (or the wrapper, if it failed
    in between). The user's layer ends as it was."""
    had_call, call = "call" in vars(layer), vars(layer).get("call")
    try:
        yield
    finally:
        if had_call:
            object.__setattr__(layer, "call", call)
        else:
            vars(layer).pop("call", None)
        vars(layer).pop("result", None)
