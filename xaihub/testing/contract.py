"""Holding explainers to the contract: :func:`check_explainer` runs every check, :func:`parametrize_with_checks`
makes one pytest test of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from xaihub.contracts.explainer import BLACK_BOX, Explainer
from xaihub.testing import checks as contract_checks
from xaihub.testing import zoo
from xaihub.testing.subject import Subject, Unavailable, model_name_of

Check = Callable[[Subject], None]


@dataclass(frozen=True)
class Outcome:
    """What one check said about one explainer (on one model)."""

    check: str
    model: str | None
    status: str
    """``"passed"``, ``"failed"`` or ``"unavailable"`` (the method refused the model: the check does not apply)."""
    message: str = ""

    def __str__(self) -> str:
        where = f" on {self.model}" if self.model else ""
        return f"{self.check}{where}: {self.status}{f' — {self.message}' if self.message else ''}"


@dataclass
class ContractReport:
    """Every check's outcome for one explainer."""

    method: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def unavailable(self, model: str | None = None) -> str | None:
        """The method's reason for refusing ``model`` (any model when ``None``), if it refused it."""
        return next((o.message for o in self.outcomes if o.status == "unavailable"
                     and (model is None or o.model == model)), None)

    def __str__(self) -> str:
        failed = self.failures
        head = (f"{self.method} breaks the explainer contract ({len(failed)} of {len(self.outcomes)} checks failed):"
                if failed else f"{self.method} keeps the explainer contract ({len(self.outcomes)} checks)")
        return "\n".join([head] + [f"  {o}" for o in (failed or self.outcomes)])


@dataclass(frozen=True)
class ContractCheck:
    """One check bound to its subject; calling it runs it (a pytest test body: ``check()``)."""

    id: str
    function: Check
    subject: Subject
    per_model: bool

    def __call__(self) -> None:
        try:
            self.function(self.subject)
        except Unavailable as reason:
            import pytest

            pytest.skip(f"{self.subject.method} is unavailable for {self.subject.model_name}: {reason}")

    def outcome(self) -> Outcome:
        """Run the check and say how it went."""
        model = self.subject.model_name if self.per_model else None
        try:
            self.function(self.subject)
        except Unavailable as reason:
            return Outcome(self.function.__name__, model, "unavailable", str(reason))
        except Exception as exc:
            message = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
            return Outcome(self.function.__name__, model, "failed", message)
        return Outcome(self.function.__name__, model, "passed")


def explainer_checks(explainer: Explainer | str, models: Any = None, *, image: np.ndarray | None = None,
                     params: Mapping[str, Any] | None = None, targets: Sequence[int] | None = None,
                     preprocess: Any = None, seed: int = 0,
                     checks: Iterable[Check] | None = None) -> list[ContractCheck]:
    """Every check of ``explainer`` as a :class:`ContractCheck`: the checks of its declarations once,
    the checks of a run once per model (sharing that run).

    :param explainer: an :class:`~xaihub.Explainer` (registered or not) or a registered method's name.
    :param models: a model, a list of models, a ``{name: model}`` mapping, or zoo
        :class:`~xaihub.testing.zoo.Architecture` objects (built when first needed); default: the zoo's
        plain function for a black-box method, else the default zoo model of each framework it supports.
    :param image: default :func:`xaihub.testing.zoo.image` (40×48).
    :param params: parameters for the method (e.g. small sample counts, to keep the checks fast).
    :param targets: default: the second most probable class, the top class and the least probable.
    :param checks: the checks to run (functions of :mod:`xaihub.testing.checks`); default: all.
    """
    explainer = _resolve(explainer)
    image = zoo.image() if image is None else image
    chosen = list(checks) if checks is not None else list(contract_checks.PER_EXPLAINER + contract_checks.PER_MODEL)
    named = _named_models(explainer, models)
    subjects = [Subject(explainer, model, image, params=params, targets=targets, preprocess=preprocess, seed=seed,
                        model_name=name) for name, model in named]
    declaration = subjects[0] if subjects else Subject(explainer, zoo.default("callable"), image, params=params,
                                                       targets=targets, seed=seed)
    found = [ContractCheck(f"{explainer.name}-{check.__name__}", check, declaration, False)
             for check in chosen if check in contract_checks.PER_EXPLAINER]
    found += [ContractCheck(f"{explainer.name}-{subject.model_name}-{check.__name__}", check, subject, True)
              for subject in subjects for check in chosen if check not in contract_checks.PER_EXPLAINER]
    return found


def image_checks(explainer: Explainer | str, models: Any = None, *, cases: Iterable[zoo.ImageCase] | None = None,
                 params: Mapping[str, Any] | None = None, targets: Sequence[int] | None = None, seed: int = 0,
                 checks: Iterable[Check] | None = None) -> list[ContractCheck]:
    """The checks of a run of ``explainer`` on each image case and model, as :class:`ContractCheck` objects with
    ids such as ``native.lime-torch.cnn@noise8-check_maps``.

    :param cases: default :data:`xaihub.testing.zoo.IMAGE_CASES` (8 px noise to photo size, flat, one to three
        superpixels); a case's own parameters (its superpixels) are added to ``params``; a case of given
        superpixels is left out for a method that takes no ``segments`` (it would be a flat image again).
    :param checks: default :data:`~xaihub.testing.checks.ON_IMAGES` (a result or an upfront refusal, valid maps).

    The other arguments are those of :func:`explainer_checks`.
    """
    explainer = _resolve(explainer)
    chosen = list(checks) if checks is not None else list(contract_checks.ON_IMAGES)
    found = []
    for case in zoo.IMAGE_CASES if cases is None else cases:
        if case.superpixels is not None and "segments" not in explainer.defaults:
            continue
        used = {**(params or {}), **case.params_for(explainer.defaults)}
        for name, model in _named_models(explainer, models):
            subject = Subject(explainer, model, case.image(), params=used, targets=targets, seed=seed,
                              model_name=f"{name or model_name_of(model)}@{case.name}")
            found += [ContractCheck(f"{explainer.name}-{subject.model_name}-{check.__name__}", check, subject, True)
                      for check in chosen]
    return found


def check_explainer_on_images(explainer: Explainer | str, models: Any = None, *,
                              cases: Iterable[zoo.ImageCase] | None = None, params: Mapping[str, Any] | None = None,
                              targets: Sequence[int] | None = None, seed: int = 0,
                              checks: Iterable[Check] | None = None, raise_on_failure: bool = True) -> ContractReport:
    """Hold ``explainer`` to the contract on every image case (:func:`image_checks`): on each, on each model,
    it explains with valid maps or refuses upfront with its reason, never failing after it started; raise
    ``AssertionError`` listing what breaks (``raise_on_failure=False`` returns the report)."""
    report = ContractReport(_resolve(explainer).name)
    for check in image_checks(explainer, models, cases=cases, params=params, targets=targets, seed=seed,
                              checks=checks):
        report.outcomes.append(check.outcome())
    if raise_on_failure and report.failures:
        raise AssertionError(str(report))
    return report


def check_explainer(explainer: Explainer | str, model: Any = None, image: np.ndarray | None = None, *,
                    params: Mapping[str, Any] | None = None, targets: Sequence[int] | None = None,
                    preprocess: Any = None, seed: int = 0, checks: Iterable[Check] | None = None,
                    raise_on_failure: bool = True) -> ContractReport:
    """Hold ``explainer`` to the explainer contract; raise ``AssertionError`` listing every check that fails.

    The checks (:mod:`xaihub.testing.checks`): its declarations (name, ``requires``, ``defaults`` that
    match ``explain``'s signature, a satisfied constraint for every parameter); bad parameter values,
    generated from the constraints, refused upfront with an ``InputError`` naming them; ``requires``
    honoured (a model it cannot serve refused upfront, for free; a black-box method explains a plain
    function); and on each model: ``H×W`` finite float maps (``channels``, ``segments`` consistent), exactly
    the asked targets, the model left exactly as it was, forward passes counted no fewer than the images
    the model really evaluated, a refusal that costs at most one probe of the image, equal maps for equal seeds.

    ``model`` and the other arguments are those of :func:`explainer_checks` (``model`` may be a list).
    A method that refuses a model upfront passes the checks of maps on it: they do not apply
    (:meth:`ContractReport.unavailable` gives its reason). ``raise_on_failure=False`` returns the report.
    """
    report = ContractReport(_resolve(explainer).name)
    for check in explainer_checks(explainer, model, image=image, params=params, targets=targets,
                                  preprocess=preprocess, seed=seed, checks=checks):
        report.outcomes.append(check.outcome())
    if raise_on_failure and report.failures:
        raise AssertionError(str(report))
    return report


def parametrize_with_checks(explainers: Iterable[Explainer | str], models: Any = None, *,
                            params: Mapping[str, Mapping[str, Any]] | None = None,
                            checks: Iterable[Check] | None = None) -> Any:
    """A ``pytest.mark.parametrize`` decorator giving one test per explainer, model and check, with ids such
    as ``mine.brightness-torch.cnn-check_maps``; the test body calls the check::

        @parametrize_with_checks([Brightness()])
        def test_contract(check):
            check()

    :param params: per method name, the parameters to run it with (``{"mine.slow": {"steps": 4}}``).

    A check that does not apply (the method refused the model upfront) is skipped with the reason.
    """
    import pytest

    params = params or {}
    checks = list(checks) if checks is not None else None
    found = [check for explainer in map(_resolve, explainers)
             for check in explainer_checks(explainer, models, params=params.get(explainer.name), checks=checks)]
    return pytest.mark.parametrize("check", found, ids=[check.id for check in found])


def _resolve(explainer: Explainer | str) -> Explainer:
    if isinstance(explainer, str):
        from xaihub.registry.plugins import get_method

        return get_method(explainer).explainer
    if isinstance(explainer, type) and issubclass(explainer, Explainer):
        return explainer()
    if not isinstance(explainer, Explainer):
        raise TypeError(f"expected an xaihub.Explainer or a registered method's name, got {explainer!r}")
    return explainer


def _named_models(explainer: Explainer, models: Any) -> list[tuple[str | None, Any]]:
    if models is None:
        return [(None, architecture) for architecture in default_architectures(explainer)]
    if isinstance(models, Mapping):
        return list(models.items())
    if isinstance(models, (list, tuple)):
        return [(None, model) for model in models]
    return [(None, models)]


def default_architectures(explainer: Explainer) -> list[zoo.Architecture]:
    """The zoo models an explainer is checked on by default: the plain function for a black-box method,
    else the default model of every installed framework it supports."""
    requires = explainer.requires
    if requires.kind == BLACK_BOX:
        return [zoo.default("callable")]
    return [zoo.default(framework) for framework in contract_checks.installed_frameworks()
            if framework in requires.frameworks]

