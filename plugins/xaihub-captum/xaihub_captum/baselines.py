"""Reference inputs of the path and difference methods, in the adapter's input space.

One baseline (Integrated Gradients, DeepLift): ``"black"`` (an all-black image), ``"zero"`` (the input
whose model input is all zeros: mid-grey for ``[-1, 1]`` models, as ``GradientAdapter.zero_input``) or
``"blur"`` (the image blurred with a Gaussian of ``blur_sigma`` pixels) — the same three as
``gradients.integrated``. A distribution (GradientShap, DeepLiftShap) adds ``n`` blurred copies with sigmas
2, 4, 8, … px (as ``shap.gradient``'s ``"blur"`` background) and ``n`` images of uniform noise in [0, 255].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xaihub.core.errors import InputError
from xaihub.models import GradientAdapter

BASELINES = ("black", "zero", "blur")
DISTRIBUTIONS = ("black", "zero", "blur", "uniform")


def one_baseline(model: GradientAdapter, image: np.ndarray, kind: str, blur_sigma: float) -> Any:
    """One baseline ``1×C×h×w`` on the model's device."""
    if kind == "zero":
        return model.zero_input(image[None])
    if kind == "black":
        return model.differentiable_input(np.zeros((1, *image.shape), np.float32))
    if kind == "blur":
        return model.differentiable_input(_blurred(image, blur_sigma)[None])
    raise InputError(f"baseline must be one of {BASELINES}, got {kind!r}")


def baseline_distribution(model: GradientAdapter, image: np.ndarray, kind: str, n: int, seed: int) -> Any:
    """Baselines ``B×C×h×w``: one for ``"black"``/``"zero"``, ``n`` for ``"blur"``/``"uniform"``."""
    if kind in ("black", "zero"):
        return one_baseline(model, image, kind, 0.0)
    if kind == "blur":
        images = np.stack([_blurred(image, 2.0 ** (k + 1)) for k in range(n)])
    elif kind == "uniform":
        images = np.random.default_rng(seed).uniform(0, 255, (n, *image.shape)).astype(np.float32)
    else:
        raise InputError(f"baselines must be one of {DISTRIBUTIONS}, got {kind!r}")
    return model.differentiable_input(images)


def _blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.filters import gaussian

    return gaussian(image.astype(np.float32), sigma=sigma, channel_axis=-1, preserve_range=True).astype(np.float32)
