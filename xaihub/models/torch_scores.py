"""Torch modules over the adapter, for libraries that need a module. Imports torch."""

from __future__ import annotations

from typing import Any, Callable

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


class SelectedScores(torch.nn.Module):
    """``select(copy(x))``: a private copy of the user's model giving the class scores among its outputs
    (a dict or tuple output is read as the adapter reads it, :meth:`ModelAdapter.select_output`), for
    libraries that need a module returning one score tensor (captum's LRP, OmniXAI)."""

    def __init__(self, copy: torch.nn.Module, select: Callable[[Any], Any]) -> None:
        super().__init__()
        self.copy = copy
        self._select = select

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._select(self.copy(inputs))


class WithScores(torch.nn.Module):
    """The user's model with extra score columns computed from its class scores (see
    :func:`xaihub.models.custom_scores.with_scores`); the model is its only child, unchanged."""

    def __init__(self, model: torch.nn.Module, functions: dict[str, Callable[[Any], Any]], softmax: bool,
                 read: Callable[[Any], Any]) -> None:
        super().__init__()
        self.model = model
        self._read = read
        self.names = list(functions)
        self._functions = list(functions.values())
        self.softmax = softmax

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        scores = self._read(self.model(inputs))
        if self.softmax:
            scores = torch.softmax(scores, dim=1)
        extra = [f(scores).reshape(len(scores)) for f in self._functions]
        return torch.cat([scores, torch.stack(extra, dim=1).to(scores.dtype)], dim=1)
