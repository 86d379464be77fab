"""``lrp.epsilon``: Layer-wise Relevance Propagation (Bach et al., 2015) with captum's epsilon rule."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, InputError, Requirement
from xaihub.models import ModelAdapter
from xaihub_lrp.propagation import relevance
from xaihub_lrp.rules import RULES, prepared_copy


class LrpEpsilon(Explainer):
    """LRP of the target's logit through a copy of a torch model, by ``captum.attr.LRP``.

    Every layer uses the epsilon rule (``epsilon``); ``rule="gamma"`` gives ``Conv2d``
    layers the gamma rule (``gamma``) instead. The map sums the input relevance over
    channels; ``channels`` keeps it per channel. With the epsilon rule the relevance adds up
    to the score less what biases and ``epsilon`` absorb: ``extras`` holds both sums.
    """

    name = "lrp.epsilon"

    family = "lrp"
    summary = "Layer-wise Relevance Propagation (captum LRP, epsilon rule) of the target's logit"
    requires = Requirement(GRADIENTS, ("torch",))
    libraries = ("captum",)
    defaults: dict[str, Any] = {"epsilon": 1e-9, "rule": "epsilon", "gamma": 0.25}

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                epsilon: float, rule: str, gamma: float) -> list[Explanation]:
        _check_parameters(epsilon, rule, gamma)
        x = model.to_tensor(image[None])
        if x.ndim != 4:
            raise InputError(f"LRP needs an N×C×H×W model input; preprocess gave shape {tuple(x.shape)}")
        net, dropped_softmax = prepared_copy(model.model, rule, epsilon, gamma)
        relevances, scores = relevance(net, x, targets)
        model.count_forward(2 * len(targets))
        score_kind = "logit" if dropped_softmax or model.output_kind in ("logits", "multilabel-logits") else "probability"
        height, width = image.shape[:2]
        explanations = []
        for target, target_relevance, score in zip(targets, relevances, scores):
            channels = _to_image_size(target_relevance.transpose(1, 2, 0), height, width)
            explanations.append(Explanation(
                target=target,
                attribution=channels.sum(axis=2),
                channels=channels,
                extras={"score": float(score), "relevance_sum": float(target_relevance.sum()),
                        "score_kind": score_kind, "rule": rule, "final_softmax_dropped": dropped_softmax},
            ))
        return explanations


def _check_parameters(epsilon: Any, rule: Any, gamma: Any) -> None:
    if rule not in RULES:
        raise InputError(f"rule must be one of {RULES}, got {rule!r}")
    if not _is_real(epsilon) or epsilon <= 0:
        raise InputError(f"epsilon must be a positive number, got {epsilon!r}")
    if not _is_real(gamma) or gamma < 0:
        raise InputError(f"gamma must be a number ≥ 0, got {gamma!r}")


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _to_image_size(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """An ``h×w×C`` map at the image's ``height×width`` (bilinear), as float32."""
    if values.shape[:2] == (height, width):
        return values.astype(np.float32)
    from skimage.transform import resize

    return resize(values, (height, width, values.shape[2]), order=1, mode="edge",
                  anti_aliasing=False).astype(np.float32)
