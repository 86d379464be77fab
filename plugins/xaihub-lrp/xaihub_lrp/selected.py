"""A private model copy giving the class scores among its outputs, for captum's LRP. Imports torch."""

from __future__ import annotations

from typing import Any, Callable

import torch


class SelectedScores(torch.nn.Module):
    """``select(copy(x))``: a model returning a dict or a tuple is read as the adapter reads it
    (:meth:`xaihub.models.ModelAdapter.select_output`), so captum's LRP sees one score tensor."""

    def __init__(self, copy: torch.nn.Module, select: Callable[[Any], Any]) -> None:
        super().__init__()
        self.copy = copy
        self._select = select

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._select(self.copy(inputs))
