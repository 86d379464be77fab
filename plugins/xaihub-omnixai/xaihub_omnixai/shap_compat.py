"""Giving OmniXAI 1.3.1's SHAP wrapper the shap output it was written for, for the classes asked.

Since shap 0.45, ``DeepExplainer.shap_values`` returns one array ``N×…×K`` (class last) instead of
a list of ``K`` arrays ``N×…``. OmniXAI indexes ``values[label][i]``, which on the new array picks
image ``label`` and channel (torch) or row (TF) ``i``. Within :func:`per_class_values`, OmniXAI's
module sees a ``DeepExplainer`` that explains only the ``ranked`` most probable outputs (shap walks
every output otherwise: 1000 backward passes per image for an ImageNet model) and answers
``values[label]`` for those classes, so OmniXAI's indexing means what it meant: class ``label``, image ``i``.

shap's own additivity check cannot run on ranked outputs (it walks every output), so the shim
measures the gap itself: ``f(x) − E[f(background)] − Σ values`` per image, recorded in
:attr:`Recorder.gaps`.

shap's DeepLIFT rules are looked up by layer (torch) or op (TF) type; :func:`deeplift_rules` adds,
for the duration of a call, the rescale rule for element-wise activations (ReLU6, SiLU, Hardswish,
...) and the linear rule for depthwise convolutions, which published models use and shap's tables
lack. :func:`unsupported_layers` names what remains unknown, before any work.
"""

from __future__ import annotations

import contextlib
import threading
import types
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

TORCH_ELEMENT_WISE = ("ReLU6", "Hardswish", "Hardsigmoid", "SiLU", "Mish", "Hardtanh")
_TORCH_LINEAR = ("ZeroPad2d", "ConstantPad2d", "Identity", "Flatten", "Unflatten")
_TF_ELEMENT_WISE = ("Relu6", "LeakyRelu", "Gelu")
_TF_LINEAR = ("DepthwiseConv2dNative", "PadV2", "MirrorPad")
_tables = threading.Lock()


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


@contextlib.contextmanager
def per_class_values(ranked: int) -> Iterator[Recorder]:
    """While active, OmniXAI's ``ShapImage`` explains the ``ranked`` most probable classes of each
    image and gets per-class values; yields the :class:`Recorder` of additivity gaps."""
    from omnixai.explainers.vision.agnostic import shap as omnixai_shap

    recorder = Recorder()
    original = omnixai_shap.shap
    omnixai_shap.shap = types.SimpleNamespace(DeepExplainer=_shim(ranked, recorder))
    try:
        yield recorder
    finally:
        omnixai_shap.shap = original


@contextlib.contextmanager
def deeplift_rules() -> Iterator[None]:
    """shap's DeepLIFT tables, with the element-wise and depthwise rules above, for the block's duration."""
    from shap.explainers._deep import deep_pytorch, deep_tf

    with _tables:
        torch_saved, tf_saved = dict(deep_pytorch.op_handler), dict(deep_tf.op_handlers)
        deep_pytorch.op_handler.update({name: deep_pytorch.nonlinear_1d for name in TORCH_ELEMENT_WISE})
        deep_tf.op_handlers.update({name: deep_tf.nonlinearity_1d(0) for name in _TF_ELEMENT_WISE})
        deep_tf.op_handlers.update({name: deep_tf.linearity_1d(0) for name in _TF_LINEAR})
        try:
            yield
        finally:
            deep_pytorch.op_handler.clear()
            deep_pytorch.op_handler.update(torch_saved)
            deep_tf.op_handlers.clear()
            deep_tf.op_handlers.update(tf_saved)


def unsupported_layers(net: Any) -> list[str]:
    """Leaf modules of a torch model that shap's DeepExplainer has no rule for and that are not linear."""
    from shap.explainers._deep.deep_pytorch import op_handler
    from torch import nn

    known = set(op_handler) | set(TORCH_ELEMENT_WISE) | set(_TORCH_LINEAR)
    linear = (nn.Conv2d, nn.Linear, nn.BatchNorm2d)
    return [f"{type(module).__name__} (module {name!r})" for name, module in net.named_modules()
            if name and next(module.children(), None) is None
            and type(module).__name__ not in known and not isinstance(module, linear)]
