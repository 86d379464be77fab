"""A torch copy of the user's model giving its class scores, for OmniXAI. Imports torch."""

from __future__ import annotations

from typing import Any, Callable

import torch


class SelectedScores(torch.nn.Module):
    """``select(copy(x))``: the class scores among the copy's outputs (a dict or tuple output is read as
    the adapter reads it, :meth:`xaihub.models.ModelAdapter.select_output`)."""

    def __init__(self, copy: torch.nn.Module, select: Callable[[Any], Any]) -> None:
        super().__init__()
        self.copy = copy
        self._select = select

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._select(self.copy(inputs))
