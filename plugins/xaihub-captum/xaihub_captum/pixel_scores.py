"""What captum's perturbation methods evaluate: class scores of perturbed copies of the image's pixels.

Occlusion windows, superpixel masks and fills are laid on the image at its own resolution, whatever
the model's preprocessing: with a declared ``xaihub.Preprocess`` the pixels go straight to
``model.scores`` (which resizes and normalises inside torch), with a preprocess function they go
through ``model.model_input`` first. ``score`` chooses what is explained: ``"logit"``, the raw scores of
``model.scores`` (the logit where the model has one), or ``"probability"`` (softmax or sigmoid of them,
as ``model.predict`` reports). Every evaluated image is counted by the adapter.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from xaihub.models import GradientAdapter

SCORES = ("logit", "probability")


def pixel_images(model: GradientAdapter, images: np.ndarray) -> Any:
    """``N×H×W×3`` pixel values as an ``N×3×H×W`` float tensor on the model's device (layout only)."""
    return model.from_channels_last(np.asarray(images, dtype=np.float32))


def pixel_scores(model: GradientAdapter, score: str) -> Callable[[Any], Any]:
    """``N×3×H×W`` pixel tensors → ``N×K`` scores of kind ``score``, without gradients."""
    import torch

    def scores(pixels: Any) -> Any:
        with torch.no_grad():
            inputs = pixels if model.input_space == "pixels" else model.model_input(model.channels_last(pixels))
            raw = model.scores(inputs)
            return model.probabilities(raw) if score == "probability" else raw

    return scores


def score_name(model: GradientAdapter, score: str) -> str:
    """What ``score`` means for this model, for ``extras["score"]``."""
    return "probability" if score == "probability" else model.score_kind
