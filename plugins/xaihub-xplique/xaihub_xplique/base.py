"""What every Xplique method shares: availability, a quiet and seeded run, one-hot targets.

Xplique explains a batch of inputs with one one-hot target each: every target gets its own copy of
the image, and one Xplique call explains them all.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import warnings
from typing import Any, ClassVar, Iterator, Sequence

import numpy as np

from xaihub import Explainer, Explanation, MethodUnavailableError
from xaihub.contracts.explainer import installed_version
from xaihub.core.seeding import seeded_global_numpy
from xaihub.models import ModelAdapter

#: Distributions Xplique imports (xplique and tf-keras are installed with --no-deps: see the README).
_NEEDED = ("xplique", "tf-keras", "tensorflow-probability", "einops", "Deprecated")
_INSTALL = "pip install --no-deps xplique==2.0.2 tf-keras==2.21.0, see plugins/xaihub-xplique/README.md"


class XpliqueMethod(Explainer):
    """Base of every ``xplique.*`` method: :meth:`run` does the work inside :func:`xplique_session`."""

    libraries = ("xplique",)
    #: Xplique's class, ``"module:Class"``.
    xplique_class: ClassVar[str]
    #: Whether Xplique draws random numbers in TensorFlow for this method (see :func:`seeded_tensorflow`).
    draws_in_tensorflow: ClassVar[bool] = False

    def check_available(self) -> None:
        missing = [name for name in _NEEDED if installed_version(name) is None]
        if importlib.util.find_spec("tensorflow") is None:
            missing.append("tensorflow (e.g. tensorflow-cpu)")
        if missing:
            raise MethodUnavailableError(f"{self.name} needs {', '.join(missing)} ({_INSTALL})")

    def explain(self, model: ModelAdapter, image: np.ndarray, targets: Sequence[int], *, seed: int,
                **params: Any) -> list[Explanation]:
        with xplique_session(seed, eager=self.draws_in_tensorflow):
            return self.run(model, image, list(targets), seed, params)

    def run(self, model: ModelAdapter, image: np.ndarray, targets: list[int], seed: int,
            params: dict[str, Any]) -> list[Explanation]:
        """One explanation per target (Xplique explains one copy of the image per target);
        ``params`` are the method's parameters, checked by the runner."""
        raise NotImplementedError

    def xplique_type(self) -> type:
        """Xplique's explainer class (importing Xplique, which imports TensorFlow, on first use)."""
        module, _, name = self.xplique_class.partition(":")
        return getattr(importlib.import_module(module), name)


@contextlib.contextmanager
def xplique_session(seed: int, eager: bool = False) -> Iterator[None]:
    """Quiet, seeded, and leaving nothing behind in Xplique: see :func:`seeded_tensorflow` and
    :func:`released_models`."""
    with _quiet(), seeded_global_numpy(seed), seeded_tensorflow(seed, eager), released_models():
        yield


@contextlib.contextmanager
def seeded_tensorflow(seed: int, eager: bool = False) -> Iterator[None]:
    """TensorFlow's global seed set to ``seed`` inside the block, and the caller's put back after it.

    Xplique draws SmoothGrad's noise, RISE's masks and Kernel SHAP's coalitions with TF's global random
    ops inside ``tf.function``s that are traced once per process: the seed in force at the first trace
    is baked into the graph, and a later seed would only restart that same sequence. With ``eager``,
    ``tf.function``s run eagerly inside the block (``tf.config.run_functions_eagerly``, restored
    after), so the random ops take their seed from ``seed``: equal seeds give equal maps, other seeds
    other maps. TF cannot save the position of a seeded sequence: a caller who had set a global seed
    gets it set again (their sequence restarts); a caller who had none gets none.
    """
    import tensorflow as tf

    previous, was_eager = tf.compat.v1.get_seed(None)[0], tf.config.functions_run_eagerly()
    tf.random.set_seed(seed % 2**31)
    tf.config.run_functions_eagerly(eager or was_eager)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(was_eager)
        tf.random.set_seed(previous)


@contextlib.contextmanager
def released_models() -> Iterator[None]:
    """Xplique keeps every Keras model it is given in a class-level dict
    (``BlackBoxExplainer._cache_models``) for the rest of the process; forget the ones added here,
    so neither the user's model nor our views of it outlive the call."""
    from xplique.attributions.base import BlackBoxExplainer

    cache = BlackBoxExplainer._cache_models
    before = set(cache)
    try:
        yield
    finally:
        for key in set(cache) - before:
            del cache[key]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence Xplique's and TensorFlow's warnings (retracing notes, 'output is after softmax', ...)."""
    loggers = [logging.getLogger(name) for name in ("tensorflow", "absl")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def one_hot(targets: Sequence[int], num_classes: int) -> np.ndarray:
    """Xplique's targets: one one-hot row per image copy."""
    return np.eye(num_classes, dtype=np.float32)[list(targets)]


def copies(values: np.ndarray, n: int) -> np.ndarray:
    """``n`` copies of one input (``h×w×C``) as a float32 batch, one per target."""
    return np.repeat(np.asarray(values, dtype=np.float32)[None], n, axis=0)
