"""Keeping OmniXAI away from the user's model, and counting what it evaluates.

OmniXAI's torch explainers register hooks (Grad-CAM's are removed only when the
explainer is garbage-collected, and shap's DeepExplainer leaves its own), and old-style
backward hooks clash with full backward hooks another library may have used on the same
module. So OmniXAI gets a deep copy of a torch module for every call, and the user's
module is checked afterwards: same hooks, same train/eval mode.

OmniXAI calls the model it is given directly, so the adapter does not see those calls: they are
counted on the way in (a hook on the torch copy; a counting layer in the Keras view) and added to
the adapter's forward passes.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any, Iterator

import numpy as np

from xaihub import MethodUnavailableError, ModelError
from xaihub.models import GradientAdapter


def check_layer_graph(model: GradientAdapter, method: str) -> None:
    """Refuse a Keras model whose layers OmniXAI cannot read (a subclassed model has no graph of them)."""
    if model.framework == "keras" and not _has_graph(model.model):
        raise MethodUnavailableError(
            f"{method} reads the layers of a Keras model's graph (OmniXAI builds models from its inputs to "
            "a layer), which a subclassed keras.Model does not have; pass a Sequential or functional model")


@contextlib.contextmanager
def private_model(model: GradientAdapter, method: str, image: np.ndarray, layer_graph: bool) -> Iterator[Any]:
    """The framework model OmniXAI may use, whose evaluations are counted as the adapter's forward passes.

    torch: an eval-mode deep copy, giving the class scores among the model's outputs (a dict or tuple
    output is read as the adapter reads it); on exit, :class:`ModelError` if the user's module's hooks
    or mode changed. Keras: a view sharing the user's layers (OmniXAI reads ``model.output``, which a
    Keras 3 ``Sequential`` does not define): with ``layer_graph``, the model's own graph (for methods
    that read layers); else the model called on an input of this image's model-input size, which also
    serves subclassed models and those built for any input size.
    """
    if model.framework == "torch":
        with _torch_copy(model, method) as network:
            yield network
        return
    from xaihub.models.keras_counter import EvaluationCounter

    counter = EvaluationCounter()
    yield keras_view(model, image, layer_graph, counter)
    model.count_forward(counter.count())


def layers_of(network: Any) -> Any:
    """Where the adapter's layer names point in ``network``: the torch copy inside its wrapper, the Keras view."""
    return getattr(network, "copy", network)


@contextlib.contextmanager
def _torch_copy(model: GradientAdapter, method: str) -> Iterator[Any]:
    from xaihub.models.torch_scores import SelectedScores
    from xaihub.models.torch_state import ModuleState

    user = model.model
    before = ModuleState.capture(user)
    private = SelectedScores(copy.deepcopy(user).eval(), model.select_output)
    handle = private.register_forward_pre_hook(lambda module, inputs: model.count_forward(len(inputs[0])))
    try:
        yield private
    finally:
        handle.remove()
        del private
    changed = before.changes(user)
    if changed:
        raise ModelError(f"{method} changed the {', '.join(changed)} of the model it was given")


def keras_view(model: GradientAdapter, image: np.ndarray, layer_graph: bool, counter: Any = None) -> Any:
    """The Keras view :func:`private_model` hands OmniXAI (its output passed through ``counter``, if given)."""
    import keras

    def counted(scores: Any) -> Any:
        return scores if counter is None else counter(scores)

    net = model.model
    if layer_graph:
        try:
            outputs = net.outputs
            return keras.Model(net.inputs, counted(model.select_output(outputs[0] if len(outputs) == 1 else outputs)))
        except (AttributeError, ValueError, TypeError) as exc:
            raise ModelError(f"cannot read the layers of this Keras model: {exc}") from exc
    inputs = keras.Input(shape=tuple(model.model_input(image[None]).shape[1:]))
    return keras.Model(inputs, counted(model.select_output(net(inputs, training=False))))


def _has_graph(net: Any) -> bool:
    try:
        return bool(net.inputs)
    except (AttributeError, ValueError):
        return False
