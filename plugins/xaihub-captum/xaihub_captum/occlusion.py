"""``captum.occlusion``: captum's ``Occlusion`` with a square window sliding over the image's pixels."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from xaihub import Explanation
from xaihub.core.params import Choice, Integer
from xaihub.core.superpixels import FILLS, fill_image
from xaihub.models import GradientAdapter
from xaihub_captum.method import CaptumMethod
from xaihub_captum.pixel_scores import SCORES, pixel_images, pixel_scores, score_name
from xaihub_captum.running import captum_run

WINDOW_FRACTION = 14
"""The default window is the image's shorter side over this (16 px on a 224 px image)."""


class Occlusion(CaptumMethod):
    """captum's ``Occlusion``: a ``window``×``window`` pixel square (all channels) slides over the image in
    steps of ``stride`` px and is replaced by ``fill``; each pixel's value is the mean drop of the target's
    ``score`` over the windows that cover it.

    The window lies on the image at its own resolution (the model's resizing comes after). Defaults follow
    the image: ``window`` = its shorter side / 14 (at least 1 px), ``stride`` = half the window; captum
    adds a last, clipped window where the steps do not reach the border, so every pixel is covered.
    ``fill``: ``"zero"`` (black), ``"mean"`` (the image's mean colour) or ``"blur"`` (Gaussian, 5 px).
    ``score``: ``"logit"`` (the raw score) or ``"probability"``. All targets share the occluded images
    (captum attributes every output of one forward function), evaluated ``model.images_per_batch`` at a
    time (captum's ``perturbations_per_eval``). Forward passes: windows + 1, for all targets together;
    ``extras`` holds the window, stride and number of windows.
    """

    name = "captum.occlusion"
    family = "occlusion"
    summary = "captum Occlusion: a sliding window (1/14 of the shorter side, stride half of it) over the pixels"
    defaults: dict[str, Any] = {"window": None, "stride": None, "fill": "zero", "score": "logit"}
    constraints = {"window": [None, Integer(1, 4096)], "stride": [None, Integer(1, 4096)], "fill": Choice(*FILLS),
                   "score": Choice(*SCORES)}

    def explain(self, model: GradientAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                window: int | None, stride: int | None, fill: str, score: str) -> list[Explanation]:
        from captum.attr import Occlusion as CaptumOcclusion

        height, width = image.shape[:2]
        side = min(window or max(1, round(min(height, width) / WINDOW_FRACTION)), height, width)
        step = stride or max(1, side // 2)
        channels = image.shape[2]
        scores = pixel_scores(model, score)
        chosen = list(targets)
        whole = np.zeros((height, width), np.int32)  # one segment: "mean" fills with the image's mean colour
        with captum_run(model, seed):
            values = CaptumOcclusion(lambda pixels: scores(pixels)[:, chosen]).attribute(
                pixel_images(model, image[None]), sliding_window_shapes=(channels, side, side),
                strides=(channels, step, step), baselines=pixel_images(model, fill_image(image, whole, fill)[None]),
                perturbations_per_eval=model.images_per_batch(height, width))
        maps = values[:, 0].float().cpu().numpy()  # every channel of a pixel holds the same value
        windows = (math.ceil((height - side) / step) + 1) * (math.ceil((width - side) / step) + 1)
        extras = {"score": score_name(model, score), "window": side, "stride": step, "windows": windows, "fill": fill}
        return [Explanation(target=target, attribution=maps[i].astype(np.float32), extras=dict(extras))
                for i, target in enumerate(chosen)]
