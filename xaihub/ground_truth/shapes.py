"""What xaihub's shapes problems (:mod:`xaihub.ground_truth.demo`, :mod:`xaihub.ground_truth`) share: five coloured
objects and their exact pixel masks, photos shipped with scikit-image as backgrounds, and the small
torch CNN trained on them.

Nothing is downloaded: the photos come with scikit-image; scikit-image and torch are imported when
first needed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

CLASS_NAMES = ("red square", "green disc", "blue triangle", "yellow cross", "magenta ring")
COLOURS = np.array([(220, 30, 30), (30, 200, 40), (40, 60, 230), (235, 220, 30), (220, 40, 220)], np.uint8)
"""The colour of each object class, in the order of :data:`CLASS_NAMES`."""
PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "immunohistochemistry")
"""The scikit-image photos backgrounds are cropped from (``skimage.data.<name>()``)."""


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
def photos(size: int) -> tuple[np.ndarray, ...]:
    """The :data:`PHOTOS` as ``H×W×3`` uint8, scaled so that their shorter side is ``2 × size``
    (a ``size×size`` crop shows a part of the scene, not all of it)."""
    from skimage import data
    from skimage.color import gray2rgb
    from skimage.transform import resize

    out = []
    for name in PHOTOS:
        photo = getattr(data, name)()
        photo = gray2rgb(photo) if photo.ndim == 2 else photo[..., :3]
        scale = 2 * size / min(photo.shape[:2])
        shape = (int(photo.shape[0] * scale), int(photo.shape[1] * scale))
        out.append((resize(photo, shape, anti_aliasing=True) * 255).astype(np.uint8))
    return tuple(out)


def random_crop(rng: np.random.Generator, size: int) -> np.ndarray:
    """A ``size×size`` crop of one of the :func:`photos`, at a place drawn from ``rng``."""
    photo = photos(size)[rng.integers(len(PHOTOS))]
    y, x = rng.integers(0, photo.shape[0] - size + 1), rng.integers(0, photo.shape[1] - size + 1)
    return photo[y : y + size, x : x + size].copy()


def torch_cnn(pooling: Any) -> Any:
    """The shapes problems' CNN: three convolutions (the first with stride 2, max-pooled twice), the
    global ``pooling`` module, and a linear layer to one logit per class of :data:`CLASS_NAMES`."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 16, 5, stride=2, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        pooling, nn.Flatten(), nn.Linear(32, len(CLASS_NAMES)),
    )


def fit_torch(model: Any, x: Any, y: Any, seed: int, epochs: int, lr: float = 3e-3, weight_decay: float | None = None
              ) -> Any:
    """Train ``model`` on inputs ``x`` and class indices ``y`` (torch tensors) with cross-entropy and batches
    of 32 shuffled from ``seed``; returns it in eval mode. The optimiser: Adam at learning rate ``lr``, or,
    with a ``weight_decay``, AdamW whose learning rate follows a one-cycle schedule peaking at ``lr``
    (warm-up over the first tenth of the steps, then cosine decay: what a small transformer needs)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    steps = epochs * ((len(x) + 31) // 32)
    if weight_decay is None:
        optimiser, schedule = torch.optim.Adam(model.parameters(), lr=lr), None
    else:
        optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(32):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()
            if schedule is not None:
                schedule.step()
    return model.eval()
