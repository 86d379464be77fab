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


def region_model(region: np.ndarray):
    """Class 1's score is the brightness inside ``region`` (inputs in [0, 1]); class 0 is its complement."""

    def predict(batch: np.ndarray) -> np.ndarray:
        inside = batch[:, region].mean(axis=(1, 2))
        return np.stack([1 - inside, inside], axis=1)

    return predict


def tiles_image(tile: int = 8):
    """8×8 tiles of random colours, ``tile`` pixels wide, with one red 2×2-tile region."""
    rng = np.random.default_rng(0)
    image = np.kron(rng.integers(60, 200, (8, 8, 3)), np.ones((tile, tile, 1))).astype(np.uint8)
    region = np.zeros(image.shape[:2], bool)
    region[2 * tile : 4 * tile, 5 * tile : 7 * tile] = True
    image[region] = (250, 40, 40)
    return image, region
