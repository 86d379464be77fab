"""``gradients.saliency``: the vanilla gradient map of Simonyan et al. (2014)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, Requirement
from xaihub.models import GradientAdapter
from xaihub_gradients.backends import backend_for, inputs_of


class Saliency(Explainer):
    """``|∂score/∂input|`` maximised over channels, as in Simonyan et al.

    The score is the model's raw output for the target (a logit when the model emits logits);
    the input is the image's pixels when the preprocessing is declared (see
    :class:`xaihub.models.GradientAdapter`). ``channels`` holds the signed gradient per input
    channel. All targets share one forward pass.
    """

    name = "gradients.saliency"
    family = "saliency"
    summary = "vanilla gradient: max over channels of |d score / d input|"
    requires = Requirement(GRADIENTS, ("torch", "keras"))
    defaults: dict[str, Any] = {}

    def expected_forward_passes(self, params, targets):
        """One forward and backward for every target together."""
        return 1

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int) -> list[Explanation]:
        _, gradients = backend_for(model).input_gradients(model, inputs_of(model, image[None]), targets)
        height, width = image.shape[:2]
        return [
            Explanation(
                target=target,
                attribution=model.to_image(np.abs(gradient[0]).max(axis=2), height, width),
                channels=model.to_image(gradient[0], height, width),
                extras={"score": model.score_kind, "input_space": model.input_space,
                        "reduction": "max |gradient| over channels"},
            )
            for target, gradient in zip(targets, gradients)
        ]
