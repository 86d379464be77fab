"""``lrp.epsilon``: Layer-wise Relevance Propagation (Bach et al., 2015) with captum's epsilon rule."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, InputError, MethodUnavailableError, Requirement
from xaihub.core.params import Choice, Real
from xaihub.models import GradientAdapter
from xaihub_lrp.propagation import relevance
from xaihub_lrp.rules import RULES, check_supported, prepared_copy

SCORE_TOLERANCE = 1e-3
"""How far (relative to the larger of 1 and the model's score) the score captum's LRP propagated may be from the
model's own before the relevance is refused as not the model's."""


def check_scores(model: GradientAdapter, x: Any, targets: Sequence[int], scores: np.ndarray) -> None:
    """Refuse relevance whose starting score is not the model's: captum's LRP runs its own forward pass on the
    prepared copy, and where that pass computes something else (a module run twice in one pass, e.g. a residual
    block's shared ReLU, keeps only one call's activations) the map explains another function."""
    import torch

    from xaihub.models.torch_scores import SelectedScores

    with torch.no_grad():
        own = SelectedScores(model.score_model(), model.select_output)(x).double().cpu().numpy()[0]
    expected = own[list(targets)]
    gap = np.abs(np.asarray(scores) - expected) / np.maximum(1.0, np.abs(expected))
    if np.any(gap > SCORE_TOLERANCE):
        worst = int(np.argmax(gap))
        raise MethodUnavailableError(
            f"captum's LRP propagated a score of {scores[worst]:.4g} for target {targets[worst]} where the model "
            f"gives {expected[worst]:.4g}: its forward pass on this model is not the model's (a module called "
            "more than once per pass, e.g. a residual block's shared activation), so its relevance would explain "
            "another function; zennit.* (plugin xaihub-zennit) rewrites torchvision's residual blocks")


class LrpEpsilon(Explainer):
    """LRP of the target's logit through a copy of a torch model, by ``captum.attr.LRP``.

    Every layer uses the epsilon rule (``epsilon``); ``rule="gamma"`` gives ``Conv2d``
    layers the gamma rule (``gamma``) instead; element-wise activations pass relevance through
    (see :mod:`xaihub_lrp.rules`). Relevance is propagated to the model input (after the
    preprocessing) and brought to the image's size keeping its sum. The map sums it over channels;
    ``channels`` keeps it per channel. With the epsilon rule the relevance adds up to the score less
    what biases, ``epsilon`` and functional operations (residual additions) absorb: ``extras`` holds both sums.
    A model with a layer type LRP has no rule for is refused before any work, naming the layers.
    """

    name = "lrp.epsilon"
    family = "lrp"
    summary = "Layer-wise Relevance Propagation (captum LRP, epsilon rule) of the target's logit"
    requires = Requirement(GRADIENTS, ("torch",))
    libraries = ("captum",)
    defaults: dict[str, Any] = {"epsilon": 1e-9, "rule": "epsilon", "gamma": 0.25}
    constraints = {"epsilon": Real(0, low_open=True), "rule": Choice(*RULES), "gamma": Real(0)}

    def expected_forward_passes(self, params, targets):
        """A forward and a relevance pass per target, and the model's own scores once (:func:`check_scores`)."""
        return 2 * targets + 1

    def check_model(self, model: GradientAdapter, image: np.ndarray) -> None:
        super().check_model(model, image)
        check_supported(model.score_model())

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                epsilon: float, rule: str, gamma: float) -> list[Explanation]:
        x = model.model_input(image[None])
        if x.ndim != 4:
            raise InputError(f"LRP needs an N×C×H×W model input; preprocess gave shape {tuple(x.shape)}")
        from xaihub.models.torch_scores import SelectedScores

        net = SelectedScores(prepared_copy(model.score_model(), rule, epsilon, gamma), model.select_output)
        relevances, scores = relevance(net, x, targets)
        model.count_forward(2 * len(targets) + 1)
        check_scores(model, x, targets, scores)
        height, width = image.shape[:2]
        explanations = []
        for target, target_relevance, score in zip(targets, relevances, scores):
            channels = model.to_image(target_relevance.transpose(1, 2, 0), height, width, conserve=True)
            explanations.append(Explanation(
                target=target,
                attribution=channels.sum(axis=2),
                channels=channels,
                extras={"score": float(score), "relevance_sum": float(target_relevance.sum()),
                        "score_kind": model.score_kind, "rule": rule, "input_space": "model"},
            ))
        return explanations
