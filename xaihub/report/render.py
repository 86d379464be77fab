"""Turning attribution maps into pictures: overlays, superpixel views, colourbars, PNG data URIs.

Colours: every map uses the diverging ``PiYG`` colormap — green supports the target,
pink/magenta speaks against it, uncoloured means no attribution — drawn over a dimmed
grey copy of the image. Superpixel views follow VisuaLIME: positive superpixels green,
negative red.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Sequence

import numpy as np

from xaihub.errors import InputError
from xaihub.explanation import Explanation

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLORMAP = "PiYG"
SCALES = ("map", "row")
ROBUST_PERCENTILE = 99.0
"""Colour limits use this percentile of ``|attribution|``, so a few extreme pixels don't wash out the rest."""
THUMBNAIL = 360
"""Longest side, in pixels, of the pictures the HTML report embeds (twice their shown size, for sharp screens)."""
_POSITIVE, _NEGATIVE = np.array([0, 200, 0], np.float32), np.array([230, 0, 0], np.float32)


def scaled_maps(maps: Sequence[np.ndarray], scale: str = "map") -> list[np.ndarray]:
    """``maps`` divided by their colour limit and clipped to ``[-1, 1]``.

    ``scale="map"``: each map by its own limit (methods' raw units differ, e.g. LIME
    coefficients vs gradients; every map then uses the full colour range).
    ``scale="row"``: all maps by one shared limit (raw magnitudes stay comparable).
    """
    if scale not in SCALES:
        raise InputError(f"scale must be one of {SCALES}, got {scale!r}")
    limits = [robust_limit(m) for m in maps]
    if scale == "row":
        limits = [max(limits, default=1.0)] * len(maps)
    return [np.clip(np.asarray(m, np.float32) / limit, -1, 1) for m, limit in zip(maps, limits)]


def robust_limit(values: np.ndarray) -> float:
    """The symmetric colour limit of one map (1.0 for an all-zero map)."""
    limit = float(np.percentile(np.abs(values), ROBUST_PERCENTILE))
    if limit == 0:
        limit = float(np.abs(values).max())
    return limit if limit > 0 else 1.0


def colours(values: np.ndarray) -> np.ndarray:
    """RGB float in ``[0, 255]`` for values in ``[-1, 1]``."""
    from matplotlib import colormaps

    return colormaps[COLORMAP]((np.asarray(values) + 1) / 2)[..., :3].astype(np.float32) * 255


def overlay(image: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``H×W×3`` uint8: the map's colours over a dimmed grey ``image``; opacity grows with ``|value|``."""
    grey = image.astype(np.float32).mean(axis=2, keepdims=True) * 0.5 + 90
    alpha = np.abs(values)[..., None] * 0.9
    return np.rint(grey * (1 - alpha) + colours(values) * alpha).astype(np.uint8)


def superpixel_view(explanation: Explanation, coverage: float = 0.2) -> np.ndarray:
    """VisuaLIME-style view: the top ``coverage`` fraction of superpixels by ``|weight|`` tinted
    green (positive) or red (negative) over the image, their outlines drawn."""
    from skimage.segmentation import find_boundaries

    if not 0 < coverage <= 1:
        raise InputError(f"coverage must lie in (0, 1], got {coverage}")
    weights = np.asarray(explanation.segment_weights, np.float32)
    count = max(1, int(round(coverage * len(weights))))
    chosen = np.argsort(-np.abs(weights), kind="stable")[:count]
    chosen = chosen[weights[chosen] != 0]
    out = explanation.image.astype(np.float32)
    for sign, tint in ((1, _POSITIVE), (-1, _NEGATIVE)):
        mask = np.isin(explanation.segments, chosen[np.sign(weights[chosen]) == sign])
        out[mask] = out[mask] * 0.45 + tint * 0.55
    edges = find_boundaries(np.where(np.isin(explanation.segments, chosen), explanation.segments, -1), mode="inner")
    out[edges] = 255
    return np.rint(out).astype(np.uint8)


def colourbar(height: int = 160, width: int = 14) -> np.ndarray:
    """A vertical colourbar, ``+1`` at the top and ``-1`` at the bottom."""
    ramp = np.linspace(1, -1, height)[:, None].repeat(width, axis=1)
    return np.rint(colours(ramp)).astype(np.uint8)


def thumbnail(pixels: np.ndarray, longest: int = THUMBNAIL) -> np.ndarray:
    """``pixels`` shrunk (Lanczos) so that the longer side is at most ``longest``; smaller ones unchanged.

    Maps are shown about 180 px wide: embedding a 2000 px PNG per method would only make the file huge.
    """
    from PIL import Image

    height, width = pixels.shape[:2]
    if max(height, width) <= longest:
        return pixels
    scale = longest / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(np.ascontiguousarray(pixels)).resize(size, Image.Resampling.LANCZOS))


def figure_data_uri(figure: "Figure", dpi: int = 100) -> str:
    """``data:image/png;base64,...`` of a matplotlib figure."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_data_uri(pixels: np.ndarray) -> str:
    """``data:image/png;base64,...`` for an ``H×W×3`` or ``H×W×4`` uint8 array."""
    from matplotlib.image import imsave

    buffer = io.BytesIO()
    imsave(buffer, np.ascontiguousarray(pixels), format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
