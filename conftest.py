"""Fixtures shared by the core tests (tests/) and every plugin's tests (plugins/*/tests): small models
trained in seconds on the demo's shapes problem, trained once per session."""

from __future__ import annotations

import numpy as np
import pytest

from xaihub import demo


@pytest.fixture(scope="session")
def torch_model():
    pytest.importorskip("torch")
    return demo.train_torch_model(seed=0)


@pytest.fixture(scope="session")
def keras_model():
    pytest.importorskip("keras")
    return demo.train_keras_model(seed=0)


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
