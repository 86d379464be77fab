"""``gradients.saliency``: the vanilla gradient map of Simonyan et al. (2014)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, Requirement
from xaihub.models import ModelAdapter
from xaihub_gradients.backends import backend_for
from xaihub_gradients.maps import resize_to


class Saliency(Explainer):
    """``|∂score/∂input|`` maximised over channels, as in Simonyan et al.

    The score is the model's raw output for the target (a logit when the model emits
    logits). ``channels`` holds the signed gradient per input channel. All targets
    share one forward pass.
    """

    name = "gradients.saliency"

    family = "saliency"
    summary = "vanilla gradient: max over channels of |d score / d input|"
    requires = Requirement(GRADIENTS, ("torch", "keras"))
    defaults: dict[str, Any] = {}

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int) -> list[Explanation]:
        backend = backend_for(model)
        _, gradients = backend.input_gradients(model, backend.model_input(model, image[None]), targets)
        height, width = image.shape[:2]
        return [
            Explanation(
                target=target,
                attribution=resize_to(np.abs(gradient[0]).max(axis=2), height, width),
                channels=resize_to(gradient[0], height, width),
                extras={"score": backend.score_kind(model), "reduction": "max |gradient| over channels"},
            )
            for target, gradient in zip(targets, gradients)
        ]
