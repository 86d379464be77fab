"""Token CAMs on Keras 3 vision transformers (the Keras side of :mod:`xaihub.models.token_grid`). Imports
keras only when called; the grid arithmetic is :mod:`xaihub.models.token_layout`'s.

- :func:`cam_layer` picks the CAM layer of a functional or Sequential transformer: the layer feeding its
  last attention layer, which on a pre-norm block is the block's first ``LayerNormalization`` (on a model
  that pools a class token, the last block's output would give the patch tokens no gradient; see
  :mod:`xaihub.models.token_grid`). An attention layer nested in a custom block layer counts as the block.
- :func:`layout_of` infers the patch grid of a layer's ``N×T×C`` tokens: the grid a ``Reshape`` layer
  states (``N×h×w×C`` → ``N×(h·w)×C`` after the patch embedding), else the patch size of the first
  ``Conv2D`` whose kernel equals its strides, else a square grid; it refuses upfront, naming ``layer=``
  and ``reshape=``, where none fits. ``reshape=`` (a callable ``tokens → N×h×w×C`` that only rearranges
  values: slices, ``reshape``, ``transpose``) replaces the inferred layout.
- :class:`TokenSource` is what the adapter hands CAM code for such a layer: :meth:`TokenSource.view`
  rebuilds a model that shares the user's layers with the tokens passing through a grid layer whose
  output is ``N×h×w×C``, so xaihub's CAMs and a library's (Xplique, OmniXAI), which read a layer's output
  and its gradient, see it as a convolution. The values reaching the rest of the model are the tokens
  themselves (:class:`TokenMerge`), so the scores and the gradients below the layer are unchanged, and
  the gradient at the grid is the layout of the tokens' gradient, exactly.
"""

from __future__ import annotations

from typing import Any, Callable

from xaihub.core.errors import InputError
from xaihub.models.token_layout import Layout, token_layout

ATTENTION = ("MultiHeadAttention", "GroupedQueryAttention", "Attention", "AdditiveAttention")
"""Keras attention layers (by class name)."""
CONVOLUTIONS = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D")
"""Keras convolutions whose output a CAM reads as it is (by class name)."""


def has_attention(layer: Any) -> bool:
    """Whether ``layer`` is an attention layer or a custom layer with one inside (a transformer block)."""
    inside = getattr(layer, "_flatten_layers", None)
    layers = list(inside(include_self=True, recursive=True)) if inside else [layer]
    return any(type(sub).__name__ in ATTENTION for sub in layers)


def cam_layer(net: Any) -> Any | None:
    """The layer whose tokens a CAM on the transformer ``net`` should read (see the module's docstring), or
    ``None`` when no attention layer runs after its last convolution."""
    layers = list(getattr(net, "layers", []))
    blocks = [i for i, layer in enumerate(layers) if has_attention(layer)]
    convolutions = [i for i, layer in enumerate(layers) if type(layer).__name__ in CONVOLUTIONS]
    if not blocks or (convolutions and convolutions[-1] > blocks[-1]):
        return None
    return _producer(layers[blocks[-1]])


def patch_size(net: Any) -> int | None:
    """The stride of the first ``Conv2D`` whose kernel equals its strides (a patch embedding), if any."""
    for layer in getattr(net, "layers", []):
        if type(layer).__name__ == "Conv2D" and tuple(layer.kernel_size) == tuple(layer.strides) and layer.strides[0] > 1:
            return int(layer.strides[0]) if layer.strides[0] == layer.strides[1] else None
    return None


def stated_grids(net: Any) -> list[tuple[int, int]]:
    """The ``h×w`` grids of the ``Reshape`` layers that turn an ``N×h×w×C`` map into ``N×T×C`` tokens."""
    grids = []
    for layer in getattr(net, "layers", []):
        if type(layer).__name__ == "Reshape":
            source, target = _shape(layer.input), _shape(layer.output)
            if len(source) == 4 and len(target) == 3 and all(isinstance(s, int) for s in source[1:3]):
                grids.append((source[1], source[2]))
    return grids


def layout_of(net: Any, layer: Any, input_hw: tuple[int, int], reshape: Callable[[Any], Any] | None = None
              ) -> Layout | None:
    """The layout of ``layer``'s output (``None``: already an ``N×h×w×C`` map); :class:`~xaihub.InputError`
    where it is neither a map nor tokens whose grid can be inferred."""
    if reshape is not None:
        return Layout("custom", reshape=reshape)
    shape = _shape(layer.output)
    if len(shape) == 4:
        return None
    if len(shape) != 3:
        raise InputError(f"layer {layer.name!r} gives {shape}; CAM methods need an N×h×w×C feature map or N×T×C "
                         "tokens (else pass reshape=<output → N×h×w×C> or layer=<another layer>)")
    return token_layout(shape, input_hw, patch_size(net), stated_grids(net))


class TokenSource:
    """A Keras layer whose output CAMs read through a :class:`~xaihub.models.token_layout.Layout`."""

    def __init__(self, layer: Any, layout: Layout) -> None:
        self.layer, self.layout, self.name = layer, layout, layer.name
        self.models: dict[Any, Any] = {}
        """The models the adapter built to read this grid (by purpose), kept with it."""

    def view(self, network: Any, mask: Any = None) -> tuple[Any, Any]:
        """``(model, grid layer)``: ``network`` (a Sequential or functional model sharing the user's layers)
        rebuilt on the same layers with :attr:`layer`'s output passed through a new grid layer (its output
        ``N×h×w×C``) and back; the model's scores are ``network``'s. ``mask`` (a
        :func:`channel_mask` layer) scales the grid's channels on their way back."""
        grid_type, merge_type = _layer_types()[:2]
        grid = grid_type(self.layout, name=f"{self.name}_grid")
        merge = merge_type(self.layout, name=f"{self.name}_tokens")

        def through_grid(tokens: Any) -> Any:
            values = grid(tokens)
            return merge([tokens, values if mask is None else mask(values)])

        return rebuilt(network, self.layer, through_grid), grid


def channel_mask(capacity: int, channels: int, name: str) -> Any:
    """A layer multiplying row ``i`` of an ``N×h×w×C`` batch by row ``i`` of its ``capacity×channels``
    ``mask`` variable (ones until assigned; ``N ≤ capacity``): Ablation-CAM zeroes one channel per row."""
    return _layer_types()[2](capacity, channels, name=name)


def rebuilt(network: Any, layer: Any, after: Callable[[Any], Any]) -> Any:
    """``network`` (Sequential or functional) rebuilt on the same layers, ``after`` applied to ``layer``'s
    output before the rest of the model reads it; :class:`~xaihub.InputError` where ``layer`` does not run."""
    import keras

    applied: list[bool] = []

    def call(called: Any, *args: Any, **kwargs: Any) -> Any:
        out = called(*args, **kwargs)
        if called is layer:
            applied.append(True)
            return after(out)
        return out

    if isinstance(network, keras.Sequential):
        inputs = keras.Input(batch_shape=network.inputs[0].shape)
        x = inputs
        for member in network.layers:
            x = call(member, x)
        model = keras.Model(inputs, x)
    else:
        model = keras.models.clone_model(network, clone_function=lambda member: member, call_function=call)
    if not applied:
        raise InputError(f"layer {layer.name!r} does not run in the model's graph; pass layer=<one of its layers>")
    return model


def _producer(layer: Any) -> Any:
    """The layer that computed ``layer``'s first input (read from Keras 3's graph of the model)."""
    try:
        return layer._inbound_nodes[0].input_tensors[0]._keras_history.operation
    except (AttributeError, IndexError) as exc:
        raise InputError(f"cannot read which layer feeds the attention layer {layer.name!r} ({exc}); "
                         "pass layer=<the layer whose tokens a CAM should read>") from None


def _shape(tensor: Any) -> tuple:
    return tuple(getattr(tensor, "shape", ()))


_TYPES: list[Any] = []


def _layer_types() -> tuple[Any, Any, Any]:
    if _TYPES:
        return _TYPES[0]
    import keras

    class TokenGrid(keras.layers.Layer):
        """``layout(tokens)``: an ``N×h×w×C`` map."""

        def __init__(self, layout: Layout, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.layout = layout

        def call(self, tokens: Any) -> Any:
            return self.layout.channels_last(tokens)

    class TokenMerge(keras.layers.Layer):
        """``tokens + Lᵀ(grid − L tokens)``: the tokens' values where ``grid`` is their layout (the patch
        tokens replaced by ``grid``'s values where a layer between changed them: Ablation-CAM); the gradient
        at ``grid`` is the layout of the tokens' gradient, and the tokens' own gradient is unchanged (the
        ``− Lᵀ L`` term cancels what reaches them through the grid)."""

        def __init__(self, layout: Layout, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.layout = layout

        def call(self, inputs: Any) -> Any:
            tokens, grid = inputs
            return tokens + self._adjoint(grid - self.layout.channels_last(tokens), tokens)

        def _adjoint(self, values: Any, tokens: Any) -> Any:
            if self.layout.kind == "tokens":
                return self.layout.tokens_of(values, tokens)
            import tensorflow as tf

            probe = tf.stop_gradient(tokens)
            with tf.GradientTape() as tape:
                tape.watch(probe)
                view = self.layout.channels_last(probe)
            return tape.gradient(view, probe, output_gradients=values)

    class ChannelMask(keras.layers.Layer):
        """Row ``i`` of the batch times row ``i`` of the ``mask`` variable (see :func:`channel_mask`)."""

        def __init__(self, capacity: int, channels: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.mask = self.add_weight(shape=(capacity, channels), initializer="ones", trainable=False, name="mask")

        def call(self, values: Any) -> Any:
            rows = self.mask[:keras.ops.shape(values)[0]]
            return values * keras.ops.reshape(rows, (-1, 1, 1, rows.shape[-1]))

    _TYPES.append((TokenGrid, TokenMerge, ChannelMask))
    return _TYPES[0]
