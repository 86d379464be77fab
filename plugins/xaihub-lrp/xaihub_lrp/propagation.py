"""Running captum's LRP for several targets at once."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def relevance(net: Any, x: Any, targets: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Input relevance ``T×C×h×w`` of each target's score on ``x`` (``1×C×h×w``), and the ``T`` scores.

    The image is repeated once per target so that one captum call (two forward passes of
    ``T`` images) explains every target. A score is read back from captum's convergence
    delta (``score − Σ relevance``), which costs no extra forward pass.
    """
    import torch
    from captum.attr import LRP

    from xaihub_lrp.rules import element_wise_pass_through

    batch = x.detach().repeat(len(targets), 1, 1, 1).requires_grad_(True)
    with torch.enable_grad(), element_wise_pass_through():
        relevances, delta = LRP(net).attribute(batch, target=list(targets), return_convergence_delta=True)
    relevances = relevances.detach().double().cpu()
    scores = delta.detach().double().cpu() + relevances.sum(dim=(1, 2, 3))
    return relevances.numpy(), scores.numpy()
