"""A torch module giving the target probabilities of an adapter's model, for shap. Imports torch."""

from __future__ import annotations

from typing import Sequence

import torch

from xaihub.models import GradientAdapter


class TargetProbabilities(torch.nn.Module):
    """The adapter's differentiable probabilities for ``targets`` (``N×T``); forward passes are
    counted by the adapter. The user's model is its only submodule."""

    def __init__(self, adapter: GradientAdapter, targets: Sequence[int]) -> None:
        super().__init__()
        self.scores = adapter.scores_module()
        self._probabilities = adapter.probabilities
        self.targets = list(targets)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._probabilities(self.scores(inputs))[:, self.targets]
