"""A comparison exercising every kind of report cell: segments, per-channel maps, plain maps, a failure."""

import numpy as np

import xaihub
from xaihub import Explainer, Explanation

from toy_models import linear_model

EVIL_LABEL = "<script>alert(1)</script>"
LABELS = ["red", EVIL_LABEL, "blue"]
METHODS = ["native.lime", "test.channels", "test.plain", "test.broken"]


class PerChannel(Explainer):
    name = "test.channels"

    def explain(self, model, image, targets, *, seed):
        channels = image.astype(np.float32) / 255 - 0.5
        return [Explanation(target=t, attribution=channels[..., t], channels=channels) for t in targets]


class Plain(Explainer):
    name = "test.plain"

    def explain(self, model, image, targets, *, seed):
        ramp = np.linspace(-1, 1, image.shape[0] * image.shape[1], dtype=np.float32).reshape(image.shape[:2])
        return [Explanation(target=t, attribution=ramp * (t + 1)) for t in targets]


class Broken(Explainer):
    name = "test.broken"

    def explain(self, model, image, targets, *, seed):
        raise RuntimeError("boom <b>not bold</b>")


def sample_comparison(seed: int = 0, metrics=("deletion", "insertion", "degradation")) -> xaihub.Comparison:
    blocks = np.random.default_rng(seed).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    image = blocks.repeat(8, axis=0).repeat(8, axis=1)  # 32×32 in 16 flat blocks: LIME finds real superpixels
    explainers = [PerChannel(), Plain(), Broken()]
    for explainer in explainers:
        xaihub.register(explainer)
    try:
        return xaihub.explain(linear_model(3), image, methods=METHODS, targets=[0, 1], labels=LABELS,
                              seed=seed, params={"native.lime": {"num_samples": 40}}, metrics=list(metrics))
    finally:
        for explainer in explainers:
            xaihub.unregister(explainer.name)
