"""A torch view of a user's model that outputs only the target probabilities. Imports torch."""

from __future__ import annotations

from typing import Sequence

import torch

from xaihub.models import class_scores


class TargetProbabilities(torch.nn.Module):
    """``model``'s probabilities for ``targets`` (``N×T``), counting the images it sees.

    ``output_kind`` is the adapter's reading of the model's output: ``"logits"`` gets a
    softmax, ``"multilabel-logits"`` a sigmoid, ``"probabilities"`` is used as is.
    """

    def __init__(self, model: torch.nn.Module, targets: Sequence[int], output_kind: str) -> None:
        super().__init__()
        self.model = model
        self.targets = list(targets)
        self.output_kind = output_kind
        self.images_seen = 0

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        self.images_seen += len(inputs)
        scores = class_scores(self.model(inputs))
        if self.output_kind == "logits":
            scores = torch.softmax(scores, dim=1)
        elif self.output_kind == "multilabel-logits":
            scores = torch.sigmoid(scores)
        return scores[:, self.targets]
