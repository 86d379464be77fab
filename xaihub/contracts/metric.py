"""The contract every metric follows, and how a metric that explains again (:class:`Rerun`) runs a method."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol, Sequence

from xaihub.contracts.explainer import Explainer, Requirement, check_libraries, library_versions
from xaihub.core.errors import InputError, ValidationError
from xaihub.core.validation import validate

if TYPE_CHECKING:
    import numpy as np

    from xaihub.core.explanation import Explanation
    from xaihub.models.base import ModelAdapter

WEIGHTS = "weights"
"""``Requirement(WEIGHTS, frameworks)``: the metric needs a framework model whose weights it can copy
and re-initialise (a plain predict function has none)."""

_UNRECORDED = "<array "  # how the runner records array-valued parameters (by shape and dtype only)


class Metric(ABC):
    """One way of scoring an explanation. Plugins subclass this and ``register`` an instance.

    Subclasses set the class attributes and implement :meth:`compute`. The runner validates
    the user's parameters against ``defaults`` and ``required`` before any method runs, checks
    ``requires`` against the model, and counts the metric's forward passes apart from the
    method's.
    """

    #: Namespaced metric name, e.g. ``"quantus.road"``. Only the core's built-ins
    #: (``"srg"``, ``"deletion"``, ``"insertion"``, ``"degradation"``) have bare names.
    name: ClassVar[str]
    #: Every value :meth:`compute` produces, with its direction: ``True`` when lower is
    #: better, ``False`` when higher is better, ``None`` when neither (a flag, a count).
    #: Value names start with the metric's name (``"degradation"``, ``"degradation_top1"``,
    #: ``"sanity.randomization.ssim"``), so they never collide between metrics.
    lower_is_better: ClassVar[Mapping[str, bool | None]]
    #: Default parameters; users override them with ``metrics={name: {...}}``.
    defaults: ClassVar[dict[str, Any]] = {}
    #: Parameters with no default that the user must give (e.g. an object ``mask``).
    required: ClassVar[tuple[str, ...]] = ()
    #: What the metric needs from the model: predictions (any model, the default) or
    #: ``Requirement(WEIGHTS, ("torch", "keras"))``.
    requires: ClassVar[Requirement] = Requirement()
    #: Distributions the metric uses (checked by :meth:`check_available`).
    libraries: ClassVar[tuple[str, ...]] = ()
    #: One-line description shown by ``xaihub list``.
    summary: ClassVar[str] = ""
    #: ``True`` for a metric that runs the explanation's method again (on a perturbed image, for another
    #: class, on a randomised model): :meth:`compute` then also receives ``rerun``, a :class:`Rerun`.
    reruns_method: ClassVar[bool] = False

    @abstractmethod
    def compute(self, model: "ModelAdapter", explanation: "Explanation", *, seed: int,
                **params: Any) -> dict[str, float]:
        """Score ``explanation``.

        :param model: the adapter the method ran through; call ``model.predict(batch)`` for
            probabilities of pixel-scale images (batched, preprocessed, counted as this metric's).
        :param explanation: carries ``image``, ``attribution``, ``target``, ``method``,
            ``params`` and ``seed`` of the method's run.
        :param seed: seed for every random choice the metric makes.
        :param params: ``defaults`` updated with the user's parameters, and ``rerun`` (a :class:`Rerun`)
            when :attr:`reruns_method` is true.
        :return: ``{value name: float}`` for names declared in :attr:`lower_is_better`.
        """

    def expected_forward_passes(self, params: Mapping[str, Any]) -> int | None:
        """The model evaluations :meth:`compute` takes on one explanation with ``params`` (``defaults`` updated
        with the user's), not counting reruns of the method (:meth:`expected_reruns`), when the metric can tell
        before it runs; ``None`` (the default) when it cannot. :func:`xaihub.plan` adds them up."""
        return None

    def shared_images(self, params: Mapping[str, Any]) -> frozenset[str]:
        """Names of the whole images whose scores every map of an image shares (a curve's endpoints: the image,
        its black or blurred copy), scored once per image and ``explain`` call whichever metric asks first, and
        left out of :meth:`expected_forward_passes`. Metrics naming the same image share it."""
        return frozenset()

    def expected_reruns(self, params: Mapping[str, Any]) -> int | None:
        """For a metric that :attr:`reruns_method`: how many times it runs the method per image, each run for
        every target of the call (the runner batches a rerun on the explanation's own image over the targets);
        ``0`` for a metric that does not rerun, ``None`` (the default for one that does) when it cannot tell.
        Each run costs the method's :meth:`~xaihub.Explainer.expected_forward_passes`."""
        return None if self.reruns_method else 0

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Raise :class:`~xaihub.InputError` for a parameter value this metric cannot use.

        Called with ``defaults`` updated by the user's parameters, before any method runs.
        The default accepts everything.
        """

    def check_available(self) -> None:
        """Raise :class:`~xaihub.core.errors.MethodUnavailableError` if a library in ``libraries`` is missing."""
        check_libraries(f"metric {self.name}", self.libraries)

    def versions(self) -> dict[str, str]:
        """Installed versions of the libraries this metric uses."""
        return library_versions(self.libraries)

    def describe_needs(self) -> str:
        """What the metric needs, for ``xaihub list``."""
        needs = self.requires.describe()
        return f"{needs}; {', '.join(self.required)}" if self.required else needs


class Rerun(Protocol):
    """What the runner hands a metric that explains again (:attr:`Metric.reruns_method`): the registered
    method named ``explanation.method``, looked up by the runner and run by :func:`explain_again`."""

    def __call__(self, model: "ModelAdapter", explanation: "Explanation", *, image: "np.ndarray | None" = None,
                 target: int | None = None, seed: int | None = None) -> "np.ndarray":
        """The attribution map ``explanation``'s method gives when run again through ``model`` (see
        :func:`explain_again`)."""


def explain_again(explainer: Explainer, model: "ModelAdapter", explanation: "Explanation", *,
                  image: "np.ndarray | None" = None, target: int | None = None,
                  seed: int | None = None) -> "np.ndarray":
    """The attribution map ``explainer`` (``explanation``'s method) gives when run again, through ``model``.

    For metrics that need new explanations (of a perturbed image, another class, a randomised
    model): the method runs with the parameters recorded in ``explanation.params``; ``image``,
    ``target`` and ``seed`` default to the explanation's own. The forward passes are counted by ``model``.

    :raises InputError: when a parameter was an array (the runner records arrays by shape
        only, so the run cannot be repeated).
    """
    arrays = sorted(k for k, v in explanation.params.items() if isinstance(v, str) and v.startswith(_UNRECORDED))
    if arrays:
        raise InputError(f"cannot run {explanation.method} again: its parameter(s) {arrays} were arrays, "
                         "which an explanation records only by shape")
    image = explanation.image if image is None else image
    target = explanation.target if target is None else int(target)
    return explain_again_for(explainer, model, explanation, [target], image=image, seed=seed)[target]


def explain_again_for(explainer: Explainer, model: "ModelAdapter", explanation: "Explanation",
                      targets: "Sequence[int]", *, image: "np.ndarray | None" = None,
                      seed: int | None = None) -> "dict[int, np.ndarray]":
    """Like :func:`explain_again`, for several ``targets`` in one run of the method (as the runner ran it):
    ``{target: attribution map}``."""
    arrays = sorted(k for k, v in explanation.params.items() if isinstance(v, str) and v.startswith(_UNRECORDED))
    if arrays:
        raise InputError(f"cannot run {explanation.method} again: its parameter(s) {arrays} were arrays, "
                         "which an explanation records only by shape")
    image = explanation.image if image is None else image
    targets = [int(t) for t in targets]
    seed = (explanation.seed or 0) if seed is None else seed
    results = explainer.explain(model, image.copy(), list(targets), seed=seed, **explanation.params)
    maps = {}
    for result in results if isinstance(results, (list, tuple)) else [results]:
        if getattr(result, "target", None) in targets:
            maps[result.target] = validate(result, image, targets, explanation.method).attribution
    missing = [t for t in targets if t not in maps]
    if missing:
        raise ValidationError(f"{explanation.method} returned no explanation for target(s) {missing} when run again")
    return maps
