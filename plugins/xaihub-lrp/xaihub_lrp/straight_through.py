"""Element-wise activations that pass relevance through unchanged, for LRP's private model copy. Imports torch."""

from __future__ import annotations

import torch


class StraightThrough(torch.nn.Module):
    """Computes ``activation(x)``; its gradient is the identity.

    In captum's LRP, relevance travels as a modified gradient: an identity gradient passes it
    through the activation unchanged (the rule captum applies to ``ReLU``), whatever layers come
    before or after and however often the activation is called.
    """

    def __init__(self, activation: torch.nn.Module) -> None:
        super().__init__()
        object.__setattr__(self, "activation", activation)  # not a submodule: this module is a leaf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (self.activation(x) - x).detach()
