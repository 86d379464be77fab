"""A small, known problem to demonstrate and test explanations on.

Images are crops of photos shipped with scikit-image with one coloured object pasted
at a random place; the class is the object alone, so a correct explanation puts its
mass on the object. :func:`train_torch_model` and :func:`train_keras_model` fit a
small CNN to it in seconds on a CPU: nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xaihub.ground_truth.shapes import CLASS_NAMES, COLOURS, fit_torch, object_mask, photos, random_crop, torch_cnn

__all__ = ["CLASS_NAMES", "ShapesData", "demo_image", "object_mask", "shapes_dataset", "train_keras_model",
           "train_torch_model"]


@dataclass
class ShapesData:
    """``images`` N×S×S×3 uint8, ``labels`` N ints, ``masks`` N×S×S bool (the object's pixels)."""

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray


def shapes_dataset(n: int, size: int = 128, seed: int = 0) -> ShapesData:
    """``n`` images with balanced classes, reproducible for a given ``seed``."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), np.uint8)
    labels = np.arange(n) % len(CLASS_NAMES)
    rng.shuffle(labels)
    masks = np.empty((n, size, size), bool)
    for i, label in enumerate(labels):
        images[i] = random_crop(rng, size)
        radius = int(rng.integers(size // 10, size // 6 + 1))
        cy, cx = rng.integers(radius + 1, size - radius - 1, size=2)
        masks[i] = object_mask(int(label), size, int(cy), int(cx), radius)
        images[i][masks[i]] = COLOURS[label]
    return ShapesData(images, labels, masks)


def demo_image(size: int = 128, label: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The demo's photo: the cat from ``skimage.data.chelsea()`` with one object on it; returns image and mask."""
    photo = photos(size)[0]
    top, left = (photo.shape[0] - size) // 2, (photo.shape[1] - size) // 2
    image = photo[top : top + size, left : left + size].copy()
    mask = object_mask(label, size, int(size * 0.65), int(size * 0.3), size // 8)
    image[mask] = COLOURS[label]
    return image, mask


def train_torch_model(seed: int = 0, n: int = 1500, size: int = 128, epochs: int = 8) -> Any:
    """A small torch CNN (input ``N×3×S×S`` in ``[0, 1]``, logits out) trained on :func:`shapes_dataset`."""
    import torch

    torch.manual_seed(seed)
    data = shapes_dataset(n, size, seed)
    model = torch_cnn(torch.nn.AdaptiveAvgPool2d(1))
    x = torch.from_numpy(data.images).permute(0, 3, 1, 2).float() / 255
    return fit_torch(model, x, torch.from_numpy(data.labels).long(), seed, epochs)


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
