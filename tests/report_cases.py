"""Inputs for the report tests: a comparison exercising every kind of report cell (segments, per-channel
maps, plain maps, a failure), methods whose maps look like real ones at a photo's size, a small
`explain_many` run for the dataset report, an HTML parser and a data-URI decoder."""

import base64
import io
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


MAP_KINDS = ("cam", "gradient", "superpixel")
_SEGMENTS: dict = {}
"""Superpixels per image, computed once (SLIC takes a second on a photo)."""


class Realistic(Explainer):
    """A cheap method whose maps look like one kind of real method's, at the image's own size, for
    measuring and checking reports of real photos: ``"cam"`` a smooth 7×7 grid upsampled (Grad-CAM),
    ``"gradient"`` speckle following the image's edges (saliency, IG), ``"superpixel"`` one value per
    superpixel, returned with the superpixels (LIME, Kernel SHAP)."""

    def __init__(self, name, kind, family=None):
        self.name, self.kind, self.family = name, kind, family

    def explain(self, model, image, targets, *, seed):
        from xaihub.core.maps import resize_map
        from xaihub.core.superpixels import segment

        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        height, width = image.shape[:2]
        maps = []
        for target in targets:
            if self.kind == "cam":
                maps.append(Explanation(target=target, attribution=resize_map(
                    rng.standard_normal((7, 7)).astype(np.float32) + 0.5, height, width)))
            elif self.kind == "gradient":
                grey = image.astype(np.float32).mean(axis=2)
                edges = np.hypot(*np.gradient(grey)) / 255 + 0.05
                maps.append(Explanation(target=target, attribution=(
                    rng.standard_normal((height, width)).astype(np.float32) * edges)))
            else:
                key = (image.shape, zlib.crc32(image.tobytes()))
                segments = _SEGMENTS.setdefault(key, segment(image, "auto", {}, seed)) if key not in _SEGMENTS \
                    else _SEGMENTS[key]
                weights = rng.standard_normal(int(segments.max()) + 1).astype(np.float32)
                maps.append(Explanation(target=target, attribution=weights[segments], segments=segments,
                                        segment_weights=weights))
        return maps


def realistic_methods(count: int) -> list[Realistic]:
    """``count`` methods cycling through the map kinds of :class:`Realistic` and the families of
    :data:`FAKE_FAMILIES`, two "libraries" each."""
    return [Realistic(f"{['alpha', 'beta'][i // len(FAKE_FAMILIES) % 2]}.{MAP_KINDS[i % 3]}_{i}", MAP_KINDS[i % 3],
                      FAKE_FAMILIES[i % len(FAKE_FAMILIES)]) for i in range(count)]


PHOTOS = ("coffee", "chelsea")


def photo_comparisons(methods: list[str]) -> list[xaihub.Comparison]:
    """One comparison per photo of :data:`PHOTOS` (scikit-image's, at their own size: 400×600 and 300×451),
    explaining the top class with the registered ``methods``, like the demo's. Their deletion and insertion
    values are made up: on full-size photos the metrics would take minutes, and they change no picture."""
    from xaihub.pretrained import photo

    from toy_models import linear_model

    rng = np.random.default_rng(0)
    comparisons = [xaihub.explain(linear_model(), photo(name), methods=methods, targets="top-1") for name in PHOTOS]
    for explanation in (x for comparison in comparisons for x in comparison.explanations):
        explanation.metrics = {"deletion": float(rng.uniform(0, 0.5)), "insertion": float(rng.uniform(0.3, 1))}
    return comparisons


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


def decoded(source: str):
    """The MIME type of a ``data:`` URI and its picture, decoded by Pillow."""
    from PIL import Image

    header, data = source.split(",", 1)
    assert header.startswith("data:") and header.endswith(";base64")
    picture = Image.open(io.BytesIO(base64.b64decode(data)))
    picture.load()
    return header.removeprefix("data:").removesuffix(";base64"), picture


def parse(page: str) -> Collect:
    collected = Collect()
    collected.feed(page)
    return collected
