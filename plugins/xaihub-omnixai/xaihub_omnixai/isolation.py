"""Keeping OmniXAI away from the user's model.

OmniXAI's torch explainers register hooks (Grad-CAM's are removed only when the
explainer is garbage-collected, and shap's DeepExplainer leaves its own), and old-style
backward hooks clash with full backward hooks another library may have used on the same
module. So OmniXAI gets a deep copy of a torch module for every call, and the user's
module is checked afterwards: same hooks, same train/eval mode.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any, Iterator

from xaihub import ModelError
from xaihub.models import ModelAdapter


@contextlib.contextmanager
def private_model(model: ModelAdapter, method: str) -> Iterator[Any]:
    """The framework model OmniXAI may use: an eval-mode deep copy for torch; for Keras, a
    functional view sharing the user's layers (OmniXAI reads ``model.output``, which a Keras 3
    ``Sequential`` does not define).

    On exit, raises :class:`ModelError` if the user's torch module's hooks or mode changed.
    """
    if model.framework != "torch":
        yield _functional_view(model.model)
        return
    from xaihub.models.torch_state import ModuleState

    user = model.model
    before = ModuleState.capture(user)
    private = copy.deepcopy(user).eval()
    try:
        yield private
    finally:
        del private
    changed = before.changes(user)
    if changed:
        raise ModelError(f"{method} changed the {', '.join(changed)} of the model it was given")


def _functional_view(net: Any) -> Any:
    import keras

    try:
        outputs = net.outputs
        return keras.Model(net.inputs, outputs[0] if len(outputs) == 1 else outputs)
    except (AttributeError, ValueError, TypeError):
        return net
