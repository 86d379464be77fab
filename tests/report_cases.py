"""Inputs for the report tests: a comparison exercising every kind of report cell (segments, per-channel
maps, plain maps, a failure), a small `explain_many` run for the dataset report, and an HTML parser."""

from html.parser import HTMLParser

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


EVIL_FILE = "<script>alert(2)"  # an image file name (it cannot hold "/") that must show as text


def sample_run(folder, out, metrics=("deletion",)) -> str:
    """An `explain_many` run over 7 small images in ``folder`` (one with an evil name) and an unreadable
    file, with native.lime and test.plain, written to ``out``; returns ``out``."""
    from PIL import Image

    from toy_models import channel_means

    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for name in ["a", "b", "c", "d", "e", "f", EVIL_FILE]:
        blocks = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        Image.fromarray(blocks.repeat(8, axis=0).repeat(8, axis=1)).save(folder / f"{name}.png")
    (folder / "broken.png").write_text("not an image")
    plain = Plain()
    xaihub.register(plain)
    try:
        xaihub.explain_many(channel_means, folder, methods=["native.lime", plain.name], targets="top-2", out=out,
                            labels=LABELS, params={"native.lime": {"num_samples": 20}}, metrics=list(metrics))
    finally:
        xaihub.unregister(plain.name)
    return str(out)


class Collect(HTMLParser):
    """Every start tag's attributes, and every text node."""

    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Collect:
    collected = Collect()
    collected.feed(page)
    return collected
