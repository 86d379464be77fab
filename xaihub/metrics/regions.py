"""Region flipping both ways: the symmetric relevance gain (SRG) of Blücher et al. 2024.

Pixel deletion rewards scattered maps: blacking out a random 5% of the pixels already pushes a photo off the
model's data, so noise scores well (the out-of-distribution artefact of pixel flipping). Region flipping
removes whole square patches, and :func:`srg` removes them in both orders, each replaced by the same patch
of a blurred copy of the image:

* **MoRF** (most relevant first): the area under the target's probability curve as patches are removed,
  most relevant first; low when the map finds what the model needs;
* **LeRF** (least relevant first): the same curve, least relevant first; high when what the map calls
  unimportant really is;
* **SRG** = AUC(LeRF) − AUC(MoRF), higher is better.

Whatever removing patches does to the model by itself (the artefact) lowers both curves alike and cancels in
the difference, which is why Blücher et al. ("Decoupling pixel flipping and occlusion strategy for consistent
XAI benchmarks", TMLR 2024) find SRG consistent across occlusion strategies where MoRF alone is not. A map
that knows nothing about the model has SRG ≈ 0.

A patch's relevance is the mean attribution over its pixels; equal relevances are ordered by a permutation
drawn from ``seed``, so a flat map is a random order, not raster order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from xaihub.contracts.metric import Metric
from xaihub.core.errors import InputError
from xaihub.metrics.faithfulness import BLUR_SIGMA, DEFAULT_STEPS, area, blurred, check_steps, switching_curve
from xaihub.models import ModelAdapter

if TYPE_CHECKING:
    from xaihub.core.explanation import Explanation

DEFAULT_PATCHES = 14
"""Patches per side: 14 × 14 = 196 patches of 16 px on a 224 px photo."""
FILLS = ("blur", "mean", "black")


@dataclass(frozen=True)
class RegionCurves:
    """The two region-flipping curves of one map, and their areas."""

    morf: np.ndarray
    """Target probability after removing 0, …, all patches in ``steps`` steps, most relevant first."""
    lerf: np.ndarray
    """The same, least relevant first."""

    @property
    def morf_auc(self) -> float:
        return area(self.morf)

    @property
    def lerf_auc(self) -> float:
        return area(self.lerf)

    @property
    def srg(self) -> float:
        """AUC(LeRF) − AUC(MoRF)."""
        return self.lerf_auc - self.morf_auc


def patch_labels(height: int, width: int, patches: int = DEFAULT_PATCHES) -> np.ndarray:
    """``(height, width)`` labels ``0 … n-1`` of a grid of ``min(patches, side)`` patches per side (raster order)."""
    _check_patches(patches)
    rows, cols = min(patches, height), min(patches, width)
    return (np.arange(height) * rows // height)[:, None] * cols + (np.arange(width) * cols // width)[None, :]


def region_order(attribution: np.ndarray, labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Region labels from most to least relevant (mean attribution); ties in a random order drawn from ``seed``."""
    count = int(labels.max()) + 1
    flat = labels.ravel()
    relevance = (np.bincount(flat, np.asarray(attribution, np.float64).ravel(), count)
                 / np.maximum(np.bincount(flat, minlength=count), 1))
    tie_break = np.random.default_rng(seed).permutation(count)
    return np.lexsort((tie_break, -relevance))


def region_curves(model: ModelAdapter, image: np.ndarray, attribution: np.ndarray, target: int, *,
                  patches: int = DEFAULT_PATCHES, steps: int = DEFAULT_STEPS, fill: str = "blur",
                  sigma: float = BLUR_SIGMA, seed: int = 0) -> RegionCurves:
    """The MoRF and LeRF curves of ``attribution`` for ``target`` (see the module docstring)."""
    _check(patches=patches, steps=steps, fill=fill, sigma=sigma)
    labels = patch_labels(*image.shape[:2], patches)
    order = region_order(attribution, labels, seed)
    replacement = filled(image, fill, sigma)
    counts = np.unique(np.rint(np.linspace(0, order.size, steps + 1)).astype(int))
    rank = np.empty(order.size, int)
    rank[order] = np.arange(order.size)
    pixel_rank = rank[labels]
    morf = switching_curve(model, image, replacement, pixel_rank, counts, target)
    lerf = switching_curve(model, image, replacement, order.size - 1 - pixel_rank, counts, target)
    return RegionCurves(morf, lerf)


def srg(model: ModelAdapter, image: np.ndarray, attribution: np.ndarray, target: int, **options: Any) -> float:
    """The symmetric relevance gain AUC(LeRF) − AUC(MoRF) of ``attribution`` (options of :func:`region_curves`)."""
    return region_curves(model, image, attribution, target, **options).srg


def filled(image: np.ndarray, fill: str, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """What a removed patch shows: the blurred image (``"blur"``), its mean colour (``"mean"``) or black."""
    if fill == "blur":
        return blurred(image, sigma)
    if fill == "mean":
        mean = np.rint(image.reshape(-1, image.shape[-1]).mean(axis=0)).astype(image.dtype)
        return np.broadcast_to(mean, image.shape).copy()
    return np.zeros_like(image)


def _check_patches(patches: Any) -> None:
    if isinstance(patches, bool) or not isinstance(patches, int) or patches < 2:
        raise InputError(f"srg's patches must be an int of at least 2 (patches per side), got {patches!r}")


def _check(*, patches: Any, steps: Any, fill: Any, sigma: Any) -> None:
    _check_patches(patches)
    check_steps(steps)
    if fill not in FILLS:
        raise InputError(f"srg's fill must be one of {list(FILLS)}, got {fill!r}")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
        raise InputError(f"srg's sigma must be a positive number of pixels, got {sigma!r}")


class SymmetricRelevanceGain(Metric):
    """:func:`region_curves` as a metric: ``srg`` (↑) and its two areas, ``srg_morf`` (↓) and ``srg_lerf`` (↑)."""

    name = "srg"
    summary = ("square patches replaced by a blurred copy, most and least relevant first; AUC(LeRF) - AUC(MoRF) "
               "(Blücher et al. 2024)")
    lower_is_better = {"srg": False, "srg_morf": True, "srg_lerf": False}
    defaults = {"patches": DEFAULT_PATCHES, "steps": DEFAULT_STEPS, "fill": "blur", "sigma": BLUR_SIGMA}

    def expected_forward_passes(self, params: Mapping[str, Any]) -> int:
        """Two curves (most and least relevant first) of ``steps + 1`` images each, but their shared ends
        (:meth:`shared_images`)."""
        return 2 * (int(params["steps"]) - 1)

    def shared_images(self, params: Mapping[str, Any]) -> frozenset[str]:
        fill = params["fill"]
        return frozenset({"image", f"blur {float(params['sigma'])}" if fill == "blur" else fill})

    def check_params(self, params: Mapping[str, Any]) -> None:
        _check(**{k: params[k] for k in ("patches", "steps", "fill", "sigma")})

    def compute(self, model: ModelAdapter, explanation: "Explanation", *, seed: int, patches: int, steps: int,
                fill: str, sigma: float) -> dict[str, float]:
        curves = region_curves(model, explanation.image, explanation.attribution, explanation.target,
                               patches=patches, steps=steps, fill=fill, sigma=sigma, seed=seed)
        return {"srg": curves.srg, "srg_morf": curves.morf_auc, "srg_lerf": curves.lerf_auc}
