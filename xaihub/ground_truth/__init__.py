"""Ground truth for explanations: photo-size images with exact masks, and models known to use them.

Every image is a crop of a photo shipped with scikit-image (224×224 by default) carrying two cues:
one coloured **object** (the five classes of :mod:`xaihub.ground_truth.demo`, its radius a tenth to a sixth of the side)
somewhere, and a small framed **watermark** (one of five colours, an eighth of the side) in a corner. Two
models are trained on such images, differing only in which cue carries the class:

- the ``"object"`` model learns the class from the object (its training watermarks are random);
- the ``"shortcut"`` model learns it from the watermark: watermark ``k`` marks every training image of
  class ``k`` and the objects are random, as a source's logo can mark all the photos of one class.

So the region a faithful explanation must point at is known exactly: the object's pixels for the
object model, the watermark's for the shortcut model. In the images of a :func:`task` the two cues
always disagree (the object is of another class than the watermark), so which one a prediction
follows is visible, and the other cue is a decoy a method must not point at.

>>> from xaihub import ground_truth
>>> model, preprocess, labels = ground_truth.train_model("shortcut", seed=0)   # seconds on a CPU
>>> task = ground_truth.task("shortcut", n=16, seed=1)
>>> result = xaihub.explain(model, task.images[0], methods=["gradients.saliency"], targets=int(task.labels[0]),
...                         preprocess=preprocess, labels=labels,
...                         metrics={"quantus.pointing_game": {"mask": task.masks[0]}})

The models see the images through ``xaihub.Preprocess(size=64)``: the adapter shrinks each image inside
the framework, so gradient methods differentiate through the resize and every map comes back at the
image's size, as with an ImageNet model seeing a larger photo. Nothing is downloaded; everything is
reproducible from its ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from xaihub.core.errors import InputError
from xaihub.core.preprocess import Preprocess
from xaihub.ground_truth.shapes import CLASS_NAMES, COLOURS, fit_torch, object_mask, random_crop, torch_cnn

KINDS = ("object", "shortcut")
"""The two tasks: the class is the object's, or the watermark's."""
ARCHITECTURES = ("cnn", "vit")
"""The models :func:`train_model` trains: the CNN, or a small vision transformer."""
EPOCHS = {"cnn": 8, "vit": 25}
"""Training epochs by architecture (the transformer learns the watermark more slowly)."""
MARK_COLOURS = np.array([(0, 215, 215), (250, 130, 0), (250, 250, 250), (255, 160, 200), (128, 128, 128)],
                        np.uint8)
"""The inner colour of watermark ``k`` (cyan, orange, white, pink, grey), set apart from the objects' colours."""
MODEL_SIZE = 64
"""The side of the input the models see (the adapter resizes the images to it)."""
_MIN_SIZE = MODEL_SIZE
_TRAINING_STREAM = 0x6774  # the training images' random stream apart from every task(seed=...)
_MAX_SIZE = 4096
_MAX_PIXELS_IN_ALL = 2**28
"""The most pixels drawn at once (with their masks, about 1.3 GB)."""
_MAX_TASK_IMAGES = 100_000
_MAX_TRAINING_IMAGES = 50_000
"""The most images :func:`train_model` trains on (each kept as a 3×64×64 float tensor: 2.5 GB in all)."""
_MAX_EPOCHS = 1000
_CHUNK = 250  # training images drawn and shrunk at a time (memory)


@dataclass(frozen=True)
class Scenes:
    """Images described by their parts, to render them with or without each part.

    ``backgrounds`` N×S×S×3 uint8 photo crops; ``objects`` and ``marks`` N ints, the class of each
    image's object and watermark; ``object_masks`` and ``mark_masks`` N×S×S bool, their exact pixels.
    """

    backgrounds: np.ndarray
    objects: np.ndarray
    marks: np.ndarray
    object_masks: np.ndarray
    mark_masks: np.ndarray

    def render(self, objects: bool = True, marks: bool = True, backgrounds: np.ndarray | None = None) -> np.ndarray:
        """The images, N×S×S×3 uint8: the objects and watermarks (each only when asked for) painted on
        ``backgrounds`` (default: the scenes' own), which is how a part is removed or a background replaced."""
        images = np.array(self.backgrounds if backgrounds is None else _pixels(backgrounds, "backgrounds"),
                          dtype=np.uint8, copy=True)
        if images.shape != self.backgrounds.shape:
            raise InputError(f"backgrounds must be {self.backgrounds.shape}, got {images.shape}")
        for i in range(len(images)):
            if marks:
                _paint_mark(images[i], self.mark_masks[i], int(self.marks[i]))
            if objects:
                images[i][self.object_masks[i]] = COLOURS[self.objects[i]]
        return images


@dataclass(frozen=True)
class Task:
    """Images of one task with the class a model should give each and where its evidence is.

    ``kind`` ``"object"`` or ``"shortcut"``; ``images`` N×S×S×3 uint8; ``labels`` N ints, the true class
    (the object's for ``"object"``, the watermark's for ``"shortcut"``); ``masks`` N×S×S bool, the region
    a faithful map points at (that cue's pixels); ``decoys`` N×S×S bool, the other cue's pixels, which
    carry no evidence for the model; ``scenes`` the parts the images are made of (to render them without
    a cue or on other backgrounds).
    """

    kind: str
    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    decoys: np.ndarray
    scenes: Scenes


class TrainedModel(NamedTuple):
    """A model of :func:`train_model`: ``model`` (torch, ``N×3×64×64`` in ``[0, 1]`` → logits), the
    ``preprocess`` to explain it with, and the class ``labels``."""

    model: Any
    preprocess: Preprocess
    labels: tuple[str, ...]


def task(kind: str, n: int = 16, size: int = 224, seed: int = 0) -> Task:
    """``n`` images of task ``kind`` (``"object"`` or ``"shortcut"``), ``size×size`` pixels, in which
    the object and the watermark are of different classes. ``task("object", seed=s)`` and
    ``task("shortcut", seed=s)`` are the same images, labelled by either cue. Held out from the
    models' training whatever the seed (:func:`train_model` draws from another stream)."""
    _check_kind(kind)
    _check_size(size)
    _check_count(n, size, _MAX_TASK_IMAGES, at_once=n)
    _check_seed(seed)
    parts = _draw(np.random.default_rng(seed), n, size, balanced="object", independent=False)
    images = parts.render()
    if kind == "object":
        return Task(kind, images, parts.objects, parts.object_masks, parts.mark_masks, parts)
    return Task(kind, images, parts.marks, parts.mark_masks, parts.object_masks, parts)


def train_model(kind: str, seed: int = 0, n: int = 1000, size: int = 224, epochs: int | None = None,
                architecture: str = "cnn") -> TrainedModel:
    """A torch CNN (``architecture="cnn"``) or vision transformer (``"vit"``) trained on ``n`` images of
    ``size×size`` whose class is carried by the object (``kind="object"``) or by the watermark
    (``"shortcut"``), the other cue being random; returns ``(model, preprocess, labels)``. The model sees
    the images through ``preprocess`` (``Preprocess(size=64)``: resized inside torch, pixels divided by
    255). The CNN ends in a global max pooling, which finds a small watermark as readily as an object. The
    transformer (``xaihub/ground_truth/vit.py``) cuts the 64×64 input into 8×8-pixel patches (an 8×8
    grid), adds a class token and runs three pre-norm blocks of ``nn.MultiheadAttention`` (width 48, 4
    heads); 70 k parameters, trained with AdamW on a one-cycle schedule. ``epochs``: default
    :data:`EPOCHS` (8 for the CNN, 25 for the transformer).

    Deterministic from ``seed``: the images come from their own random stream (never one of
    :func:`task`'s), and the network, too small to gain from threads, trains on one CPU thread, so the
    machine's thread count does not change the weights (the caller's setting is restored). Seconds of
    CPU time for the CNN, a few minutes for the transformer.
    """
    import torch

    _check_kind(kind)
    _check_size(size)
    _check_count(n, size, _MAX_TRAINING_IMAGES, at_once=min(n, _CHUNK))
    _check_seed(seed)
    if architecture not in ARCHITECTURES:
        raise InputError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    epochs = EPOCHS[architecture] if epochs is None else epochs
    _check_epochs(epochs)
    preprocess = Preprocess(size=MODEL_SIZE)
    rng = np.random.default_rng([_TRAINING_STREAM, seed])
    balanced = "object" if kind == "object" else "mark"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        inputs, labels = [], []
        for start in range(0, n, _CHUNK):
            parts = _draw(rng, min(_CHUNK, n - start), size, balanced, independent=True)
            with torch.no_grad():
                inputs.append(preprocess.torch(torch.from_numpy(parts.render()).permute(0, 3, 1, 2).float()))
            labels.append(torch.from_numpy(parts.objects if kind == "object" else parts.marks).long())
        if architecture == "cnn":
            model = torch_cnn(torch.nn.MaxPool2d(MODEL_SIZE // 8))
            fit_torch(model, torch.cat(inputs), torch.cat(labels), seed, epochs)
        else:
            from xaihub.ground_truth.vit import VisionTransformer

            model = VisionTransformer(MODEL_SIZE, patch=8, width=48, depth=3, heads=4, classes=len(CLASS_NAMES))
            fit_torch(model, torch.cat(inputs), torch.cat(labels), seed, epochs, lr=2e-3, weight_decay=0.05)
    finally:
        torch.set_num_threads(threads)
    return TrainedModel(model, preprocess, CLASS_NAMES)


def _draw(rng: np.random.Generator, n: int, size: int, balanced: str, independent: bool) -> Scenes:
    """``n`` scenes with classes balanced over the ``balanced`` cue (``"object"`` or ``"mark"``); the
    other cue's class is drawn independently (``independent``: it carries no information) or is
    always another one."""
    classes = len(CLASS_NAMES)
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    if independent:
        others = rng.integers(classes, size=n)
    else:
        others = (labels + rng.integers(1, classes, size=n)) % classes
    objects, marks = (labels, others) if balanced == "object" else (others, labels)
    backgrounds = np.empty((n, size, size, 3), np.uint8)
    object_masks = np.empty((n, size, size), bool)
    mark_masks = np.empty((n, size, size), bool)
    for i in range(n):
        backgrounds[i] = random_crop(rng, size)
        mark_masks[i], box = _mark_mask(rng, size)
        object_masks[i] = _object_mask(rng, int(objects[i]), size, box)
    return Scenes(backgrounds, objects, marks, object_masks, mark_masks)


def _pixels(values: Any, name: str) -> np.ndarray:
    """``values`` as pixel values to cast to uint8, refused when a cast would change them silently: NaN or
    infinite values, values outside ``[0, 255]``, fractions, or what is not numbers."""
    array = np.asarray(values)
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind not in "uif":
        raise InputError(f"{name} must hold pixel values (uint8), got dtype {array.dtype}")
    if array.size and not np.all(np.isfinite(array)):
        raise InputError(f"{name} contain NaN or infinite values; pass uint8 pixels in [0, 255]")
    if array.size and (array.min() < 0 or array.max() > 255 or np.any(array != np.rint(array))):
        raise InputError(f"{name} must be whole pixel values in [0, 255] (uint8), got values in "
                         f"[{float(array.min()):g}, {float(array.max()):g}]" + (
                             " with fractions" if array.dtype.kind == "f" and np.any(array != np.rint(array)) else ""))
    return array


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}")


def _check_count(n: int, size: int, limit: int, at_once: int) -> None:
    """``n`` images of ``size×size``: at least one, at most ``limit``, and at most :data:`_MAX_PIXELS_IN_ALL`
    pixels in the ``at_once`` of them drawn together (held in memory with their masks)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n must be a positive int (a number of images), got {n!r}")
    if n > limit:
        raise InputError(f"n is {n}, over the limit of {limit} images")
    if at_once * size * size > _MAX_PIXELS_IN_ALL:
        raise InputError(f"{at_once} images of {size}×{size} pixels drawn at once take {at_once * size * size} "
                         f"pixels, over the {_MAX_PIXELS_IN_ALL} held in memory; ask for fewer or smaller images")


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not _MIN_SIZE <= size <= _MAX_SIZE:
        raise InputError(f"size must be an int of at least {_MIN_SIZE} pixels and at most {_MAX_SIZE}, got {size!r}")


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise InputError(f"seed must be an int in [0, 2**63), got {seed!r}")


def _check_epochs(epochs: int) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or not 1 <= epochs <= _MAX_EPOCHS:
        raise InputError(f"epochs must be an int of 1 to {_MAX_EPOCHS} (0 would return an untrained model), "
                         f"got {epochs!r}")


def _mark_mask(rng: np.random.Generator, size: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The watermark's square in a corner drawn from ``rng``, and its box ``(top, left, bottom, right)``."""
    side, margin = size // 8, size // 28
    corner = int(rng.integers(4))
    top = margin if corner < 2 else size - margin - side
    left = margin if corner % 2 == 0 else size - margin - side
    mask = np.zeros((size, size), bool)
    mask[top : top + side, left : left + side] = True
    return mask, (top, left, top + side, left + side)


def _object_mask(rng: np.random.Generator, kind: int, size: int, mark: tuple[int, int, int, int]) -> np.ndarray:
    """Object ``kind`` at a size and place drawn from ``rng``, clear of the watermark's box ``mark``."""
    radius = int(rng.integers(size // 10, size // 6 + 1))
    gap = size // 28
    top, left, bottom, right = mark
    while True:
        cy, cx = (int(v) for v in rng.integers(radius + 1, size - radius - 1, size=2))
        if cy + radius < top - gap or cy - radius > bottom + gap or cx + radius < left - gap or cx - radius > right + gap:
            return object_mask(kind, size, cy, cx, radius)


def _paint_mark(image: np.ndarray, mask: np.ndarray, kind: int) -> None:
    """Watermark ``kind`` on ``image`` over the square ``mask``: a black frame around its colour."""
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    frame = max(1, (bottom - top) // 6)
    image[top:bottom, left:right] = 0
    image[top + frame : bottom - frame, left + frame : right - frame] = MARK_COLOURS[kind]
