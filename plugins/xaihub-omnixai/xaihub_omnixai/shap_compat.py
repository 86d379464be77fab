"""Giving OmniXAI 1.3.1's SHAP wrapper the shap output it was written for, for the classes asked, and
shap's DeepExplainer only models it has rules for.

Since shap 0.45, ``DeepExplainer.shap_values`` returns one array ``N×…×K`` (class last) instead of
a list of ``K`` arrays ``N×…``. OmniXAI indexes ``values[label][i]``, which on the new array picks
image ``label`` and channel (torch) or row (TF) ``i``. Within :func:`per_class_values`, OmniXAI's
module sees a ``DeepExplainer`` that explains only the ``ranked`` most probable outputs (shap walks
every output otherwise: 1000 backward passes per image for an ImageNet model) and answers
``values[label]`` for those classes, so OmniXAI's indexing means what it meant: class ``label``, image ``i``.
shap's own additivity check cannot run on ranked outputs (it walks every output), so the shim
measures the gap itself: ``f(x) − E[f(background)] − Σ values`` per image, in :attr:`Recorder.gaps`.

shap's DeepExplainer propagates DeepLIFT multipliers through the layer types (torch) or ops (TF) of
its tables; a torch layer outside them gets the plain gradient with a warning, which is wrong for a
non-linear layer, and a TF op outside them fails the call. Within :func:`per_class_values` the tables
also hold the rules shap already has for their kind: its rescale rule (the one it gives ``ReLU``,
``ELU``, ``GELU``) for element-wise activations it does not list (``ReLU6``, ``SiLU``, ``Hardswish``),
its linear rule for depthwise convolutions (linear like the ``Conv2D`` it lists).
:func:`unsupported_torch_layers` and :func:`unsupported_tf_ops` name what still has no rule
(``LayerNorm``, ``AdaptiveMaxPool2d``, attention), so the method refuses such a model upfront.
"""

from __future__ import annotations

import contextlib
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

_LINEAR = ("ZeroPad2d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d", "Unflatten", "Dropout1d",
           "NonDynamicallyQuantizableLinear")
"""torch layers without a rule whose plain gradient is their DeepLIFT multiplier (linear re-indexing)."""
_TORCH_ELEMENT_WISE = ("ReLU6", "SiLU", "Hardswish", "Hardsigmoid", "Hardtanh", "Mish")
_COMPUTING_CONTAINERS = ("MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer")
"""Modules with children that compute non-linearly themselves, out of shap's sight."""
_TF_ELEMENT_WISE = ("Relu6", "LeakyRelu")
_TF_LINEAR = ("DepthwiseConv2dNative",)


@dataclass
class Recorder:
    """What the shim saw: ``gaps[(row, class)] = (gap, score difference)`` for every explained row and class."""

    gaps: dict[tuple[int, int], tuple[float, float]] = field(default_factory=dict)


class _PerClass:
    """``values[label]``: the ``N×…`` values of class ``label`` (one of the explained classes)."""

    def __init__(self, per_rank: list[np.ndarray], ranks: np.ndarray) -> None:
        self.per_rank, self.ranks = per_rank, ranks

    def __getitem__(self, label: int) -> np.ndarray:
        rows = [self.per_rank[list(self.ranks[i]).index(label)][i] for i in range(len(self.ranks))]
        return np.stack(rows)


def _shim(ranked: int, recorder: Recorder) -> type:
    class RankedDeepExplainer:
        def __init__(self, model: Any, data: Any) -> None:
            import shap

            self.model, self.data = model, data
            self._explainer = shap.DeepExplainer(model, data)

        def shap_values(self, inputs: Any) -> _PerClass:
            values, ranks = self._explainer.shap_values(inputs, ranked_outputs=ranked, check_additivity=False)
            ranks = np.asarray(ranks.cpu() if hasattr(ranks, "cpu") else ranks)
            per_rank = list(values) if isinstance(values, list) else [values[..., r] for r in range(ranks.shape[1])]
            outputs = _numpy(self.model(inputs))
            expected = np.atleast_1d(np.asarray(self._explainer.expected_value, dtype=np.float64))
            for i, row in enumerate(ranks):
                for r, label in enumerate(row):
                    difference = float(outputs[i, label] - expected[label])
                    gap = difference - float(np.asarray(per_rank[r][i], dtype=np.float64).sum())
                    recorder.gaps[(i, int(label))] = (gap, difference)
            return _PerClass(per_rank, ranks)

    return RankedDeepExplainer


def _numpy(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu()
    return np.asarray(values, dtype=np.float64)


def unsupported_torch_layers(net: Any) -> list[str]:
    """The layers of a torch model shap's DeepExplainer has no rule for, as ``"Type (module 'name')"``."""
    from shap.explainers._deep.deep_pytorch import op_handler

    known = {*op_handler, *_LINEAR, *_TORCH_ELEMENT_WISE}
    found = []
    for name, module in net.named_modules():
        kind = type(module).__name__
        leaf = next(module.children(), None) is None
        if (leaf and kind not in known) or kind in _COMPUTING_CONTAINERS:
            found.append(f"{kind} (module {name!r})")
    return found


def unsupported_tf_ops(view: Any) -> list[str]:
    """The TF ops between the input and the output of a Keras model (one traced graph, no evaluation)
    that shap's TF DeepExplainer has no rule for, even with the rules :func:`per_class_values` lends."""
    import tensorflow as tf
    from shap.explainers._deep.deep_tf import op_handlers

    spec = tf.TensorSpec(view.inputs[0].shape, tf.float32)
    graph = tf.function(lambda x: view(x, training=False)).get_concrete_function(spec).graph
    known = {*op_handlers, *_TF_ELEMENT_WISE, *_TF_LINEAR}
    path = _reachable([graph.inputs[0].op], lambda op: [c for t in op.outputs for c in t.consumers()]) & \
        _reachable([t.op for t in graph.outputs], lambda op: [t.op for t in op.inputs])
    return sorted({op.type for op in path if op.type not in known and op.type != "Placeholder"})


def _reachable(start: list[Any], following: Any) -> set[Any]:
    seen, stack = set(start), list(start)
    while stack:
        for op in following(stack.pop()):
            if op not in seen:
                seen.add(op)
                stack.append(op)
    return seen


@contextlib.contextmanager
def per_class_values(ranked: int) -> Iterator[Recorder]:
    """While active, OmniXAI's ``ShapImage`` explains the ``ranked`` most probable classes of each image
    and gets per-class values, with shap's rules lent to the layers and ops of their kind; yields the
    :class:`Recorder` of additivity gaps.

    shap's TF DeepExplainer swaps TensorFlow's gradient recorder and puts it back only when the model
    runs through: after a failure every later TF gradient would look for ``shap_*`` ops. It is put back here.
    """
    from omnixai.explainers.vision.agnostic import shap as omnixai_shap

    recorder = Recorder()
    original = omnixai_shap.shap
    omnixai_shap.shap = types.SimpleNamespace(DeepExplainer=_shim(ranked, recorder))
    gradient_recorder = _tf_gradient_recorder()
    tables = _lent_rules()
    try:
        yield recorder
    finally:
        omnixai_shap.shap = original
        for table, added in tables:
            for kind in added:
                del table[kind]
        if gradient_recorder is not None:
            from tensorflow.python.eager import execute

            execute.record_gradient = gradient_recorder


def _lent_rules() -> list[tuple[dict, list[str]]]:
    """Add shap's own rules for the layers and ops of their kind it does not list (see the module
    docstring) to the tables of the frameworks loaded; returns each table with the keys added."""
    lent = []
    if "torch" in sys.modules:
        from shap.explainers._deep import deep_pytorch

        lent.append(_lend(deep_pytorch.op_handler, {kind: deep_pytorch.nonlinear_1d for kind in _TORCH_ELEMENT_WISE}))
    if "tensorflow" in sys.modules:
        from shap.explainers._deep import deep_tf

        rules = {**{op: deep_tf.nonlinearity_1d(0) for op in _TF_ELEMENT_WISE},
                 **{op: deep_tf.linearity_1d(0) for op in _TF_LINEAR}}
        lent.append(_lend(deep_tf.op_handlers, rules))
    return lent


def _lend(table: dict, rules: dict) -> tuple[dict, list[str]]:
    added = [kind for kind in rules if kind not in table]
    table.update({kind: rules[kind] for kind in added})
    return table, added


def _tf_gradient_recorder() -> Any:
    if "tensorflow" not in sys.modules:
        return None
    from tensorflow.python.eager import execute

    return execute.record_gradient
