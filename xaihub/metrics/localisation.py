"""Localisation: does the map fall on the object? For runs with object masks (``masks=`` of
:func:`xaihub.explain_many` and :func:`xaihub.benchmark`, or ``metrics={"pointing_game": {"mask": ...}}``).

* ``pointing_game`` (Zhang et al., "Top-down neural attention by excitation backprop", 2018): 1 when the map's
  maximum lies on the object, else 0. As in the paper, a point within ``tolerance`` pixels of the object counts
  (15 px on a 224 px image: a map computed at a coarser resolution is not punished for its blur). Where the
  maximum is a plateau of several pixels, it is a hit when most of them lie on the (widened) object.
* ``relevance_mass`` (Arras et al., "CLEVR-XAI", 2022): the share of the map's positive relevance that lies on the
  object (in ``[0, 1]``; the object's share of the image for a uniform map).

Unlike Quantus 0.6's PointingGame (no tolerance; a constant map counts as a hit; an empty mask as a success), a
constant map is never scored (the runner skips degenerate maps) and an empty mask is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from xaihub.contracts.metric import Metric
from xaihub.core.errors import InputError
from xaihub.core.maps import DegenerateMapError
from xaihub.core.masks import check_mask, object_mask

if TYPE_CHECKING:
    from xaihub.core.explanation import Explanation
    from xaihub.models import ModelAdapter

DEFAULT_TOLERANCE = 15
"""Pixels around the object that still count as on it (Zhang et al.'s 15 px)."""


def _plane(attribution: np.ndarray) -> np.ndarray:
    values = np.asarray(attribution, dtype=np.float64)
    return values.sum(axis=-1) if values.ndim == 3 else values


class PointingGame(Metric):
    """Whether the map's maximum lies on the object, within ``tolerance`` pixels."""

    name = "pointing_game"
    summary = "1 when the map's maximum lies on the object (within `tolerance` pixels), else 0; needs a `mask`"
    lower_is_better = {"pointing_game": False}
    required = ("mask",)
    defaults = {"tolerance": DEFAULT_TOLERANCE}
    libraries = ("scipy",)

    def expected_forward_passes(self, params: Mapping[str, Any]) -> int:
        """None: it reads the map and the mask."""
        return 0

    def check_params(self, params: Mapping[str, Any]) -> None:
        check_mask(params["mask"])
        tolerance = params["tolerance"]
        if isinstance(tolerance, bool) or not isinstance(tolerance, int) or not 0 <= tolerance <= 10_000:
            raise InputError(f"pointing_game's tolerance is a number of pixels in [0, 10000], got {tolerance!r}")

    def compute(self, model: "ModelAdapter", explanation: "Explanation", *, seed: int, mask: Any,
                tolerance: int) -> dict[str, float]:
        values = _plane(explanation.attribution)
        region = object_mask(mask, values.shape)
        if tolerance:
            from scipy.ndimage import distance_transform_edt

            region = distance_transform_edt(~region) <= tolerance
        peaks = values == values.max()
        return {"pointing_game": float(region[peaks].mean() > 0.5)}


class RelevanceMass(Metric):
    """The share of the map's positive relevance that lies on the object."""

    name = "relevance_mass"
    summary = "the share of the map's positive relevance on the object, in [0, 1]; needs a `mask`"
    lower_is_better = {"relevance_mass": False}
    required = ("mask",)

    def expected_forward_passes(self, params: Mapping[str, Any]) -> int:
        """None: it reads the map and the mask."""
        return 0

    def check_params(self, params: Mapping[str, Any]) -> None:
        check_mask(params["mask"])

    def compute(self, model: "ModelAdapter", explanation: "Explanation", *, seed: int, mask: Any
                ) -> dict[str, float]:
        positive = np.clip(_plane(explanation.attribution), 0.0, None)
        total = float(positive.sum())
        if total <= 0:
            raise DegenerateMapError("the map has no positive relevance to share out")
        return {"relevance_mass": float(positive[object_mask(mask, positive.shape)].sum() / total)}
