"""``TorchAdapter.scores`` as an ``nn.Module``, for libraries that need a module. Imports torch."""

from __future__ import annotations

from typing import Any

import torch


class ScoresModule(torch.nn.Module):
    """Differentiable raw class scores of pixel (or model-input) tensors; the user's model is its only child.

    Forward passes are counted by the adapter.
    """

    def __init__(self, adapter: Any) -> None:
        super().__init__()
        self.model = adapter.model
        self._adapter = [adapter]  # in a list, so that the adapter is not taken for a submodule

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._adapter[0].scores(inputs)
