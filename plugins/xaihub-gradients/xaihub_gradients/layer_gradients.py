"""What a backend's ``layer_gradients`` returns (see :mod:`xaihub_gradients.backends`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LayerGradients:
    """A layer's feature map ``h×w×K`` and the gradients ``T×h×w×K`` of each target's score."""

    layer: str
    activations: np.ndarray
    gradients: np.ndarray
