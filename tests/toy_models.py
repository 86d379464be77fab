"""Models whose answers are known, for tests."""

import numpy as np


def linear_model(num_classes: int = 3):
    """A callable whose class-c score is the mean of channel c: a model with a known answer."""

    def predict(batch: np.ndarray) -> np.ndarray:
        return batch.mean(axis=(1, 2))[:, :num_classes]

    return predict
