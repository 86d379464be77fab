"""Perturbed images and their predictions: one fixed-size set shared by every method that needs it,
or a set grown batch by batch until a method's explanation is stable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from xaihub import InputError
from xaihub.core.cache import array_key
from xaihub.core.superpixels import fill_image, perturb
from xaihub.models import ModelAdapter

WHERE = ("auto", "host", "device")
_BYTES_PER_VALUE = 4


@dataclass
class PerturbationSet:
    """Binary superpixel masks (row 0 keeps everything) and the model's probabilities for each.

    ``predictions`` is a numpy array, or a float64 torch tensor on the model's device
    when the set was built there.
    """

    masks: np.ndarray
    predictions: Any
    on_device: bool
    autocast: str | None = None

    def host_predictions(self) -> np.ndarray:
        """The predictions as a numpy array."""
        return self.predictions.cpu().numpy() if self.on_device else self.predictions

    def facts(self) -> dict[str, Any]:
        """What to record in each explanation's ``extras``."""
        return {"perturbed_on": "device" if self.on_device else "host", "autocast": self.autocast,
                "num_samples": len(self.masks)}


def runs_on_device(model: ModelAdapter, where: str, autocast: str | None) -> bool:
    """Whether perturbed images are built in torch, on the torch model's device, and scored there.

    ``"auto"`` does so for any torch model with a declared preprocessing (an ``xaihub.Preprocess``,
    the default included; on a CPU too: it saves the numpy copies); ``"device"`` insists (an error if
    impossible); ``"host"`` builds them in numpy and goes through ``model.predict`` like any other model.
    """
    capable = model.accepts_device_batches
    explicit = autocast not in (None, "auto")
    if where == "host":
        if explicit:
            raise InputError("autocast needs perturb_on='device' or 'auto'")
        return False
    if (where == "device" or explicit) and not capable:
        raise InputError("on-device perturbation needs a torch model with a declared preprocessing "
                         "(xaihub.Preprocess), not a preprocess function")
    return capable


class Sampler:
    """Draws masks from ``seed`` (``binomial(1, 0.5)`` per superpixel, row 0 all ones, as lime) and
    scores them. Drawing in batches gives the same masks as drawing them at once, so a set grown to
    ``n`` samples equals the fixed set of ``n``."""

    def __init__(self, model: ModelAdapter, image: np.ndarray, segments: np.ndarray, fill: str, seed: int,
                 on_device: bool, autocast: str | None) -> None:
        self.model, self.image, self.segments = model, image, segments
        self.on_device, self.autocast = on_device, autocast
        self.background = fill_image(image, segments, fill)
        self.rng = np.random.default_rng(seed)
        self.players = int(segments.max()) + 1
        self.drawn = 0

    def batch(self, count: int) -> tuple[np.ndarray, Any]:
        masks = self.rng.binomial(1, 0.5, size=(count, self.players)).astype(np.uint8)
        if self.drawn == 0:
            masks[0] = 1  # the unperturbed image anchors the surrogate
        self.drawn += count
        score = _score_on_device if self.on_device else _score_on_host
        return masks, score(self.model, self.image, self.background, self.segments, masks, self.autocast)

    def concatenate(self, parts: list[Any]) -> Any:
        if self.on_device:
            import torch

            return torch.cat(parts)
        return np.concatenate(parts)


def perturbation_set(model: ModelAdapter, image: np.ndarray, segments: np.ndarray, num_samples: int, fill: str,
                     seed: int, on_device: bool, autocast: str | None = None) -> PerturbationSet:
    """``num_samples`` masks and their predictions, cached in ``model.cache``: LIME and Kernel SHAP
    over the same superpixels, sample count, fill and seed pay for the forward passes once."""

    def compute() -> PerturbationSet:
        masks, predictions = Sampler(model, image, segments, fill, seed, on_device, autocast).batch(num_samples)
        return PerturbationSet(masks, predictions, on_device, autocast)

    key = (array_key(image), array_key(segments), num_samples, fill, seed, on_device, autocast)
    return model.cache.get_or_compute("perturbations", key, compute)


def grown_set(sampler: Sampler, batch: int, ceiling: int,
              stable: Callable[[np.ndarray, np.ndarray], bool]) -> PerturbationSet:
    """Masks added ``batch`` at a time until ``stable(masks, host predictions)`` holds or ``ceiling``
    samples are drawn (checked from the second batch on)."""
    masks, predictions = sampler.batch(batch)
    mask_parts, prediction_parts = [masks], [predictions]
    while sampler.drawn < ceiling:
        masks, predictions = sampler.batch(min(batch, ceiling - sampler.drawn))
        mask_parts.append(masks)
        prediction_parts.append(predictions)
        grown = PerturbationSet(np.concatenate(mask_parts), sampler.concatenate(prediction_parts),
                                sampler.on_device, sampler.autocast)
        if stable(grown.masks, grown.host_predictions()):
            return grown
    return PerturbationSet(np.concatenate(mask_parts), sampler.concatenate(prediction_parts), sampler.on_device,
                           sampler.autocast)


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
    seen = model.input_size(*image.shape[:2])
    players = masks.shape[1]
    if seen != image.shape[:2] and players * seen[0] * seen[1] * _BYTES_PER_VALUE * 3 <= model.options.max_batch_bytes:
        return _score_resized(model, pixels, fill, segments, masks, autocast)
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


def _score_resized(model: ModelAdapter, pixels: Any, fill: Any, segments: np.ndarray, masks: np.ndarray,
                   autocast: str | None) -> Any:
    """:func:`_score_on_device` for a model that shrinks the image: the resize is linear, so a perturbed
    image resizes to ``resize(fill) + Σ_j mask_j · resize(superpixel j of image − fill)``. Each superpixel's
    resized share is computed once; every perturbed image is then built at the size the model sees."""
    import torch

    device = pixels.device
    ids = torch.from_numpy(segments).to(device=device, dtype=torch.long)
    difference = pixels - fill
    shares = []
    chunk = max(1, model.images_per_batch(*segments.shape))
    for start in range(0, masks.shape[1], chunk):
        players = torch.arange(start, min(start + chunk, masks.shape[1]), device=device)
        selected = (ids[None] == players[:, None, None]).unsqueeze(-1)
        shares.append(model.resize_pixels(torch.where(selected, difference, 0.0)))
    shares = torch.cat(shares).flatten(1)  # players × (h·w·3)
    base = model.resize_pixels(fill[None])[0]
    on = torch.from_numpy(masks).to(device=device, dtype=torch.float32)
    step = model.images_per_batch(*base.shape[:2])
    outputs = []
    for i in range(0, len(masks), step):
        batch = base + (on[i : i + step] @ shares).reshape(-1, *base.shape)
        outputs.append(model.predict_pixels(batch, autocast))
    return torch.cat(outputs)
