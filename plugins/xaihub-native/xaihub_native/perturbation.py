"""One set of perturbed images and their predictions, shared by every method that needs it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xaihub import InputError
from xaihub.cache import array_key
from xaihub.models import ModelAdapter
from xaihub.superpixels import fill_image, perturb

WHERE = ("auto", "host", "device")


@dataclass
class PerturbationSet:
    """Binary superpixel masks (row 0 keeps everything) and the model's probabilities for each.

    ``predictions`` is a numpy array, or a float64 torch tensor on the model's device
    when the set was built there.
    """

    masks: np.ndarray
    predictions: Any
    on_device: bool


def runs_on_device(model: ModelAdapter, where: str, autocast: str | None) -> bool:
    """Whether perturbed images are built in torch, on the torch model's device, and scored there.

    ``"auto"`` does so for any torch model with a declared preprocessing (an ``xaihub.Preprocess``,
    the default included; on a CPU too: it saves the numpy copies); ``"device"`` insists (an error if
    impossible); ``"host"`` builds them in numpy and goes through ``model.predict`` like any other model.
    """
    capable = model.accepts_device_batches
    if where == "host":
        if autocast is not None:
            raise InputError("autocast needs perturb_on='device' or 'auto'")
        return False
    if (where == "device" or autocast is not None) and not capable:
        raise InputError("on-device perturbation needs a torch model with a declared preprocessing "
                         "(xaihub.Preprocess), not a preprocess function")
    return capable


def perturbation_set(model: ModelAdapter, image: np.ndarray, segments: np.ndarray, num_samples: int, fill: str,
                     seed: int, on_device: bool, autocast: str | None = None) -> PerturbationSet:
    """Masks drawn with ``np.random.binomial(1, 0.5)`` from ``seed`` and the model's predictions.

    Cached in ``model.cache``: LIME and Kernel SHAP over the same superpixels, sample
    count, fill and seed pay for the forward passes once.
    """
    def compute() -> PerturbationSet:
        masks = np.random.default_rng(seed).binomial(1, 0.5, size=(num_samples, int(segments.max()) + 1))
        masks = masks.astype(np.uint8)
        masks[0] = 1  # the unperturbed image anchors the surrogate, as in lime
        background = fill_image(image, segments, fill)
        score = _score_on_device if on_device else _score_on_host
        return PerturbationSet(masks, score(model, image, background, segments, masks, autocast), on_device)

    key = (array_key(image), array_key(segments), num_samples, fill, seed, on_device, autocast)
    return model.cache.get_or_compute("perturbations", key, compute)


def _score_on_host(model: ModelAdapter, image: np.ndarray, background: np.ndarray, segments: np.ndarray,
                   masks: np.ndarray, autocast: str | None) -> np.ndarray:
    step = model.images_per_batch(*image.shape[:2])  # one batch of images in memory at a time
    return np.concatenate([
        model.predict(perturb(image, background, segments, masks[i : i + step]))
        for i in range(0, len(masks), step)
    ])


def _score_on_device(model: ModelAdapter, image: np.ndarray, background: np.ndarray, segments: np.ndarray,
                     masks: np.ndarray, autocast: str | None) -> Any:
    import torch

    device = model.device
    pixels = torch.from_numpy(image).to(device=device, dtype=torch.float32)
    fill = torch.from_numpy(background).to(device=device, dtype=torch.float32)
    ids = torch.from_numpy(segments.ravel()).to(device=device, dtype=torch.long)
    on = torch.from_numpy(masks).to(device=device, dtype=torch.bool)
    step = model.images_per_batch(*image.shape[:2])
    buffer = torch.empty((min(step, len(masks)), *image.shape), dtype=torch.float32, device=device)
    outputs = []
    for i in range(0, len(masks), step):
        keep = on[i : i + step].index_select(1, ids).reshape(-1, *image.shape[:2], 1)
        batch = torch.where(keep, pixels, fill, out=buffer[: len(keep)])  # one buffer: no page faults per batch
        outputs.append(model.predict_pixels(batch, autocast))
    return torch.cat(outputs)
