"""What the checks of :mod:`xaihub.testing` run on: an explainer, a model, an image and parameters,
and the one observed run of the method that most checks read.

The run happens the way :func:`xaihub.explain` runs a method (adapter, run cache, the image scored
first, ``check_available``, ``check_model``, ``explain`` inside ``model.session()``), with the model
watched from outside: what it looked like before and after (:mod:`xaihub.testing.model_state`) and
how many images it really evaluated (:mod:`xaihub.testing.evaluations`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xaihub.contracts.explainer import Explainer
from xaihub.core.cache import RunCache
from xaihub.core.errors import MethodUnavailableError
from xaihub.core.params import check as check_constraints
from xaihub.models import ModelAdapter, ModelOptions
from xaihub.registry.plugins import adapt
from xaihub.testing.evaluations import Evaluations
from xaihub.testing.model_state import ModelSnapshot
from xaihub.testing.zoo import Architecture


class Unavailable(Exception):
    """The method refused the model upfront (``check_model`` or ``check_available``): checks that need
    its maps do not apply. The message is the method's reason."""


@dataclass
class Run:
    """One observed call of the method."""

    targets: list[int]
    unavailable: str | None = None
    """The method's reason when it refused the model or image (``MethodUnavailableError`` from ``check_model``,
    or from ``explain``, say on a cheap look at the image's superpixels)."""
    refusal_cost: tuple[int, int | None] = (0, 0)
    """Forward passes counted by the adapter, and images really evaluated, before the refusal (in ``check_model``
    or ``explain``)."""
    results: Any = None
    """What ``explain`` returned."""
    error: BaseException | None = None
    """What ``explain`` (or ``check_model``) raised, other than a refusal (``MethodUnavailableError``)."""
    stopped_in: str = "explain"
    """Where the refusal or :attr:`error` was raised: ``"check_model"`` or ``"explain"``."""
    reported: int = 0
    """Forward passes the adapter counted during ``explain``."""
    evaluated: int | None = None
    """Images the model really evaluated during ``explain`` (``None``: not measurable for this model)."""
    changes: list[str] = field(default_factory=list)
    """What differed in the model afterwards."""

    def explanations(self, detailed: bool = False) -> Any:
        """What ``explain`` returned; raises :class:`Unavailable`, or an ``AssertionError`` naming what it
        raised (the whole message and what to do instead when ``detailed``, else its first line)."""
        if self.unavailable is not None:
            raise Unavailable(self.unavailable)
        if self.error is None:
            return self.results
        message = str(self.error).strip() or repr(self.error)
        if not detailed:
            raise AssertionError(f"the method raised {type(self.error).__name__}: {message.splitlines()[0]}")
        raise AssertionError(
            f"the method raised {type(self.error).__name__}: {message}. A method must not fail on a model it "
            "accepted: refuse the model upfront in check_model (MethodUnavailableError) with the reason"
        ) from self.error


class Subject:
    """An explainer with the model (an object, or a zoo :class:`Architecture` built when first needed),
    image, parameters, targets and seed its checks use. Its :meth:`run` is observed once and shared."""

    def __init__(self, explainer: Explainer, model: Any, image: np.ndarray, *, params: dict[str, Any] | None = None,
                 targets: list[int] | None = None, preprocess: Any = None, seed: int = 0,
                 model_name: str | None = None) -> None:
        self.explainer = explainer
        self.image = image
        self.params = dict(params or {})
        check_constraints(explainer.name, explainer.constraints, self.params, known=explainer.defaults)
        self.asked_targets = targets
        self.seed = seed
        self._source = model
        self.preprocess = model.preprocess if isinstance(model, Architecture) and preprocess is None else preprocess
        self.model_name = model_name or model_name_of(model)
        self._model: Any = None
        self._run: Run | None = None

    @property
    def method(self) -> str:
        return self.explainer.name

    def model(self) -> Any:
        """The model (built once, for an architecture)."""
        if self._model is None:
            self._model = self._source.build() if isinstance(self._source, Architecture) else self._source
        return self._model

    def adapter(self, model: Any | None = None) -> ModelAdapter:
        """A fresh adapter of ``model`` (default: the subject's), set up as the runner sets one up."""
        adapter = adapt(self.model() if model is None else model, ModelOptions(preprocess=self.preprocess))
        adapter.cache = RunCache(lambda: adapter.forward_passes)
        return adapter

    def used_params(self) -> dict[str, Any]:
        return {**self.explainer.defaults, **self.params}

    def targets_for(self, probabilities: np.ndarray) -> list[int]:
        """The asked targets, or: the second most probable class, the top class, the least probable."""
        if self.asked_targets is not None:
            return list(self.asked_targets)
        ranked = [int(k) for k in np.argsort(-probabilities, kind="stable")]
        return list(dict.fromkeys([ranked[min(1, len(ranked) - 1)], ranked[0], ranked[-1]]))

    def run(self) -> Run:
        """The observed call (made once; later calls return it)."""
        if self._run is None:
            self._run = self._observe()
        return self._run

    def explain(self, seed: int) -> Any:
        """Another call with ``seed`` on the same model (unobserved): the method's explanations."""
        adapter = self.adapter()
        probabilities = adapter.predict(self.image[None])[0]
        with adapter.session():
            return self.explainer.explain(adapter, self.image.copy(), self.targets_for(probabilities), seed=seed,
                                          **self.used_params())

    def _observe(self) -> Run:
        model = self.model()
        before = ModelSnapshot.capture(model)
        evaluations = Evaluations(model, self.image, self.preprocess)
        adapter = self.adapter(evaluations.model())
        evaluations.attach()
        try:
            run = Run(targets=self.targets_for(adapter.predict(self.image[None])[0]))
            adapter.reset_count()
            evaluations.reset()
            try:
                self.explainer.check_available()
                self.explainer.check_model(adapter, self.image)
            except MethodUnavailableError as exc:
                run.unavailable, run.stopped_in = str(exc) or type(exc).__name__, "check_model"
                run.refusal_cost = (adapter.forward_passes, evaluations.images)
                return run
            except Exception as exc:
                run.error, run.stopped_in = exc, "check_model"
                return run
            adapter.reset_count()
            evaluations.reset()
            try:
                with adapter.session():
                    run.results = self.explainer.explain(adapter, self.image.copy(), list(run.targets), seed=self.seed,
                                                         **self.used_params())
            except MethodUnavailableError as exc:
                run.unavailable = str(exc) or type(exc).__name__
                run.refusal_cost = (adapter.forward_passes, evaluations.images)
            except Exception as exc:
                run.error = exc
            run.reported = adapter.forward_passes
            run.evaluated = evaluations.images
        finally:
            evaluations.detach()
        run.changes = before.changes(model)
        return run


def model_name_of(model: Any) -> str:
    """A model's name in check ids: the architecture's, a function's, or the class name."""
    if isinstance(model, Architecture):
        return model.name
    return getattr(model, "__name__", None) or type(model).__name__
