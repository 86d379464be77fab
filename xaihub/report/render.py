"""Turning attribution maps into pictures (overlays, superpixel views, colour scales) and encoding them
for the HTML report: each picture at the size it is shown, photo-like ones as lossy WebP, drawings as
palette PNG (see :func:`photo`, :func:`drawing`, :func:`chart`).

Colours: every map uses the diverging ``PiYG`` colormap — green supports the target,
pink/magenta speaks against it, uncoloured means no attribution — drawn over a dimmed
grey copy of the image. Superpixel views follow VisuaLIME: positive superpixels green,
negative red.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from xaihub.core.errors import InputError
from xaihub.core.explanation import Explanation
from xaihub.core.maps import ROBUST_PERCENTILE, robust_limit  # noqa: F401 (the report's names for them)
from xaihub.report.text import e

if TYPE_CHECKING:
    import PIL.Image
    from matplotlib.figure import Figure

COLORMAP = "PiYG"
SCALES = ("map", "row")
DENSITY = 2
"""Pixels per CSS pixel of every embedded picture: sharp on high-DPI screens (most laptops and phones); with
the encodings below a 60-method report of two photos still weighs a few MB."""
PHOTO_QUALITY = 80
"""WebP quality of photo-like pictures (0-100)."""
MAP_WIDTH, VIEW_WIDTH, INPUT_WIDTH, GALLERY_WIDTH = 180, 88, 240, 144
"""CSS pixels: the width of a map card, of a superpixel view, of the input and of a dataset-gallery picture."""
LARGE_WIDTH = 400
"""CSS pixels: the width of a map in the report's large view (one link away from each card)."""
LARGE_DENSITY, LARGE_QUALITY = 1, 75
"""The large view's pixels per CSS pixel and WebP quality: at one pixel per CSS pixel it shows every pixel of a
model input of up to 400 px, and costs about what the small map at :data:`DENSITY` costs."""
PAGE_WIDTH = 1400
"""CSS pixels: the widest the report's content gets (a wider chart would only be shrunk)."""


@dataclass(frozen=True)
class Picture:
    """An encoded picture ready to embed: its ``data:`` URI and the size, in CSS pixels, it is shown at."""

    uri: str
    width: int
    height: int

    def img(self, alt: str, attributes: str = "") -> str:
        """The ``<img>`` element (``attributes`` already escaped), sized so the page lays out before it decodes."""
        return (f"<img {attributes + ' ' if attributes else ''}alt='{e(alt)}' width='{self.width}' "
                f"height='{self.height}' src='{self.uri}'>")


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
    """VisuaLIME-style view of a segment-based explanation; see :meth:`xaihub.Explanation.superpixel_view`."""
    return explanation.superpixel_view(coverage)


def colourbar(height: int = 160, width: int = 14) -> np.ndarray:
    """A vertical colourbar, ``+1`` at the top and ``-1`` at the bottom."""
    ramp = np.linspace(1, -1, height)[:, None].repeat(width, axis=1)
    return np.rint(colours(ramp)).astype(np.uint8)


def photo(pixels: np.ndarray, width: int, density: float = DENSITY, quality: int = PHOTO_QUALITY) -> Picture:
    """A photo-like picture (the input, a map over the greyed photo, the kept superpixels) shown ``width``
    CSS pixels wide: shrunk to ``density`` × ``width`` pixels and encoded as lossy WebP at ``quality``.

    Lossless buys nothing visible here and costs about ten times the bytes: at :data:`PHOTO_QUALITY`, a map
    over scikit-image's coffee photo, as shown, stays within 37-43 dB PSNR of its lossless version (smooth,
    speckled and superpixel maps), and its strongest colour stays its colour (``tests/test_report.py``).
    """
    from PIL import Image

    shrunk = _fit(pixels, round(width * density))
    picture = Image.fromarray(np.ascontiguousarray(shrunk))
    return Picture(_data_uri(picture, "WEBP", "image/webp", quality=quality), width, _shown_height(shrunk, width))


def drawing(pixels: np.ndarray, width: int) -> Picture:
    """A picture of flat colours and sharp lines (colour scales, superpixel outlines, charts) shown ``width``
    CSS pixels wide: shrunk to :data:`DENSITY` × ``width`` pixels and encoded as a palette PNG, which is
    lossless for a picture of at most 256 colours and, for more, keeps lines sharp where lossy codecs smear them.
    """
    from PIL import Image

    shrunk = _fit(pixels, width * DENSITY)
    picture = Image.fromarray(np.ascontiguousarray(shrunk[..., :3]))
    # Median cut keeps every colour of a picture that has at most 256; the octree is faster and closer for more.
    method = Image.Quantize.MEDIANCUT if picture.getcolors(256) else Image.Quantize.FASTOCTREE
    palette = picture.quantize(256, method=method, dither=Image.Dither.NONE)
    return Picture(_data_uri(palette, "PNG", "image/png", optimize=True), width, _shown_height(shrunk, width))


def chart(figure: "Figure") -> Picture:
    """A matplotlib figure shown 100 CSS pixels per inch, or narrower to fit :data:`PAGE_WIDTH`, drawn at
    :data:`DENSITY` times that as a :func:`drawing`."""
    from PIL import Image

    width = min(PAGE_WIDTH, 100 * float(figure.get_figwidth()))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DENSITY * width / float(figure.get_figwidth()))
    return drawing(np.asarray(Image.open(buffer).convert("RGB")), round(width))


def colour_scale(length: int, thickness: int, horizontal: bool = False) -> Picture:
    """The colour scale, ``length`` × ``thickness`` CSS pixels: ``+1`` at the top, or at the right when
    ``horizontal``."""
    bar = colourbar(length * DENSITY, thickness * DENSITY)
    return drawing(bar[::-1].transpose(1, 0, 2) if horizontal else bar, length if horizontal else thickness)


def _fit(pixels: np.ndarray, width: int) -> np.ndarray:
    """``pixels`` shrunk (Lanczos) to ``width`` pixels wide, keeping the aspect ratio; narrower ones unchanged."""
    from PIL import Image

    height, current = pixels.shape[:2]
    if current <= width:
        return pixels
    size = (width, max(1, round(height * width / current)))
    return np.asarray(Image.fromarray(np.ascontiguousarray(pixels)).resize(size, Image.Resampling.LANCZOS))


def _shown_height(pixels: np.ndarray, width: int) -> int:
    return max(1, round(width * pixels.shape[0] / pixels.shape[1]))


def _data_uri(picture: "PIL.Image.Image", format: str, mime: str, **options: Any) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format, **options)
    return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
