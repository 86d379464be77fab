"""A zoo of small architectures every method is held to: torch and Keras models with random weights,
and a plain predict function, each built in milliseconds, with the image they are explained on.

>>> from xaihub.testing import zoo
>>> [a.name for a in zoo.architectures("keras")]
['keras.sequential', 'keras.residual', 'keras.depthwise', 'keras.subclassed', 'keras.fixed_input', 'keras.vit']
>>> model = zoo.get("torch.vit").build()          # a fresh nn.Module, train mode (see below)

Building a model imports its framework (nothing is imported by this module). Models come the way a
user hands them over, which the checks then verify is left as it was: torch models in train mode
with their ``BatchNorm`` layers in eval mode (a fine-tuning set-up), their first parameter frozen
(``requires_grad=False``) and holding a ``.grad``, and a forward hook of the user's; Keras models with
their first weighted layer frozen. Keras zoo models count the images they evaluate
(:class:`~xaihub.models.keras_counter.EvaluationCounter`); torch models and predict functions are counted
from outside.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from xaihub.core.errors import InputError
from xaihub.core.preprocess import Preprocess

IMAGE_SIZE = (40, 48)
"""Height and width of :func:`image`: small, and not square, so that a map with its sides swapped shows."""
CLASSES = 5


@dataclass(frozen=True)
class Architecture:
    """One kind of model: ``build()`` returns a fresh model (random, seeded weights) to explain with
    :attr:`preprocess`."""

    name: str
    framework: str
    """``"torch"``, ``"keras"`` or ``"callable"``."""
    label: str
    """A short name for tables (the support matrix's column)."""
    summary: str
    factory: Callable[[], Any]
    preprocess: Preprocess | None = None
    needs: tuple[str, ...] = ()
    """Modules the model needs besides its framework (``("transformers",)``); see :meth:`available`."""

    def available(self) -> bool:
        """Whether the modules in :attr:`needs` are installed (the framework is checked apart)."""
        return all(importlib.util.find_spec(module) is not None for module in self.needs)

    def build(self) -> Any:
        """A new model, arranged as a user would hand it over (see the module docstring)."""
        return self.factory()

    def __repr__(self) -> str:
        return f"Architecture({self.name!r})"


def image(height: int = IMAGE_SIZE[0], width: int = IMAGE_SIZE[1], seed: int = 0) -> np.ndarray:
    """An ``height×width×3`` uint8 image with something to find: a smooth background, a bright disc and
    a dark bar, and a little noise."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    picture = np.stack([90 + 80 * rows, 110 + 60 * columns, 140 - 50 * rows * columns], axis=-1)
    disc = (rows - 0.35) ** 2 + (columns - 0.65) ** 2 < 0.04
    picture[disc] = (230, 200, 40)
    picture[int(0.65 * height):int(0.8 * height), int(0.15 * width):int(0.55 * width)] = (30, 40, 90)
    return np.clip(picture + rng.normal(0, 6, picture.shape), 0, 255).astype(np.uint8)


def noise(size: int, seed: int = 0) -> np.ndarray:
    """A ``size×size×3`` uint8 image of uniform noise: nothing to find, no regions to segment."""
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def bands(count: int, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """A ``size×size×3`` uint8 image of ``count`` flat vertical bands of different colours, and the bands as
    superpixel ids ``size×size`` (``count=1``: a flat image, one superpixel)."""
    picture = np.zeros((size, size, 3), np.uint8)
    segments = np.zeros((size, size), np.int32)
    for k, columns in enumerate(np.array_split(np.arange(size), count)):
        shade = k / max(count - 1, 1)
        picture[:, columns] = (int(40 + 180 * shade), int(200 - 150 * shade), 120)
        segments[:, columns] = k
    return picture, segments


@dataclass(frozen=True)
class ImageCase:
    """An image methods are held to besides :func:`image`: a size or content that breaks samplers,
    regressions or kernels. With ``superpixels``, superpixel methods are given that many ``segments``
    (:func:`bands`); the others explain the same image their own way."""

    name: str
    summary: str
    factory: Callable[[], np.ndarray]
    superpixels: int | None = None

    def image(self) -> np.ndarray:
        """The image, ``H×W×3`` uint8."""
        return self.factory()

    def params_for(self, defaults: dict[str, Any]) -> dict[str, Any]:
        """The parameters a method with these ``defaults`` takes on this image: the given superpixels, if any."""
        if self.superpixels is None or "segments" not in defaults:
            return {}
        return {"segments": bands(self.superpixels)[1]}

    def __repr__(self) -> str:
        return f"ImageCase({self.name!r})"


IMAGE_CASES: tuple[ImageCase, ...] = (
    *(ImageCase(f"noise{size}", f"{size}×{size} uniform noise", lambda size=size: noise(size))
      for size in (8, 16, 32, 64)),
    ImageCase("photo224", "224×224, photo size", lambda: image(224, 224)),
    ImageCase("flat48", "48×48 of one colour, segmented by the method", lambda: bands(1)[0]),
    *(ImageCase(f"superpixels{count}", f"48×48 of {count} flat band(s), given as {count} superpixel(s)",
                lambda count=count: bands(count)[0], superpixels=count) for count in (1, 2, 3)),
)
"""Images every method explains or refuses upfront (:func:`xaihub.testing.image_checks`): tiny to photo
size, noise, flat, and one, two and three superpixels."""


def plain_callable() -> Callable[[np.ndarray], np.ndarray]:
    """A predict function ``N×H×W×3`` (in [0, 1]) → ``N×5`` logits: fixed random projections of the
    image's 4×4 average-pooled pixels."""
    projection = np.random.default_rng(0).normal(0, 1, (16 * 3, CLASSES)).astype(np.float32)

    def predict(batch: np.ndarray) -> np.ndarray:
        n, height, width, _ = batch.shape
        rows = np.array_split(np.arange(height), 4)
        columns = np.array_split(np.arange(width), 4)
        pooled = np.stack([batch[:, r][:, :, c].mean(axis=(1, 2)) for r in rows for c in columns], axis=1)
        return 4 * (pooled.reshape(n, -1) - 0.5) @ projection

    return predict


def _torch(name: str) -> Callable[[], Any]:
    def build() -> Any:
        zoo_torch = importlib.import_module("xaihub.testing.zoo_torch")
        return _arranged_torch(zoo_torch.seeded(getattr(zoo_torch, name)))

    return build


def _transformers(name: str) -> Callable[[], Any]:
    def build() -> Any:
        return _arranged_torch(getattr(importlib.import_module("xaihub.testing.zoo_transformers"), name)())

    return build


def _keras(name: str) -> Callable[[], Any]:
    def build() -> Any:
        return _arranged_keras(getattr(importlib.import_module("xaihub.testing.zoo_keras"), name)())

    return build


def _arranged_torch(model: Any) -> Any:
    import torch

    model.train()
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            module.eval()
    first = next(model.parameters())
    first.requires_grad_(False)
    first.grad = torch.zeros_like(first)
    model.register_forward_hook(lambda module, args, output: None)
    return model


def _arranged_keras(model: Any) -> Any:
    from xaihub.models.keras_counter import EvaluationCounter

    next(layer for layer in model.layers if layer.weights and not isinstance(layer, EvaluationCounter)).trainable = False
    return model


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture("callable", "callable", "callable", "a plain predict function (numpy in, logits out)", plain_callable),
    Architecture("torch.cnn", "torch", "cnn", "convolutions, ReLU, MaxPool2d, global average pooling", _torch("cnn")),
    Architecture("torch.adaptive_max_pool", "torch", "amax", "an AdaptiveMaxPool2d head", _torch("adaptive_max_pool")),
    Architecture("torch.resnet", "torch", "resnet", "BatchNorm and residual additions (ResNet-like)", _torch("resnet")),
    Architecture("torch.mobilenet", "torch", "mobile", "depthwise-separable blocks, ReLU6, Hardswish (MobileNet-like)",
                 _torch("mobilenet")),
    Architecture("torch.silu_gelu", "torch", "silu", "SiLU and GELU activations", _torch("silu_gelu")),
    Architecture("torch.vit", "torch", "vit", "a vision transformer: patch embedding, class token, MultiheadAttention, "
                 "LayerNorm (32×32 inputs)", _torch("vit"), Preprocess(size=32)),
    Architecture("torch.tuple_output", "torch", "tuple", "returns (logits, features)", _torch("tuple_output")),
    Architecture("torch.dict_output", "torch", "dict", "returns {'logits': ..., 'features': ...}", _torch("dict_output")),
    Architecture("torch.channels_last", "torch", "chlast", "weights in torch.channels_last memory format",
                 _torch("channels_last")),
    Architecture("torch.softmax_sequential", "torch", "softmax", "an nn.Sequential ending in nn.Softmax",
                 _torch("softmax_sequential")),
    Architecture("torch.depthwise_max", "torch", "dw-max", "Conv2d, ReLU6, depthwise Conv2d, Hardswish, "
                 "AdaptiveMaxPool2d, Linear (any input size)", _torch("depthwise_max")),
    Architecture("torch.patch_attention", "torch", "attn", "8×8 patch Conv2d, MultiheadAttention with a LayerNorm "
                 "residual, GELU, mean over patches (any input of 8 px or more)", _torch("patch_attention")),
    Architecture("hf.vit", "torch", "hf-vit", "Hugging Face ViTForImageClassification: class token, 2 blocks "
                 "(32×32 inputs)", _transformers("vit"), Preprocess(size=32), needs=("transformers",)),
    Architecture("hf.deit", "torch", "hf-deit", "Hugging Face DeiTForImageClassificationWithTeacher: class and "
                 "distillation tokens (32×32 inputs)", _transformers("deit"), Preprocess(size=32), needs=("transformers",)),
    Architecture("hf.swin", "torch", "hf-swin", "Hugging Face SwinForImageClassification: windows, patch merging, "
                 "no class token (any input size)", _transformers("swin"), needs=("transformers",)),
    Architecture("hf.convnext", "torch", "hf-cnx", "Hugging Face ConvNextForImageClassification (any input size)",
                 _transformers("convnext"), needs=("transformers",)),
    Architecture("timm.vit", "torch", "timm-vit", "timm VisionTransformer: class token, 2 blocks (32×32 inputs)",
                 _transformers("timm_vit"), Preprocess(size=32), needs=("timm",)),
    Architecture("timm.swin", "torch", "timm-swin", "timm SwinTransformer: channels-last blocks (32×32 inputs)",
                 _transformers("timm_swin"), Preprocess(size=32), needs=("timm",)),
    Architecture("keras.sequential", "keras", "k-seq", "a Sequential CNN, softmax in its last Dense", _keras("sequential")),
    Architecture("keras.residual", "keras", "k-res", "functional, BatchNormalization and residual Add layers",
                 _keras("residual")),
    Architecture("keras.depthwise", "keras", "k-dw", "DepthwiseConv2D and SeparableConv2D, a Softmax layer last",
                 _keras("depthwise")),
    Architecture("keras.subclassed", "keras", "k-sub", "a subclassed keras.Model", _keras("subclassed")),
    Architecture("keras.fixed_input", "keras", "k-fixed", "built for 24×24 inputs, smaller than the image",
                 _keras("fixed_input")),
    Architecture("keras.vit", "keras", "k-vit", "a vision transformer of plain Keras layers: Conv2D patches, "
                 "LayerNormalization, MultiHeadAttention, mean over tokens (32×32 inputs)", _keras("vit"),
                 Preprocess(size=32)),
)
DEFAULTS = {"callable": "callable", "torch": "torch.cnn", "keras": "keras.sequential"}
"""The architecture each framework's checks run on when no model is given."""


def architectures(framework: str | None = None) -> list[Architecture]:
    """Every architecture, or those of one framework (``"torch"``, ``"keras"``, ``"callable"``)."""
    return [a for a in ARCHITECTURES if framework is None or a.framework == framework]


def get(name: str) -> Architecture:
    """The architecture called ``name``."""
    for architecture in ARCHITECTURES:
        if architecture.name == name:
            return architecture
    raise InputError(f"no zoo architecture {name!r}; there are {[a.name for a in ARCHITECTURES]}")


def default(framework: str) -> Architecture:
    """The architecture checks use for ``framework`` when no model is given."""
    return get(DEFAULTS[framework])
