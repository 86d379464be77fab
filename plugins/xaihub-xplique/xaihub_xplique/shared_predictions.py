"""The model as Xplique's black-box methods see it: probabilities from ``model.predict``, shared by targets."""

from __future__ import annotations

import hashlib

import numpy as np

from xaihub.models import ModelAdapter


class SharedPredictions:
    """A callable ``f(images N×H×W×3) -> N×K`` probabilities that Xplique's black-box methods take as
    their model (any model: torch, Keras or a predict function, through ``model.predict``, which
    preprocesses, batches and counts forward passes).

    Each target is one copy of the image, and Occlusion, Sobol, HSIC, LIME and Kernel SHAP (whose
    draws are the same for every copy) build the same perturbed batches for every copy: a batch
    seen before is answered from memory (keyed by its bytes), so the model evaluates each
    perturbation once whatever the number of targets.
    """

    def __init__(self, model: ModelAdapter) -> None:
        self.model = model
        self.requested = 0
        """Images Xplique asked for, repeated batches included."""
        self._seen: dict[tuple, np.ndarray] = {}

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.ascontiguousarray(images, dtype=np.float32)
        self.requested += len(images)
        key = (images.shape, hashlib.blake2b(images.data, digest_size=16).digest())
        if key not in self._seen:
            self._seen[key] = self.model.predict(images).astype(np.float32)
        return self._seen[key]
