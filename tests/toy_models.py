"""Models whose answers are known, for tests."""

import numpy as np


def linear_model(num_classes: int = 3):
    """A callable whose class-c score is the mean of channel c: a model with a known answer."""

    def predict(batch: np.ndarray) -> np.ndarray:
        return batch.mean(axis=(1, 2))[:, :num_classes]

    return predict


def channel_means(batch: np.ndarray) -> np.ndarray:
    """Module-level (so picklable for Dask workers): class c scores the mean of channel c."""
    return batch.mean(axis=(1, 2))[:, :3]


def refuses_dark_images(batch: np.ndarray) -> np.ndarray:
    """Like ``channel_means``, but raises on any batch holding a nearly black image."""
    if (batch.reshape(len(batch), -1).max(axis=1) < 0.05).any():
        raise RuntimeError("model cannot score a dark image")
    return channel_means(batch)


class CountingPickles:
    """Wraps a model and counts, in this process, how often it is pickled (shipped to a worker)."""

    pickled = 0

    def __init__(self, model):
        self.model = model

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.model(batch)

    def __reduce__(self):
        CountingPickles.pickled += 1
        return (CountingPickles, (self.model,))
