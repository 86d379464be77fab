"""Adapter for Keras 3 models (TensorFlow backend). Imports keras only when such a model arrives.

Scores are read before a final softmax where the model allows it (a functional or Sequential model
whose last layer is a ``Softmax``/``Activation`` or has ``activation="softmax"``): a new
``keras.Model`` reads the last layer's input and applies a linear copy of that layer, so gradients
are taken of logits and the user's model itself is never changed. Feature maps for CAM methods are
read the same way, through a ``keras.Model(inputs, [layer.output, scores])`` sharing the user's layers; a
transformer's tokens through a model rebuilt on the same layers with the patch grid as a layer of its own
(:mod:`xaihub.models.keras_tokens`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from xaihub.core.errors import InputError, ModelError
from xaihub.models.base import ModelOptions
from xaihub.models.differentiable import GradientAdapter
from xaihub.models.keras_tokens import CONVOLUTIONS


class KerasAdapter(GradientAdapter):
    """Calls a ``keras.Model`` with ``training=False``; inputs stay ``N×H×W×C``.

    A model built for a fixed input size gets images resized to it when the declared
    preprocessing names no size (noted in the results).
    """

    framework = "keras"

    def __init__(self, model: Any, options: ModelOptions | None = None) -> None:
        super().__init__(model, options)
        self._logits: Any = None
        fixed = _fixed_input_size(model)
        declared = self.options.declared
        if declared is not None:
            fitted = declared.for_model(_input_channels(model), "the Keras model's input")
            if fitted is not declared:
                declared = fitted
                self.options = dataclasses.replace(self.options, preprocess=fitted)
        self._declared = declared
        if declared is not None and declared.size is None and fixed is not None:
            self._declared = declared.resized(fixed)
            self._note(f"the Keras model takes {fixed[0]}×{fixed[1]} inputs; images are resized to it")

    @property
    def score_kind(self) -> str:
        if self._reads_logits():
            return "multilabel-logit" if self.output_kind == "multilabel-logits" else "logit"
        return super().score_kind

    def differentiable_input(self, images: np.ndarray) -> Any:
        if self.input_space == "pixels":
            return self.from_channels_last(images)
        return self.model_input(images)

    def scores(self, inputs: Any) -> Any:
        x = self._declared.keras(inputs) if self.input_space == "pixels" else inputs
        out = self._guarded(lambda batch: self.score_model()(batch, training=False), x)
        self.count_forward(int(inputs.shape[0]))
        return self.select_output(out)

    def score_model(self) -> Any:
        if not self._reads_logits():
            return self.model
        if self._logits is None:
            self._logits = _functional(self.model, [self._score_tensor()])
        return self._logits

    def from_channels_last(self, values: np.ndarray) -> Any:
        import tensorflow as tf

        return tf.convert_to_tensor(np.asarray(values, dtype=np.float32))

    def probabilities(self, scores: Any) -> Any:
        import keras

        if self.score_kind == "logit":
            return keras.ops.softmax(scores, axis=-1)
        return keras.ops.sigmoid(scores) if self.score_kind == "multilabel-logit" else scores

    def model_input(self, images: np.ndarray) -> Any:
        import tensorflow as tf

        if self._declared is not None:
            return self._declared.keras(tf.convert_to_tensor(np.asarray(images, dtype=np.float32)))
        return tf.convert_to_tensor(np.asarray(self.prepare(images), dtype=np.float32))

    def layer(self, name: Any, image: np.ndarray, reshape: Any = None) -> tuple[Any, str]:
        """The CAM layer: ``name`` (a layer name or the layer itself) or, for ``None``, on a transformer (an
        attention layer after the last ``Conv2D``) the layer feeding its last attention, its first
        ``LayerNormalization`` (:mod:`xaihub.models.keras_tokens`), else the last ``Conv2D``. A layer whose
        output is tokens (or any layer, with ``reshape=``) comes back as a
        :class:`~xaihub.models.keras_tokens.TokenSource` read as an ``N×h×w×C`` grid."""
        from xaihub.models import keras_tokens

        net = self.model
        layers = list(getattr(net, "layers", []))
        convolutions = [layer.name for layer in layers if type(layer).__name__ in CONVOLUTIONS]
        if name is not None and not isinstance(name, str) and hasattr(name, "name"):
            if not any(layer is name for layer in layers):
                raise InputError(f"layer={name.name!r} ({type(name).__name__}) is not a layer of the model")
            name = name.name
        if name is None:
            chosen = keras_tokens.cam_layer(net) if _is_functional(net) else None
            if chosen is None and not convolutions:
                raise InputError("the model has neither a Conv2D layer nor an attention layer to explain; "
                                 "pass layer=<layer name>")
            name = chosen.name if chosen is not None else convolutions[-1]
        try:
            chosen = net.get_layer(name)
        except (ValueError, AttributeError):
            raise InputError(f"the model has no layer named {name!r}; its conv layers are {convolutions}") from None
        if reshape is None and type(chosen).__name__ in CONVOLUTIONS:
            return chosen, name
        if not _is_functional(net):
            raise InputError("token CAMs and reshape= read a layer through the model's graph: they need a built "
                             "Sequential or functional Keras model")
        input_hw = tuple(self.model_input(image[None]).shape[1:3])

        def source() -> Any:
            layout = keras_tokens.layout_of(net, chosen, input_hw, reshape)
            return chosen if layout is None else keras_tokens.TokenSource(chosen, layout)

        if reshape is not None:
            return source(), name
        return self.cache.get_or_compute("keras-cam-layer", (id(net), name, input_hw), source), name

    def layer_network(self, layer: Any) -> tuple[Any, Any]:
        """``(network, layer)``: :meth:`score_model` and ``layer`` in it, for a layer from :meth:`layer`;
        for a token layer, a rebuilt score model in which its grid is a layer of its own (for libraries
        that read a layer of a Keras model: Xplique)."""
        if hasattr(layer, "view"):
            return layer.view(self.score_model())
        return self.score_model(), layer

    def ablated_scores(self, inputs: Any, layer: Any, zeroed: list[int], capacity: int) -> Any:
        """The scores of ``inputs`` (a batch of at most ``capacity``) with, for row ``i``, channel ``zeroed[i]``
        of ``layer``'s feature map (from :meth:`layer`; a token layer's grid) set to zero (Ablation-CAM).
        Counts forward passes."""
        from xaihub.models import keras_tokens

        def network() -> Any:
            channels = int(_feature_channels(layer))
            mask = keras_tokens.channel_mask(capacity, channels, name=f"{layer.name}_ablation")
            if hasattr(layer, "view"):
                return layer.view(self.score_model(), mask=mask)[0], mask
            return keras_tokens.rebuilt(self.score_model(), layer, mask), mask

        if hasattr(layer, "view"):
            if ("ablation", capacity) not in layer.models:
                layer.models["ablation", capacity] = network()
            ablated, mask = layer.models["ablation", capacity]
        else:
            ablated, mask = self.cache.get_or_compute("keras-ablation", (id(self.model), layer.name, capacity), network)
        values = np.ones(tuple(mask.mask.shape), np.float32)
        values[np.arange(len(zeroed)), zeroed] = 0.0
        mask.mask.assign(values)
        x = self._declared.keras(inputs) if self.input_space == "pixels" else inputs
        scores = ablated(x, training=False)
        self.count_forward(int(inputs.shape[0]))
        return scores

    def layer_scores(self, inputs: Any, layer: Any) -> tuple[Any, Any]:
        if not _is_functional(self.model):
            raise InputError("CAM methods need a built Sequential or functional Keras model (one with model.inputs)")
        if hasattr(layer, "view"):
            if "probe" not in layer.models:
                layer.models["probe"] = _token_probe(*self.layer_network(layer))
            probe = layer.models["probe"]
        else:
            probe = self.cache.get_or_compute("keras-layer-probe", (id(self.model), layer.name),
                                              lambda: _functional(self.model, [layer.output, self._score_tensor()]))
        x = self._declared.keras(inputs) if self.input_space == "pixels" else inputs
        feature, scores = probe(x, training=False)
        self.count_forward(int(inputs.shape[0]))
        if len(feature.shape) != 4:
            raise InputError(f"layer {layer.name!r} gives {tuple(feature.shape)}; CAM methods need an N×h×w×C feature map")
        return feature, scores

    def channels_last(self, tensor: Any) -> np.ndarray:
        return np.asarray(tensor, dtype=np.float32)

    def scores_model(self, height: int, width: int) -> Any:
        """A ``keras.Model`` from a ``height×width×3`` :attr:`input_space` input to :meth:`scores`'
        values (for libraries that need a Keras model: shap, Xplique, OmniXAI). Shares the user's layers."""
        import keras

        source = keras.Input(shape=(height, width, 3)) if self.input_space == "pixels" \
            else keras.Input(shape=tuple(self.model_input(np.zeros((1, height, width, 3), np.float32)).shape[1:]))
        x = self._declared.keras(source) if self.input_space == "pixels" else source
        return keras.Model(source, self.select_output(self.score_model()(x, training=False)))

    # -- private ----------------------------------------------------------------------------------
    def _forward(self, batch: np.ndarray) -> Any:
        import keras

        x = self._declared.keras(keras.ops.convert_to_tensor(batch)) if self._declared is not None \
            else np.asarray(self.prepare(batch), dtype=np.float32)
        return self.model(x, training=False)

    def _to_numpy(self, scores: Any) -> np.ndarray:
        import keras

        return np.asarray(keras.ops.convert_to_numpy(scores))

    def _reads_logits(self) -> bool:
        return _is_functional(self.model) and _ends_in_softmax(self.model)

    def _score_tensor(self) -> Any:
        """The symbolic scores: the pre-softmax logits when the last layer applies softmax, else the output."""
        import keras

        net = self.model
        last = net.layers[-1]
        if not _ends_in_softmax(net):
            return net.outputs[0]
        if isinstance(last, (keras.layers.Softmax, keras.layers.Activation)):
            return last.input
        linear = type(last).from_config({**last.get_config(), "activation": "linear", "name": f"{last.name}_logits"})
        logits = linear(last.input)
        linear.set_weights(last.get_weights())
        return logits


def _input_channels(net: Any) -> int | None:
    """The channels (last axis) of a Keras model's image input, when it declares them."""
    try:
        shape = tuple(net.inputs[0].shape)
    except (AttributeError, IndexError, ValueError, TypeError):
        return None
    return int(shape[3]) if len(shape) == 4 and isinstance(shape[3], int) else None


def _fixed_input_size(net: Any) -> tuple[int, int] | None:
    try:
        shape = tuple(net.inputs[0].shape)
    except (AttributeError, IndexError, ValueError, TypeError):
        return None
    if len(shape) == 4 and isinstance(shape[1], int) and isinstance(shape[2], int):
        return shape[1], shape[2]
    return None


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


def _feature_channels(layer: Any) -> int:
    """The channels of a CAM layer's feature map (a token layer's: its tokens' last axis)."""
    source = getattr(layer, "layer", layer)
    return int(source.output.shape[-1])


def _token_probe(network: Any, grid: Any) -> Any:
    import keras

    return keras.Model(network.inputs, [grid.output, network.outputs[0]])


def _functional(net: Any, outputs: list[Any]) -> Any:
    import keras

    try:
        return keras.Model(net.inputs, outputs)
    except (AttributeError, ValueError, TypeError) as exc:
        raise ModelError(f"cannot read inside this Keras model ({exc}); this method needs a built "
                         "Sequential or functional model") from exc
