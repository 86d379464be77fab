"""A small, known problem to demonstrate and test explanations on.

Images are crops of photos shipped with scikit-image with one coloured object pasted
at a random place; the class is the object alone, so a correct explanation puts its
mass on the object. :func:`train_torch_model` and :func:`train_keras_model` fit a
small CNN to it in seconds on a CPU: nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

CLASS_NAMES = ("red square", "green disc", "blue triangle", "yellow cross", "magenta ring")
_COLOURS = np.array([(220, 30, 30), (30, 200, 40), (40, 60, 230), (235, 220, 30), (220, 40, 220)], np.uint8)
_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "immunohistochemistry")


@dataclass
class ShapesData:
    """``images`` N×S×S×3 uint8, ``labels`` N ints, ``masks`` N×S×S bool (the object's pixels)."""

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray


def object_mask(kind: int, size: int, cy: int, cx: int, radius: int) -> np.ndarray:
    """Pixels of object ``kind`` centred at ``(cy, cx)`` in a ``size×size`` image."""
    yy, xx = np.mgrid[:size, :size]
    dy, dx = yy - cy, xx - cx
    if kind == 0:
        return (np.abs(dy) <= radius) & (np.abs(dx) <= radius)
    if kind == 1:
        return dy**2 + dx**2 <= radius**2
    if kind == 2:
        return (dy <= radius) & (dy >= -radius) & (np.abs(dx) <= (dy + radius) / 2)
    if kind == 3:
        bar = max(1, radius // 3)
        return ((np.abs(dy) <= bar) & (np.abs(dx) <= radius)) | ((np.abs(dx) <= bar) & (np.abs(dy) <= radius))
    if kind == 4:
        r2 = dy**2 + dx**2
        return (r2 <= radius**2) & (r2 >= (radius * 0.55) ** 2)
    raise ValueError(f"object kind must be 0..{len(CLASS_NAMES) - 1}, got {kind}")


@lru_cache(maxsize=4)
def _photos(size: int) -> tuple[np.ndarray, ...]:
    from skimage import data
    from skimage.color import gray2rgb
    from skimage.transform import resize

    out = []
    for name in _PHOTOS:
        photo = getattr(data, name)()
        photo = gray2rgb(photo) if photo.ndim == 2 else photo[..., :3]
        scale = 2 * size / min(photo.shape[:2])
        shape = (int(photo.shape[0] * scale), int(photo.shape[1] * scale))
        out.append((resize(photo, shape, anti_aliasing=True) * 255).astype(np.uint8))
    return tuple(out)


def shapes_dataset(n: int, size: int = 128, seed: int = 0) -> ShapesData:
    """``n`` images with balanced classes, reproducible for a given ``seed``."""
    rng = np.random.default_rng(seed)
    photos = _photos(size)
    images = np.empty((n, size, size, 3), np.uint8)
    labels = np.arange(n) % len(CLASS_NAMES)
    rng.shuffle(labels)
    masks = np.empty((n, size, size), bool)
    for i, label in enumerate(labels):
        photo = photos[rng.integers(len(photos))]
        y, x = rng.integers(0, photo.shape[0] - size + 1), rng.integers(0, photo.shape[1] - size + 1)
        images[i] = photo[y : y + size, x : x + size]
        radius = int(rng.integers(size // 10, size // 6 + 1))
        cy, cx = rng.integers(radius + 1, size - radius - 1, size=2)
        masks[i] = object_mask(int(label), size, int(cy), int(cx), radius)
        images[i][masks[i]] = _COLOURS[label]
    return ShapesData(images, labels, masks)


def demo_image(size: int = 128, label: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The demo's photo: the cat from ``skimage.data.chelsea()`` with one object on it; returns image and mask."""
    photo = _photos(size)[0]
    top, left = (photo.shape[0] - size) // 2, (photo.shape[1] - size) // 2
    image = photo[top : top + size, left : left + size].copy()
    mask = object_mask(label, size, int(size * 0.65), int(size * 0.3), size // 8)
    image[mask] = _COLOURS[label]
    return image, mask


def train_torch_model(seed: int = 0, n: int = 1500, size: int = 128, epochs: int = 8) -> Any:
    """A small torch CNN (input ``N×3×S×S`` in ``[0, 1]``, logits out) trained on :func:`shapes_dataset`."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    data = shapes_dataset(n, size, seed)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 5, stride=2, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, len(CLASS_NAMES)),
    )
    x = torch.from_numpy(data.images).permute(0, 3, 1, 2).float() / 255
    y = torch.from_numpy(data.labels).long()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(n, generator=generator).split(32):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()
    return model.eval()


def train_keras_model(seed: int = 0, n: int = 1500, size: int = 128, epochs: int = 8) -> Any:
    """The same CNN in Keras 3 (input ``N×S×S×3`` in ``[0, 1]``, softmax out)."""
    import keras

    keras.utils.set_random_seed(seed)
    data = shapes_dataset(n, size, seed)
    model = keras.Sequential([
        keras.Input((size, size, 3)),
        keras.layers.Conv2D(16, 5, strides=2, padding="same", activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="last_conv"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(len(CLASS_NAMES), activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(data.images.astype("float32") / 255, data.labels, batch_size=32, epochs=epochs, verbose=0,
              shuffle=True)
    return model
