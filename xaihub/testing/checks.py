"""The checks of the explainer contract, one small function each.

Each takes a :class:`~xaihub.testing.subject.Subject` and raises ``AssertionError`` with a message
saying what broke (or :class:`~xaihub.testing.subject.Unavailable` when the method refused the model
upfront and the check does not apply). :data:`PER_EXPLAINER` checks read the explainer's declarations
and run once per explainer; :data:`PER_MODEL` checks read its run on one model.
"""

from __future__ import annotations

import importlib.util
import inspect
from typing import Any, Callable, Sequence
from unittest import mock

import numpy as np

from xaihub.contracts.explainer import BLACK_BOX, GRADIENTS, Requirement
from xaihub.core.errors import InputError, MethodUnavailableError
from xaihub.core.explanation import Explanation
from xaihub.core.params import Constraint, as_options, invalid_examples
from xaihub.core.params import accepts as constraint_accepts
from xaihub.registry.plugins import adapt
from xaihub.testing import zoo
from xaihub.testing.evaluations import Evaluations
from xaihub.testing.subject import Subject

Check = Callable[[Subject], None]
_FRAMEWORKS = ("torch", "keras")
_MODEL_ARGUMENTS = 3
"""``explain(model, image, targets, ...)``."""


def check_declarations(subject: Subject) -> None:
    """A namespaced ``name``, a :class:`~xaihub.Requirement`, ``defaults`` and ``constraints`` dicts,
    ``libraries`` as names, a ``samples_parameter`` among the defaults (a number, or with ``samples_default``)."""
    explainer = subject.explainer
    name = getattr(explainer, "name", None)
    _expect(isinstance(name, str) and "." in name.strip(".") and " " not in name,
            f"name must be namespaced like 'plugin.method', got {name!r}")
    requires = explainer.requires
    _expect(isinstance(requires, Requirement), f"requires must be an xaihub.Requirement, got {requires!r}")
    _expect(requires.kind in (BLACK_BOX, GRADIENTS),
            f"requires.kind must be {BLACK_BOX!r} or {GRADIENTS!r}, got {requires.kind!r}")
    _expect(requires.kind == BLACK_BOX or bool(requires.frameworks),
            "requires names gradients of no framework: name them, e.g. Requirement(GRADIENTS, ('torch',))")
    for attribute in ("defaults", "constraints"):
        value = getattr(explainer, attribute)
        _expect(isinstance(value, dict) and all(isinstance(k, str) for k in value),
                f"{attribute} must be a dict of parameter names, got {value!r}")
    libraries = explainer.libraries
    _expect(isinstance(libraries, tuple) and all(isinstance(lib, str) and lib for lib in libraries),
            f"libraries must be a tuple of distribution names, got {libraries!r}")
    parameter = getattr(explainer, "samples_parameter", None)
    _expect(parameter is None or parameter in explainer.defaults,
            f"samples_parameter {parameter!r} must be one of defaults {sorted(explainer.defaults)}")
    reference = explainer.defaults.get(parameter) if parameter is not None else None
    _expect(parameter is None or isinstance(reference, int) and not isinstance(reference, bool)
            or isinstance(getattr(explainer, "samples_default", None), int),
            f"samples_parameter {parameter!r} defaults to {reference!r}, not a number: declare samples_default, "
            "the number of samples that default amounts to (budget= scales it)")


def check_defaults_match_signature(subject: Subject) -> None:
    """``explain(model, image, targets, *, seed, ...)`` accepts every declared default (as a named
    keyword parameter or through ``**params``), requires no keyword the runner does not pass, and its
    own defaults, where it has any, are the declared ones."""
    explainer = subject.explainer
    parameters = list(inspect.signature(explainer.explain).parameters.values())
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    variadic = any(p.kind == p.VAR_POSITIONAL for p in parameters)
    _expect(len(positional) >= _MODEL_ARGUMENTS or variadic,
            f"explain must take (model, image, targets, *, seed, ...); its signature is {_signature(explainer)}")
    named = {p.name: p for p in parameters[_MODEL_ARGUMENTS:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    extra_keywords = any(p.kind == p.VAR_KEYWORD for p in parameters)
    problems = []
    if "seed" not in named and not extra_keywords:
        problems.append("explain does not take the keyword 'seed'")
    for key, value in explainer.defaults.items():
        if key not in named and not extra_keywords:
            problems.append(f"defaults declares {key!r}, which explain does not accept")
        elif key in named and named[key].default is not inspect.Parameter.empty \
                and not _same(named[key].default, value):
            problems.append(f"explain's own default for {key!r} is {named[key].default!r}; defaults declares "
                            f"{value!r} (the runner passes the declared one: drop the signature's or make them equal)")
    for key, parameter in named.items():
        if key != "seed" and key not in explainer.defaults and parameter.default is inspect.Parameter.empty:
            problems.append(f"explain requires the keyword {key!r}, which defaults does not declare "
                            "(the runner passes only the declared parameters)")
    _expect(not problems, "; ".join(problems) + f" — explain{_signature(explainer)}")


def check_constraints(subject: Subject) -> None:
    """Every parameter has a constraint (:mod:`xaihub.core.params`), every constraint names a parameter, and
    every default satisfies its constraint."""
    explainer = subject.explainer
    defaults, constraints = explainer.defaults, explainer.constraints
    problems = [f"parameter {key!r} has no constraint (declare what it accepts in constraints, "
                "e.g. Integer(1, 1000), Choice(...), [None, String()], Anything('...'))"
                for key in defaults if key not in constraints]
    problems += [f"constraints names {key!r}, which is not in defaults" for key in constraints if key not in defaults]
    for key, spec in constraints.items():
        options = as_options(spec)
        if not all(option is None or isinstance(option, Constraint) for option in options):
            problems.append(f"constraint of {key!r} is {spec!r}; expected an xaihub.core.params constraint, None or a "
                            "list of them")
        elif key in defaults and not constraint_accepts(spec, defaults[key]):
            problems.append(f"the default {key}={defaults[key]!r} breaks its own constraint")
    _expect(not problems, "; ".join(problems))


def check_invalid_parameters_refused(subject: Subject) -> None:
    """Through :func:`xaihub.explain`, every value a constraint names as invalid
    (:func:`xaihub.core.params.invalid_examples`) and an unknown parameter are refused with an
    :class:`~xaihub.InputError` naming the parameter, before the method's ``explain`` is reached."""
    from xaihub.registry.plugins import _standing_in
    from xaihub.run.runner import explain

    explainer, method = subject.explainer, subject.method
    cases = [(key, value) for key, spec in explainer.constraints.items() if key in explainer.defaults
             for value in invalid_examples(spec)]
    cases.append((f"not_a_parameter_of_{method.replace('.', '_')}", 1))
    problems = []
    reached = mock.Mock(side_effect=AssertionError("explain reached"))
    with _standing_in(explainer), mock.patch.object(explainer, "explain", reached):
        for key, value in cases:
            try:
                explain(subject.model(), subject.image, [method], params={method: {key: value}}, progress=False)
            except InputError as exc:
                if key not in str(exc):
                    problems.append(f"{key}={value!r} was refused, but the message does not name it: {exc}")
                continue
            except Exception as exc:  # reached explain, or failed otherwise
                problems.append(f"{key}={value!r} raised {type(exc).__name__}: {exc}")
                continue
            problems.append(f"{key}={value!r} was accepted")
    if reached.called:
        problems.append(f"explain was reached with bad parameters ({reached.call_count} time(s))")
    _expect(not problems, "bad parameters must raise InputError upfront: " + "; ".join(problems))


def check_maps(subject: Subject) -> None:
    """One :class:`~xaihub.Explanation` per target: an ``H×W`` finite float ``attribution``; ``channels``
    ``H×W×C`` when given; ``segments`` ``H×W`` ints with one finite weight per segment, painted into the map."""
    explanations = subject.run().explanations(detailed=True)
    problems = [problem for e in _as_list(explanations) for problem in _map_problems(e, subject.image)]
    _expect(not problems, "; ".join(problems))


def check_targets(subject: Subject) -> None:
    """Exactly the asked targets (several, a non-top class among them), each once."""
    run = subject.run()
    explanations = _as_list(run.explanations())
    got = [getattr(e, "target", None) for e in explanations]
    _expect(sorted(map(repr, got)) == sorted(map(repr, run.targets)),
            f"asked for targets {run.targets}, got explanations for {got}")


def check_model_untouched(subject: Subject) -> None:
    """The user's model afterwards: the same parameter and buffer values, ``requires_grad``, ``.grad``,
    hooks and per-module train/eval mode (torch); the same weights, trainable flags and layers (Keras)."""
    run = subject.run()
    run.explanations()
    _expect(not run.changes, f"the method changed the model's {', '.join(run.changes)} "
                             "(work on a copy, or restore it: xaihub.models.torch_state.restored)")


def check_forward_passes_counted(subject: Subject) -> None:
    """A method that evaluates the model reports forward passes, no fewer than the images the model really
    evaluated (counted outside the adapter; run the model through ``predict``/``scores``, or call
    ``model.count_forward`` for evaluations made otherwise)."""
    run = subject.run()
    run.explanations()
    if run.evaluated is None:
        return  # this model's evaluations cannot be counted from outside
    _expect(run.evaluated == 0 or run.reported >= run.evaluated,
            f"the model evaluated {run.evaluated} image(s) but the adapter counted {run.reported} forward pass(es)")


def check_declared_forward_passes(subject: Subject) -> None:
    """A method that declares its forward passes (:meth:`~xaihub.Explainer.expected_forward_passes`: exact, or a
    ceiling for an adaptive method) takes no more than it declares, so that a plan built on them
    (:func:`xaihub.plan`) is never an underestimate of the model's work."""
    run = subject.run()
    run.explanations()
    declared = subject.explainer.expected_forward_passes(subject.used_params(), len(run.targets))
    _expect(declared is None or run.reported <= declared,
            f"the method declared {declared} forward pass(es) for {len(run.targets)} target(s) "
            f"(expected_forward_passes) but took {run.reported}")


def check_refusal_is_upfront(subject: Subject) -> None:
    """A model (or image) the method cannot explain is refused (``MethodUnavailableError`` with a reason) by
    ``check_model``, or by ``explain`` before its work (say on the image's superpixels), before the method
    spends time: at most one probe of the image (one forward pass, say a traced pass that reads the
    architecture), never more."""
    run = subject.run()
    if run.unavailable is None:
        return
    passes, images = run.refusal_cost
    _expect(bool(run.unavailable.strip()), "check_model refused the model without a reason")
    _expect(passes <= 1 and images <= 1,
            f"{run.stopped_in} spent {passes} forward pass(es) ({images} image(s) evaluated) before refusing the "
            f"model ({run.unavailable}); refusing may cost one probe of the image at most")


def check_failures_are_upfront(subject: Subject) -> None:
    """On a model and image it accepted, the method returns its maps: it refuses upfront
    (``MethodUnavailableError``, see :func:`check_refusal_is_upfront`) or explains, and any other exception
    from ``explain`` breaks the contract, however few forward passes it had made."""
    run = subject.run()
    if run.error is None:
        return
    first = (str(run.error).strip() or repr(run.error)).splitlines()[0]
    where = "in check_model" if run.stopped_in == "check_model" else f"after {run.reported} forward pass(es) of explain"
    raise AssertionError(
        f"the method failed {where} with {type(run.error).__name__}: {first} — a method either refuses upfront "
        "(MethodUnavailableError from check_model, or from explain before its work, with the reason) or returns "
        "a result")


def check_seeds(subject: Subject) -> None:
    """The same seed gives the same maps; another seed gives valid maps (random methods may differ)."""
    first = {e.target: e for e in _as_list(subject.run().explanations())}
    again = _as_list(subject.explain(subject.seed))
    problems = []
    for explanation in again:
        earlier = first.get(explanation.target)
        for field in ("attribution", "channels"):
            a, b = (None if earlier is None else getattr(earlier, field)), getattr(explanation, field)
            if (a is None) != (b is None) or (a is not None and not _close(a, b)):
                problems.append(f"target {explanation.target}: {field} differs between two runs with seed "
                                f"{subject.seed}")
    problems += _map_problems_all(subject.explain(subject.seed + 1), subject.image, f"with seed {subject.seed + 1}")
    _expect(not problems, "; ".join(problems) + " (seed every random choice from the seed argument)")


def check_requires(subject: Subject) -> None:
    """``requires`` is honoured: a method needing gradients of some frameworks is refused, upfront and for
    free, for a plain function and for a model of a framework it does not name; a black-box method
    explains a plain function."""
    from xaihub.registry.plugins import _standing_in
    from xaihub.run.runner import explain

    explainer, method = subject.explainer, subject.method
    requires = explainer.requires
    with _standing_in(explainer):
        if requires.kind == BLACK_BOX:
            result = explain(zoo.plain_callable(), subject.image, [method], params={method: subject.params},
                             targets=subject.asked_targets, progress=False)
            _expect(not result.failures, "a black-box method failed on a plain function: "
                    + "; ".join(str(f) for f in result.failures))
            return
        problems = []
        for architecture in _foreign(requires.frameworks):
            model = architecture.build()
            evaluations = Evaluations(model, subject.image)
            adapter = adapt(evaluations.model())
            adapter.predict(subject.image[None])
            adapter.reset_count()
            evaluations.reset()
            what = f"a {architecture.framework} model ({architecture.name})"
            try:
                explainer.check_model(adapter, subject.image)
                problems.append(f"check_model accepted {what}, which it needs gradients of "
                                f"{', '.join(requires.frameworks)} to explain")
            except MethodUnavailableError:
                if adapter.forward_passes or evaluations.images:
                    problems.append(f"check_model spent forward passes refusing {what}")
            except Exception as exc:
                problems.append(f"check_model raised {type(exc).__name__} for {what}: {exc} "
                                "(expected MethodUnavailableError)")
            result = explain(model, subject.image, [method], params={method: subject.params}, progress=False)
            errors = [f.error for f in result.failures]
            if errors != ["MethodUnavailableError"]:
                problems.append(f"explain on {what} recorded {errors or 'no failure'}, expected one "
                                "MethodUnavailableError")
    _expect(not problems, "; ".join(problems))


PER_EXPLAINER: tuple[Check, ...] = (check_declarations, check_defaults_match_signature, check_constraints,
                                    check_invalid_parameters_refused, check_requires)
"""Checks of what an explainer declares; they run once per explainer."""
PER_MODEL: tuple[Check, ...] = (check_refusal_is_upfront, check_failures_are_upfront, check_maps, check_targets,
                                check_model_untouched, check_forward_passes_counted, check_declared_forward_passes,
                                check_seeds)
"""Checks of one run on one model."""
ON_ARCHITECTURES: tuple[Check, ...] = PER_MODEL[:-1]
"""What every method is held to on every zoo architecture (seeds are checked on the default models)."""
ON_IMAGES: tuple[Check, ...] = (check_refusal_is_upfront, check_failures_are_upfront, check_maps)
"""What every method is held to on every :data:`~xaihub.testing.zoo.IMAGE_CASES` image: a result or an upfront
refusal, and valid maps."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _as_list(explanations: Any) -> list[Any]:
    _expect(isinstance(explanations, (list, tuple)),
            f"explain must return a list of xaihub.Explanation, got {type(explanations).__name__}")
    return list(explanations)


def _map_problems_all(explanations: Any, image: np.ndarray, when: str) -> list[str]:
    return [f"{problem} {when}" for e in _as_list(explanations) for problem in _map_problems(e, image)]


def _map_problems(explanation: Any, image: np.ndarray) -> list[str]:
    if not isinstance(explanation, Explanation):
        return [f"explain returned a {type(explanation).__name__}, expected xaihub.Explanation"]
    height, width = image.shape[:2]
    where = f"target {explanation.target}"
    problems = _array_problems(explanation.attribution, f"{where}: attribution", (height, width))
    if explanation.channels is not None:
        channels = np.asarray(explanation.channels)
        if channels.ndim != 3:
            problems.append(f"{where}: channels has shape {channels.shape}, expected ({height}, {width}, C)")
        else:
            problems += _array_problems(channels, f"{where}: channels", (height, width, channels.shape[2]))
    problems += _segment_problems(explanation, where, (height, width))
    return problems


def _array_problems(values: Any, what: str, shape: tuple[int, ...]) -> list[str]:
    array = np.asarray(values)
    if array.shape != shape:
        return [f"{what} has shape {array.shape}, expected {shape}"]
    if array.dtype.kind != "f":
        return [f"{what} has dtype {array.dtype}, expected floats"]
    if not np.all(np.isfinite(array)):
        return [f"{what} holds NaN or infinite values"]
    return []


def _segment_problems(explanation: Explanation, where: str, shape: tuple[int, int]) -> list[str]:
    if explanation.segments is None:
        return [f"{where}: segment_weights without segments"] if explanation.segment_weights is not None else []
    segments = np.asarray(explanation.segments)
    if segments.shape != shape or segments.dtype.kind not in "iu" or segments.min() < 0:
        return [f"{where}: segments must be {shape} non-negative ints, got {segments.shape} {segments.dtype}"]
    if explanation.segment_weights is None:
        return []
    weights = np.asarray(explanation.segment_weights)
    if weights.shape != (int(segments.max()) + 1,) or not np.all(np.isfinite(weights)):
        return [f"{where}: segment_weights has shape {weights.shape}; expected one finite weight per segment "
                f"({int(segments.max()) + 1})"]
    painted = weights[segments]
    if not _close(np.asarray(explanation.attribution, np.float64), painted):
        return [f"{where}: the attribution is not the segment weights painted on the segments"]
    return []


def _close(a: Any, b: Any) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return False
    scale = max(float(np.abs(a).max(initial=0.0)), float(np.abs(b).max(initial=0.0)), 1e-12)
    return bool(np.allclose(a, b, rtol=1e-4, atol=1e-5 * scale))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    try:
        return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)
    except Exception:
        return a is b


def _signature(explainer: Any) -> str:
    return str(inspect.signature(explainer.explain))


def _foreign(frameworks: Sequence[str]) -> list[zoo.Architecture]:
    """A plain function and the default model of every installed framework outside ``frameworks``."""
    foreign = [zoo.default("callable")]
    for framework in _FRAMEWORKS:
        if framework not in frameworks and _installed(framework):
            foreign.append(zoo.default(framework))
    return foreign


def _installed(framework: str) -> bool:
    modules = {"torch": ("torch",), "keras": ("keras", "tensorflow")}[framework]
    return all(importlib.util.find_spec(module) is not None for module in modules)


def installed_frameworks() -> list[str]:
    """The frameworks whose zoo models can be built here."""
    return [framework for framework in _FRAMEWORKS if _installed(framework)]

