"""What every ``captum.*`` method shares: torch models only, and for gradient methods one run per call."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, Requirement
from xaihub.models import GradientAdapter
from xaihub_captum.maps import channel_maps
from xaihub_captum.running import captum_run


class CaptumMethod(Explainer):
    """A captum attribution method on a torch model (captum needs torch tensors and modules)."""

    requires = Requirement(GRADIENTS, ("torch",))
    libraries = ("captum",)


class InputAttribution(CaptumMethod):
    """A captum method that attributes the target scores to the adapter's differentiable input.

    Captum's forward function is ``model.scores_module()``: the raw class scores (the logit where the
    model has one) of :meth:`GradientAdapter.differentiable_input` — the image's pixels for a declared
    preprocessing, the preprocessed model input otherwise. Every target is explained by one copy of the
    input in captum's batch (captum's ``target`` list), as many copies per batch as
    ``model.images_per_batch`` allows. Subclasses implement :meth:`attribute`.
    """

    reduction: ClassVar[str] = "sum"
    """How ``channels`` become the ``H×W`` attribution (see :data:`xaihub_captum.maps.REDUCTIONS`)."""
    conserve: ClassVar[bool] = True
    """Whether the map keeps its sum when brought to the image's size (additive methods)."""

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                **params: Any) -> list[Explanation]:
        inputs = model.differentiable_input(image[None])
        per_batch = model.images_per_batch(*inputs.shape[2:])
        with captum_run(model, seed):
            values, per_target = self.attribute(model, image, inputs, list(targets), per_batch, seed, **params)
        return channel_maps(model, image, targets, values, self.reduction, self.conserve, per_target=per_target)

    def attribute(self, model: GradientAdapter, image: np.ndarray, inputs: Any, targets: list[int],
                  per_batch: int, seed: int, **params: Any) -> tuple[Any, list[dict[str, Any]]]:
        """``(T×C×h×w attributions, one dict of extras per target)`` for ``inputs`` (``1×C×h×w``)."""
        raise NotImplementedError
