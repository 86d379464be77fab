"""Superpixels and what superpixel methods share: segmentation, given segments, fills, perturbed images.

Plugins that switch superpixels off (``native``, ``shap.kernel``, ``lime.image``, ``captum``) share
these, so that a segmentation, a fill or a segment check means the same in every one of them, and
one ``explain`` call segments an image once (:func:`segment` caches in the run cache).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from xaihub.core.cache import RunCache, array_key
from xaihub.core.errors import InputError, MethodUnavailableError

FILLS = ("zero", "mean", "blur")
POSITIVE_TINT, NEGATIVE_TINT = np.array([0, 200, 0], np.float32), np.array([230, 0, 0], np.float32)
"""The superpixel view's colours, as VisuaLIME draws them: positive superpixels green, negative red."""


def dense_segments(segments: np.ndarray) -> np.ndarray:
    """Superpixel ids renumbered ``0..n-1`` as int32 (methods use them as feature indices)."""
    _, dense = np.unique(segments, return_inverse=True)
    return dense.reshape(segments.shape).astype(np.int32)


def check_segments(segments: Any, image: np.ndarray) -> np.ndarray:
    """User-given superpixels, renumbered; :class:`InputError` when they do not fit ``image``."""
    segments = np.asarray(segments)
    if segments.shape != image.shape[:2] or segments.dtype.kind not in "iu" or segments.min() < 0:
        raise InputError(f"segments must be a non-negative int array of shape {image.shape[:2]}, "
                         f"got {segments.dtype} {segments.shape}")
    return dense_segments(segments)


def superpixel_view(image: np.ndarray, segments: np.ndarray, weights: np.ndarray, coverage: float = 0.2) -> np.ndarray:
    """VisuaLIME-style view, ``H×W×3`` uint8: the top ``coverage`` fraction of superpixels by ``|weight|`` tinted
    green (positive) or red (negative) over ``image``, their outlines drawn in white.

    :param segments: superpixel id per pixel (``H×W``); ``weights[i]`` is superpixel ``i``'s weight.
    :raises InputError: for ``coverage`` outside ``(0, 1]``.
    """
    from skimage.segmentation import find_boundaries

    if isinstance(coverage, bool) or not isinstance(coverage, (int, float)) or not 0 < coverage <= 1:
        raise InputError(f"coverage must be a number in (0, 1], got {coverage!r}")
    weights = np.asarray(weights, np.float32)
    count = max(1, int(round(coverage * len(weights))))
    chosen = np.argsort(-np.abs(weights), kind="stable")[:count]
    chosen = chosen[weights[chosen] != 0]
    out = np.asarray(image).astype(np.float32)
    for sign, tint in ((1, POSITIVE_TINT), (-1, NEGATIVE_TINT)):
        mask = np.isin(segments, chosen[np.sign(weights[chosen]) == sign])
        out[mask] = out[mask] * 0.45 + tint * 0.55
    edges = find_boundaries(np.where(np.isin(segments, chosen), segments, -1), mode="inner")
    out[edges] = 255
    return np.rint(out).astype(np.uint8)


def fill_image(image: np.ndarray, segments: np.ndarray, fill: str) -> np.ndarray:
    """What a switched-off superpixel shows: black (``zero``), its own ``mean`` colour, or a ``blur``red copy."""
    if fill == "zero":
        return np.zeros(image.shape, np.float32)
    if fill == "mean":
        flat = segments.ravel()
        counts = np.bincount(flat)[:, None]
        sums = np.stack([np.bincount(flat, image[..., c].ravel()) for c in range(image.shape[2])], axis=1)
        return (sums / counts)[segments].astype(np.float32)
    if fill == "blur":
        from skimage.filters import gaussian

        return gaussian(image.astype(np.float32), sigma=5, channel_axis=-1, preserve_range=True).astype(np.float32)
    raise InputError(f"fill must be one of {FILLS}, got {fill!r}")


def perturb(image: np.ndarray, fill: np.ndarray, segments: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Images ``N×H×W×3`` float32 in which superpixel ``j`` of row ``i`` shows ``image`` iff ``masks[i, j]``."""
    keep = np.asarray(masks).astype(bool)[:, segments]
    return np.where(keep[..., None], image.astype(np.float32)[None], fill[None])


ALGORITHMS = ("auto", "quickshift", "slic", "felzenszwalb")
AUTO_PIXELS_PER_SUPERPIXEL = 128
AUTO_RANGE = (60, 150)
"""``"auto"`` asks SLIC for one superpixel per this many pixels, within this range; SLIC merges
some, giving about 40 superpixels on a 32×32 image and about 100 on a photo."""
AUTO_MIN_PIXELS = 4
"""``"auto"`` asks for no more superpixels than one per this many pixels (16 on an 8×8 image)."""
FEW_SUPERPIXELS = 10
"""An explanation over fewer superpixels than this carries a warning: it can hardly point at anything.
``"auto"`` never gives fewer on an image of at least this many pixels: where SLIC finds no regions (it
merges an image of noise into one superpixel), it falls back to a regular grid."""
_DEFAULTS = {
    "auto": {"n_segments": None},
    "quickshift": {"kernel_size": 4, "max_dist": 200, "ratio": 0.2},
    "slic": {"n_segments": 50, "compactness": 10.0, "start_label": 0},
    "felzenszwalb": {"scale": 100.0, "sigma": 0.5, "min_size": 50},
}


def segment(image: np.ndarray, algorithm: str, params: Mapping[str, Any], seed: int,
            cache: RunCache | None = None, device: Any = None) -> np.ndarray:
    """Superpixel ids ``H×W`` int32 numbered ``0..n-1``.

    :param algorithm: ``"auto"``: SLIC asked for ``n_segments`` superpixels, by default one per
        ``AUTO_PIXELS_PER_SUPERPIXEL`` pixels within ``AUTO_RANGE`` and at most one per ``AUTO_MIN_PIXELS``
        pixels (about 40 result on a 32×32 image, about 100 on a photo, 16 on 8×8), so that superpixels are
        sized to the image; where SLIC gives fewer than ``FEW_SUPERPIXELS`` (on noise it gives one), a
        regular grid of about that many cells (:func:`grid_segments`); ``"quickshift"`` (scikit-image's, or
        the identical torch version when ``device`` is a CUDA device; its defaults are the seed
        project's, tuned for 299×299 photos), ``"slic"`` or ``"felzenszwalb"``.
    :param params: the algorithm's parameters; missing ones take scikit-image's usual values.
    :param cache: when given, every method of one ``explain`` call that segments the
        same image the same way gets the same (cached) result.
    """
    if algorithm not in ALGORITHMS:
        raise InputError(f"segmentation must be one of {ALGORITHMS}, got {algorithm!r}")
    unknown = sorted(set(params) - set(_DEFAULTS[algorithm]))
    if unknown:
        raise InputError(f"{algorithm} takes {sorted(_DEFAULTS[algorithm])}, got unknown {unknown}")
    full = {**_DEFAULTS[algorithm], **params}
    on_gpu = algorithm == "quickshift" and device is not None and getattr(device, "type", device) == "cuda"

    def compute() -> np.ndarray:
        if on_gpu:
            from xaihub.core.quickshift_torch import quickshift_torch

            return quickshift_torch(image, full["kernel_size"], full["max_dist"], full["ratio"], seed, device)
        return dense_segments(_skimage_segments(image, algorithm, full, seed))

    if cache is None:
        return compute()
    key = (array_key(image), algorithm, tuple(sorted(full.items())), seed)
    return cache.get_or_compute("segments", key, compute)


def few_superpixels_warning(segments: np.ndarray) -> str | None:
    """A warning for an explanation over fewer than ``FEW_SUPERPIXELS`` superpixels, else ``None``."""
    count = int(segments.max()) + 1
    if count >= FEW_SUPERPIXELS:
        return None
    return (f"only {count} superpixels: the map can hardly point at anything; use segmentation='auto' "
            "or parameters for smaller superpixels")


def grid_segments(shape: tuple[int, int], count: int) -> np.ndarray:
    """Superpixel ids ``H×W`` int32 of a regular grid of about ``count`` cells, as square as the image allows."""
    height, width = shape
    rows = int(np.clip(round(np.sqrt(count * height / width)), 1, height))
    columns = int(np.clip(round(count / rows), 1, width))
    row_ids = np.arange(height) * rows // height
    column_ids = np.arange(width) * columns // width
    return (row_ids[:, None] * columns + column_ids[None, :]).astype(np.int32)


def require_superpixels(segments: np.ndarray, method: str, minimum: int, why: str) -> None:
    """Refuse, before any sampling, superpixels too few for ``method``'s estimator: raise
    :class:`~xaihub.core.errors.MethodUnavailableError` saying ``why`` when ``segments`` has fewer than ``minimum``."""
    count = int(segments.max()) + 1
    if count < minimum:
        raise MethodUnavailableError(
            f"{method} needs at least {minimum} superpixels ({why}); the segmentation gave {count}: use "
            "segmentation='auto' (never fewer than 10 superpixels on an image of 10 pixels or more), smaller "
            "superpixels, or segments with more")


def _skimage_segments(image: np.ndarray, algorithm: str, params: dict[str, Any], seed: int) -> np.ndarray:
    from skimage import segmentation

    if algorithm == "auto":
        pixels = image.shape[0] * image.shape[1]
        wanted = params["n_segments"] or max(1, min(int(np.clip(pixels // AUTO_PIXELS_PER_SUPERPIXEL, *AUTO_RANGE)),
                                                    pixels // AUTO_MIN_PIXELS))
        found = segmentation.slic(image, n_segments=wanted, compactness=10.0, start_label=0, channel_axis=-1)
        if len(np.unique(found)) < min(FEW_SUPERPIXELS, wanted):
            return grid_segments(image.shape[:2], wanted)
        return found
    if algorithm == "quickshift":
        return segmentation.quickshift(image, **params, rng=seed)
    if algorithm == "slic":
        return segmentation.slic(image, **params, channel_axis=-1)
    return segmentation.felzenszwalb(image, **params, channel_axis=-1)


SEGMENTATION_DEFAULTS: dict[str, Any] = {"segmentation": "auto", "segmentation_params": None, "segments": None}
"""The superpixel parameters every superpixel method takes (see :func:`superpixels_for`)."""


def segmentation_constraints() -> dict[str, Any]:
    """The constraints of :data:`SEGMENTATION_DEFAULTS`."""
    from xaihub.core.params import Anything, Array, Choice

    return {
        "segmentation": Choice(*ALGORITHMS),
        "segmentation_params": [None, Anything("a dict of the segmentation algorithm's parameters")],
        "segments": [None, Array(2, "iu", "an H×W array of superpixel ids")],
    }


def superpixels_for(image: np.ndarray, params: Mapping[str, Any], seed: int, cache: RunCache | None = None,
                    device: Any = None) -> np.ndarray:
    """The superpixels a method's ``params`` ask for: the given ``segments``, or ``segmentation`` with
    ``segmentation_params``, cached per call (see :func:`segment`)."""
    if params["segments"] is not None:
        return check_segments(params["segments"], image)
    return segment(image, params["segmentation"], dict(params["segmentation_params"] or {}), seed, cache, device)
