"""Inputs for the report tests: a comparison exercising every kind of report cell (segments, per-channel
maps, plain maps, a failure), a small `explain_many` run for the dataset report, and an HTML parser."""

import zlib
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


def sample_run(folder, out, metrics=("deletion",), extra=()) -> str:
    """An `explain_many` run over 7 small images in ``folder`` (one with an evil name) and an unreadable
    file, with native.lime, test.plain and the ``extra`` methods, written to ``out``; returns ``out``."""
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
        xaihub.explain_many(channel_means, folder, methods=["native.lime", plain.name, *extra], targets="top-2",
                            out=out, labels=LABELS, params={"native.lime": {"num_samples": 20}}, metrics=list(metrics))
    finally:
        xaihub.unregister(plain.name)
    return str(out)


class Fake(Explainer):
    """A cheap method of a given family: a smooth map of the image's ``target`` channel, blended with
    method-specific noise; ``fails`` makes it raise a long, multi-line error instead."""

    def __init__(self, name, family, noise=0.0, fails=False, defaults=None):
        self.name, self.family, self.noise, self.fails = name, family, noise, fails
        self.defaults = dict(defaults or {})

    def explain(self, model, image, targets, *, seed, **params):
        if self.fails:
            raise RuntimeError("first line of a long failure\n" + "a traceback line that goes on and on " * 200)
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        maps = []
        for target in targets:
            signal = image[..., target % 3].astype(np.float32) / 255
            maps.append(Explanation(target=target, attribution=(1 - self.noise) * signal
                                    + self.noise * rng.standard_normal(signal.shape).astype(np.float32)))
        return maps


FAKE_FAMILIES = ["saliency", "integrated_gradients", "grad_cam", "lime", "kernel_shap", "occlusion", "rise",
                 "smoothgrad", "lrp", "deeplift", "guided_backprop", None]


def many_methods(count: int) -> list[Fake]:
    """``count`` fake methods from three "libraries" over twelve families (one without a family);
    every 15th fails with a long message, and the grad_cam implementations disagree."""
    methods = []
    for i in range(count):
        family = FAKE_FAMILIES[i % len(FAKE_FAMILIES)]
        library = ["alpha", "beta", "gamma"][(i // len(FAKE_FAMILIES)) % 3]
        noise = 0.9 if family == "grad_cam" and library != "alpha" else 0.1
        methods.append(Fake(f"{library}.{family or 'custom'}_{i}", family, noise=noise, fails=i % 15 == 14,
                            defaults={"steps": 10 + i}))
    return methods


def photo_like(size: int = 64) -> np.ndarray:
    """A smooth image with a bright square, so maps have structure."""
    y, x = np.mgrid[0:size, 0:size] / size
    image = np.stack([x, y, 1 - x], axis=-1) * 160
    image[size // 4 : size // 2, size // 3 : 2 * size // 3] += 90
    return np.clip(image, 0, 255).astype(np.uint8)


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
