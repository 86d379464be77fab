"""``baseline.noise``, ``baseline.centre`` and ``baseline.edges``: maps made without asking the model anything.

A faithfulness score means little on its own: deletion AUC, for one, rewards maps that scatter
the deleted pixels (the model never saw such images), which random noise does perfectly. Run
beside real methods, these two give every metric its reference values: a method that does not
beat them on a metric has shown nothing on it.

``baseline.edges`` is the image-only control of Adebayo et al. (2018): an edge detector, which often
does well on faithfulness metrics (objects have edges) and must fail every randomisation check (its map
is the same for any weights). A method that does no better than it on randomisation shows the image,
not the model.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import Explainer, Explanation
from xaihub.core.params import Real
from xaihub.models import ModelAdapter


class SeededNoise(Explainer):
    """Random attribution: independent standard-normal values per pixel, drawn from ``(seed, target)``,
    optionally smoothed by a Gaussian of ``sigma`` pixels (``0``: no smoothing)."""

    name = "baseline.noise"
    family = "baseline"
    summary = "reference: a seeded random map (no forward passes)"
    defaults: dict[str, Any] = {"sigma": 0.0}
    constraints = {"sigma": Real(0, 1000)}

    def expected_forward_passes(self, params, targets):
        """No model call: the map is drawn from the seed."""
        return 0

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                sigma: float) -> list[Explanation]:
        return [Explanation(target=t, attribution=_noise(image.shape[:2], seed, t, float(sigma))) for t in targets]


class CentredPrior(Explainer):
    """The photographer's prior: a Gaussian centred on the image, its standard deviation ``sigma``
    times the height (vertically) and the width (horizontally); the same map for every target."""

    name = "baseline.centre"
    family = "baseline"
    summary = "reference: a centred Gaussian prior (no forward passes)"
    defaults: dict[str, Any] = {"sigma": 0.25}
    constraints = {"sigma": Real(0, 100, low_open=True)}

    def expected_forward_passes(self, params, targets):
        """No model call: the map is a fixed prior."""
        return 0

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                sigma: float) -> list[Explanation]:
        prior = centred_gaussian(image.shape[:2], float(sigma))
        return [Explanation(target=t, attribution=prior.copy()) for t in targets]


class EdgeMap(Explainer):
    """Adebayo et al.'s image-only control: the Sobel gradient magnitude ``hypot(sobel_x, sobel_y)`` of the
    image's grayscale (the mean of its channels), the same map for every target and every model."""

    name = "baseline.edges"
    family = "baseline"
    summary = "reference: a Sobel edge map of the image (image-only control; no forward passes)"
    defaults: dict[str, Any] = {}

    def expected_forward_passes(self, params, targets):
        """No model call: the map is the image's edges."""
        return 0

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *,
                seed: int) -> list[Explanation]:
        edges = sobel_magnitude(image)
        return [Explanation(target=t, attribution=edges.copy()) for t in targets]


def sobel_magnitude(image: np.ndarray) -> np.ndarray:
    """``H×W`` float32 Sobel gradient magnitude of the grayscale of an ``H×W×C`` (or ``H×W``) image, both axes,
    unclipped, edges reflected at the border."""
    from scipy.ndimage import sobel

    gray = np.asarray(image, dtype=np.float64)
    gray = gray.mean(axis=2) if gray.ndim == 3 else gray
    return np.hypot(sobel(gray, axis=0, mode="reflect"), sobel(gray, axis=1, mode="reflect")).astype(np.float32)


def centred_gaussian(shape: tuple[int, int], sigma: float) -> np.ndarray:
    """``H×W`` float32 Gaussian bump with peak 1 at the image centre; ``sigma`` is a fraction of each side."""
    height, width = shape
    rows = (np.arange(height) - (height - 1) / 2) / (sigma * height)
    columns = (np.arange(width) - (width - 1) / 2) / (sigma * width)
    return np.exp(-0.5 * (rows[:, None] ** 2 + columns[None, :] ** 2)).astype(np.float32)


def _noise(shape: tuple[int, int], seed: int, target: int, sigma: float) -> np.ndarray:
    values = np.random.default_rng([seed, target]).standard_normal(shape)
    if sigma > 0:
        from scipy.ndimage import gaussian_filter

        values = gaussian_filter(values, sigma)
    return values.astype(np.float32)

