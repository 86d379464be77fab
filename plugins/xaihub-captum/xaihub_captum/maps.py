"""From captum's attributions over the adapter's input space to one Explanation per target."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xaihub import Explanation
from xaihub.models import GradientAdapter

REDUCTIONS = {"sum": "sum over channels", "max_abs": "max |value| over channels"}


def channel_maps(model: GradientAdapter, image: np.ndarray, targets: Sequence[int], values: Any, reduction: str,
                 conserve: bool, extras: dict[str, Any] | None = None,
                 per_target: Sequence[dict[str, Any]] | None = None) -> list[Explanation]:
    """Explanations from ``values`` (a ``T×C×h×w`` tensor over the input space, one row per target).

    ``channels`` is each row brought to the image's pixels (unchanged in pixel space; resized otherwise,
    keeping its sum when ``conserve``); ``attribution`` reduces it over channels by ``reduction``
    (``"sum"`` for additive methods, ``"max_abs"`` for the saliency map).
    """
    height, width = image.shape[:2]
    rows = model.channels_last(values)
    explanations = []
    for i, target in enumerate(targets):
        channels = model.to_image(rows[i], height, width, conserve=conserve).astype(np.float32)
        attribution = channels.sum(axis=2) if reduction == "sum" else np.abs(channels).max(axis=2)
        explanations.append(Explanation(
            target=target, attribution=attribution.astype(np.float32), channels=channels,
            extras={"score": model.score_kind, "input_space": model.input_space, "reduction": REDUCTIONS[reduction],
                    **(extras or {}), **(per_target[i] if per_target else {})}))
    return explanations
