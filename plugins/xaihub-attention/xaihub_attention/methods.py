"""``attention.rollout`` and ``attention.transformer_attribution``: maps from a vision transformer's attention.

Both end with a token-to-token relevance matrix ``R`` (``T×T``, ``T`` tokens); the map is, over the patch
tokens, the row of the token the model's head reads (the class token; :data:`reading.READOUTS`: the mean of
the patch tokens' rows for a model that pools them, as BEiT does, or an average of both parts, as DINOv2's head
reads both), reshaped to the patch grid and upsampled bilinearly to the image.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import GRADIENTS, Explainer, Explanation, MethodUnavailableError, Requirement
from xaihub.core.maps import resize_map
from xaihub.core.params import Choice
from xaihub_attention import reading


class _AttentionMethod(Explainer):
    requires = Requirement(GRADIENTS, ("torch",))
    libraries = ("torch",)

    def expected_forward_passes(self, params, targets):
        """One forward pass records the attention (and its gradients), for every target."""
        return 1

    def check_model(self, model: Any, image: np.ndarray) -> None:
        super().check_model(model, image)
        reading.attention_modules(model.model)

    def _explanations(self, model: Any, image: np.ndarray, targets: Sequence[int], attention: reading.Attention,
                      relevances: list[Any]) -> list[Explanation]:
        height, width = image.shape[:2]
        extras = {"layers": len(attention.maps), "grid": list(attention.grid), "tokens": int(attention.maps[0].shape[-1]),
                  "extra_tokens": attention.extra, "readout": attention.readout if attention.extra else "patches",
                  "score": model.score_kind}
        return [Explanation(target=t, attribution=resize_map(_patch_map(r, attention), height, width), extras=extras)
                for t, r in zip(targets, relevances)]


class AttentionRollout(_AttentionMethod):
    """Attention rollout (Abnar & Zuidema, 2020): ``R = Â_L ⋯ Â_1`` with ``Â = (A + I) / 2``, rows
    renormalised, ``A`` the layer's attention fused over heads (``head_fusion``: mean, max or min).

    It does not depend on the target: every class gets the same map (the rollout is of the model's
    attention, not of a class score), which is why transformer attribution weights attention by gradients.
    """

    name = "attention.rollout"
    family = "attention_rollout"
    summary = "attention rollout through every layer (Abnar & Zuidema 2020); the same map for every class"
    defaults: dict[str, Any] = {"head_fusion": "mean"}
    constraints = {"head_fusion": Choice("mean", "max", "min")}

    def explain(self, model: Any, image: np.ndarray, targets: Sequence[int], *, seed: int,
                head_fusion: str) -> list[Explanation]:
        import torch

        attention = reading.forward(model, image)
        with torch.no_grad():
            relevance = rollout([m.detach()[0] for m in attention.maps], head_fusion)
        return self._explanations(model, image, targets, attention, [relevance] * len(targets))


class TransformerAttribution(_AttentionMethod):
    """Transformer attribution (Chefer, Gur & Wolf, ICCV 2021, "Generic attention-model explainability"):
    ``R ← R + Ā·R`` from ``R = I`` over the layers in order, ``Ā = mean_heads((∇A ⊙ A)⁺)``, ``∇A`` the
    gradient of the target's raw score (the logit where the model gives one) with respect to the
    layer's attention ``A``. The map is read from ``R - I``, what the attention added (for a class token's
    row over the patches the same as ``R``). One forward pass; one backward pass per target."""

    name = "attention.transformer_attribution"
    family = "transformer_attribution"
    summary = "gradient-weighted attention relevance through every layer (Chefer et al. ICCV 2021)"

    def explain(self, model: Any, image: np.ndarray, targets: Sequence[int], *, seed: int) -> list[Explanation]:
        import torch

        attention = reading.forward(model, image)
        relevances = []
        for i, target in enumerate(targets):
            gradients = torch.autograd.grad(attention.scores[0, target], attention.maps,
                                            retain_graph=i < len(targets) - 1)
            with torch.no_grad():
                relevance = gradient_rollout([m.detach()[0] for m in attention.maps], [g[0] for g in gradients])
                # what attention added (R - I): the class token's row does not change, the mean row of a model
                # without class token loses the uniform 1/T every patch gets from the identity
                relevances.append(relevance - torch.eye(len(relevance), dtype=relevance.dtype))
        return self._explanations(model, image, targets, attention, relevances)


def rollout(maps: list[Any], head_fusion: str = "mean") -> Any:
    """Attention rollout of per-layer attention ``H×T×T`` tensors (first layer first): ``T×T``."""
    import torch

    tokens = maps[0].shape[-1]
    identity = torch.eye(tokens, dtype=maps[0].dtype, device=maps[0].device)
    relevance = identity
    for heads in maps:
        fused = {"mean": heads.mean(0), "max": heads.amax(0), "min": heads.amin(0)}[head_fusion]
        layer = (fused + identity) / 2
        relevance = (layer / layer.sum(-1, keepdim=True)) @ relevance
    return relevance


def gradient_rollout(maps: list[Any], gradients: list[Any]) -> Any:
    """Chefer et al.'s relevance from per-layer attention and its gradient (``H×T×T`` each): ``T×T``."""
    import torch

    tokens = maps[0].shape[-1]
    relevance = torch.eye(tokens, dtype=maps[0].dtype, device=maps[0].device)
    for heads, gradient in zip(maps, gradients):
        weighted = (gradient * heads).clamp(min=0).mean(0)
        relevance = relevance + weighted @ relevance
    return relevance


def _patch_map(relevance: Any, attention: reading.Attention) -> np.ndarray:
    """Over the patch tokens, the rows of the tokens the head reads (:attr:`reading.Attention.readout`;
    without leading tokens, the mean of all rows), as the grid."""
    extra = attention.extra
    patches = relevance[extra:, extra:].mean(0)
    row = {"class": lambda: relevance[0, extra:],
           "class+distillation": lambda: (relevance[0, extra:] + relevance[1, extra:]) / 2,
           "patches": lambda: patches,
           "class+patches": lambda: (relevance[0, extra:] + patches) / 2}[attention.readout]() if extra else \
        relevance.mean(0)
    values = row.detach().float().cpu().numpy().astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise MethodUnavailableError("the attention relevance is not finite")
    return values.reshape(attention.grid)
