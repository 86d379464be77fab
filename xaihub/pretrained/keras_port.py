"""EfficientNet-Lite in Keras 3, built layer by layer from the torch model of ``efficientnet-lite-pytorch``.

The port reads its architecture and weights from a torch ``EfficientNet`` (the blocks' kernel
sizes, strides, paddings and skip connections, the batch norms' statistics), so the two compute
the same function:

- torch's static "same" padding (``Conv2dStaticSamePadding``: a ``ZeroPad2d``, one pixel more on
  the right and bottom when the padding is odd) becomes an explicit ``ZeroPadding2D`` before a
  ``'valid'`` convolution;
- convolution kernels go from torch's ``out×in×h×w`` to Keras' ``h×w×in×out`` (depthwise ones to
  ``h×w×channels×1``), the classifier's matrix is transposed;
- ``BatchNorm2d`` keeps its epsilon, and its momentum becomes ``1 - momentum`` (Keras weighs the
  running average, torch the new batch);
- ReLU6 stays ReLU6; the model returns logits, as the torch model does.

Layers are named after their role: ``stem_conv``, ``block{i}_expand_conv``,
``block{i}_depthwise_conv``, ``block{i}_project_conv``, ``head_conv`` (the last convolution, which
CAM methods pick), ``logits``.
"""

from __future__ import annotations

from typing import Any

from xaihub.core.errors import ModelError


def keras_port(net: Any, name: str) -> Any:
    """A functional ``keras.Model`` named ``name`` (NHWC input) computing the torch EfficientNet-Lite ``net``."""
    import keras

    size = net._global_params.image_size
    inputs = keras.Input((size, size, 3), name="image")
    x = _conv_bn_relu6(inputs, net._conv_stem, net._bn0, net._swish, "stem")
    for index, block in enumerate(net._blocks):
        x = _block(x, block, f"block{index}")
    x = _conv_bn_relu6(x, net._conv_head, net._bn1, net._swish, "head")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(net._dropout.p, name="dropout")(x)
    logits = _with_weights(keras.layers.Dense(net._fc.out_features, name="logits"), x,
                           [_numpy(net._fc.weight).T, _numpy(net._fc.bias)])
    return keras.Model(inputs, logits, name=name)


def _block(x: Any, block: Any, name: str) -> Any:
    """An MBConv block: expand (1×1), depthwise, project (1×1), and the skip connection."""
    import keras

    args = block._block_args
    if block.has_se:
        raise ModelError(f"{name} has squeeze-and-excitation, which the Keras port of EfficientNet-Lite lacks")
    inputs = x
    if args.expand_ratio != 1:
        x = _conv_bn_relu6(x, block._expand_conv, block._bn0, block._swish, f"{name}_expand")
    x = _conv_bn_relu6(x, block._depthwise_conv, block._bn1, block._swish, f"{name}_depthwise")
    x = _batch_norm(_conv(x, block._project_conv, f"{name}_project_conv"), block._bn2, f"{name}_project_bn")
    # The torch block's rule, kept as it is: its stride is 1 or [1], and a stride of [1] means no skip.
    if args.id_skip and args.stride == 1 and args.input_filters == args.output_filters:
        x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return x


def _conv_bn_relu6(x: Any, conv: Any, bn: Any, activation: Any, name: str) -> Any:
    import keras
    from torch import nn

    if not isinstance(activation, nn.ReLU6):
        raise ModelError(f"{name} uses {type(activation).__name__}; the Keras port of EfficientNet-Lite has ReLU6")
    x = _batch_norm(_conv(x, conv, f"{name}_conv"), bn, f"{name}_bn")
    return keras.layers.ReLU(max_value=6.0, name=f"{name}_relu6")(x)


def _conv(x: Any, conv: Any, name: str) -> Any:
    """A ``Conv2dStaticSamePadding`` (plain or depthwise) as ``ZeroPadding2D`` + a ``'valid'`` convolution."""
    import keras
    from torch import nn

    depthwise = conv.groups > 1 and conv.groups == conv.in_channels == conv.out_channels
    if (conv.groups > 1 and not depthwise) or conv.dilation != (1, 1) or conv.padding != (0, 0):
        raise ModelError(f"{name}: the Keras port has no grouped, dilated or implicitly padded convolution ({conv})")
    if isinstance(conv.static_padding, nn.ZeroPad2d):
        left, right, top, bottom = conv.static_padding.padding
        x = keras.layers.ZeroPadding2D(((top, bottom), (left, right)), name=f"{name}_pad")(x)
    options = dict(kernel_size=conv.kernel_size, strides=tuple(conv.stride), padding="valid",
                   use_bias=conv.bias is not None, name=name)
    if depthwise:
        layer = keras.layers.DepthwiseConv2D(**options)
        kernel = _numpy(conv.weight).transpose(2, 3, 0, 1)  # C×1×h×w -> h×w×C×1
    else:
        layer = keras.layers.Conv2D(conv.out_channels, **options)
        kernel = _numpy(conv.weight).transpose(2, 3, 1, 0)  # out×in×h×w -> h×w×in×out
    return _with_weights(layer, x, [kernel] + ([_numpy(conv.bias)] if conv.bias is not None else []))


def _batch_norm(x: Any, bn: Any, name: str) -> Any:
    import keras

    layer = keras.layers.BatchNormalization(momentum=1.0 - bn.momentum, epsilon=bn.eps, name=name)
    return _with_weights(layer, x, [_numpy(bn.weight), _numpy(bn.bias), _numpy(bn.running_mean),
                                    _numpy(bn.running_var)])


def _with_weights(layer: Any, x: Any, weights: list[Any]) -> Any:
    """Call ``layer`` on ``x`` (which builds it), then give it ``weights``."""
    out = layer(x)
    layer.set_weights(weights)
    return out


def _numpy(tensor: Any) -> Any:
    return tensor.detach().cpu().numpy()
