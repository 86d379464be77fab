"""`explain`: run several methods on one model and image, isolating failures."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from xaihub.contracts.explainer import installed_version
from xaihub.core.cache import Cost, RunCache
from xaihub.core.comparison import Comparison, MethodFailure
from xaihub.core.errors import InputError, ModelError, UnknownMethodError, XaihubError
from xaihub.core.explanation import Explanation
from xaihub.core.images import to_rgb_uint8
from xaihub.core.params import budget_samples
from xaihub.core.params import check as check_constraints
from xaihub.core.preprocess import Preprocess
from xaihub.core.targets import Targets, resolve_targets
from xaihub.core.validation import validate
from xaihub.models import ModelAdapter, ModelOptions
from xaihub.registry.plugins import adapt, get_method
from xaihub.run.measure import MetricRequests, check_metrics, check_model, measure
from xaihub.run.progress import MethodProgress

LABELLED_TOP_K = 5
"""Besides the targets, the labels of this many top classes are kept (for the report)."""
TIME_BUDGET_EXCEEDED = "TimeBudgetExceeded"
"""The error recorded for a method not started because the run passed its ``deadline``."""


def explain(
    model: Any,
    image: Any,
    methods: Sequence[str],
    targets: Targets = None,
    *,
    preprocess: Preprocess | Callable[[np.ndarray], Any] | None = None,
    labels: Sequence[str] | Mapping[int, str] | None = None,
    seed: int = 0,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    batch_size: int = 64,
    output: str = "auto",
    device: str | None = None,
    output_index: int | str | None = None,
    progress: bool | None = None,
    metrics: Sequence[str] | Mapping[str, Mapping[str, Any] | None] | None = None,
    budget: str | None = None,
    samples: int | None = None,
    deadline: float | None = None,
) -> Comparison:
    """Explain ``model`` on ``image`` with every method in ``methods``.

    :param model: a torch ``nn.Module``, a ``keras.Model``, a callable
        ``f(N×H×W×C) -> N×K``, or a :class:`~xaihub.models.ModelAdapter`.
    :param image: ``H×W×3`` array (see :mod:`xaihub.core.images` for accepted forms), PIL image or path.
        Maps come back at this image's size, whatever the model's input size.
    :param methods: registered method names (``xaihub list``), run in this order; required: the core
        names no method of its own (every method is a plugin's).
    :param targets: class index, list of indices, ``"top-5"``; default: the top class.
    :param preprocess: an :class:`xaihub.Preprocess` (fast: applied inside the model's framework) or
        a function on numpy batches (slower); see :class:`~xaihub.models.ModelOptions`.
    :param labels: see :class:`~xaihub.models.ModelOptions`.
    :param batch_size: see :class:`~xaihub.models.ModelOptions`.
    :param output: see :class:`~xaihub.models.ModelOptions`.
    :param device: see :class:`~xaihub.models.ModelOptions`.
    :param output_index: see :class:`~xaihub.models.ModelOptions`.
    :param seed: an int in ``[0, 2**32)``, passed to every method; equal seeds give equal results.
    :param params: per-method parameters, ``{"native.lime": {"num_samples": 500}}``, checked against
        each method's constraints before any method runs.
    :param budget: ``"fast"``, ``"default"`` or ``"thorough"``: every sampling method's own number of samples
        (its :attr:`~xaihub.Explainer.samples_parameter`: ``num_samples``, ``n_steps``, ``nb_design``, ...)
        at a quarter, one or four times its default; ``params`` still win. Recorded in each explanation's params.
    :param samples: every sampling method gets this many of its own unit (samples, steps, noisy copies,
        evaluations), for comparisons at equal budget; a method's value in ``params`` wins. Not with ``budget``.
    :param progress: show a progress bar over the methods, with the forward passes of the running
        method as they happen; default: only when stderr is a terminal.
    :param metrics: registered metrics (``xaihub list``) to compute for every explanation: names,
        ``["deletion", "insertion"]``, or names with parameters, ``{"deletion": {"steps": 50}}``
        (see :mod:`xaihub.run.measure`); checked before any method runs and stored in
        :attr:`Explanation.metrics`. Their forward passes are not counted as the method's; each
        metric's are in ``Explanation.extras["metric_costs"]``.
    :param deadline: a ``time.time()`` after which no further method starts: each is recorded as a failure
        (``TimeBudgetExceeded``), which a resumed :func:`xaihub.explain_many` run does again (``max_minutes`` of
        :func:`xaihub.benchmark` sets it).
    :return: a :class:`~xaihub.Comparison`. A method that fails or is unavailable is
        recorded in ``failures`` and the others still run.
    :raises InputError: when the image, targets, methods, seed, ``params`` or ``metrics`` are unusable,
        :class:`~xaihub.core.errors.ModelError` when the model cannot score the image at all, and
        :class:`~xaihub.core.errors.MethodUnavailableError` when a metric cannot run on this model.
    """
    methods = check_methods(methods)
    check_seed(seed)
    params = check_params(budgeted(params, methods, budget, samples), methods)
    metrics = check_metrics(metrics)
    rgb = to_rgb_uint8(image)
    adapter = adapt(model, ModelOptions(preprocess=preprocess, labels=labels, batch_size=batch_size,
                                        output=output, device=device, output_index=output_index))
    check_model(metrics, adapter)
    adapter.cache = RunCache(lambda: adapter.forward_passes)
    probabilities = adapter.predict(rgb[None])[0]
    chosen = resolve_targets(targets, probabilities)
    named = chosen + resolve_targets(f"top-{LABELLED_TOP_K}", probabilities)
    comparison = Comparison(
        image=rgb, probabilities=probabilities, targets=chosen,
        labels={t: adapter.label(t) for t in named}, methods=methods, seed=seed,
    )
    with MethodProgress(adapter, len(methods), progress) as shown:
        for method in methods:
            if deadline is not None and time.time() > deadline:
                comparison.failures.append(MethodFailure(method, TIME_BUDGET_EXCEEDED, "not started: the run passed "
                                                         "its time budget; run again to resume"))
                continue
            shown.begin(method)
            _run_method(comparison, adapter, method, params.get(method, {}), seed)
            if metrics:
                shown.begin(f"{method}: metrics")
            _measure(comparison, adapter, method, metrics, seed)
            shown.advance()
    comparison.notes = list(adapter.notes) + comparison.notes
    return comparison


def check_methods(methods: Any) -> list[str]:
    """``methods`` as a de-duplicated list of names; :class:`InputError` unless it is a non-empty
    sequence of strings (one string is one method)."""
    if isinstance(methods, str):
        methods = [methods]
    if methods is None or isinstance(methods, Mapping) or not isinstance(methods, Iterable):
        raise InputError(f"methods must be a list of method names (see `xaihub list`), got {methods!r}")
    methods = list(methods)
    bad = [m for m in methods if not isinstance(m, str) or not m]
    if bad:
        raise InputError(f"methods must be method names (strings), got {bad[0]!r}")
    if not methods:
        raise InputError("methods is empty; name at least one method (see `xaihub list`)")
    return list(dict.fromkeys(methods))


def check_seed(seed: Any) -> None:
    """:class:`InputError` unless ``seed`` is an int in ``[0, 2**32)`` (every method can use it)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError(f"seed must be an int in [0, 2**32), got {seed!r}")


def check_params(params: Any, methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The per-method parameters, each checked against its method's constraints.

    :raises InputError: for a malformed mapping, parameters of a method not in ``methods``, an unknown
        parameter or a value its method refuses.
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InputError(f"params must map method names to parameter dicts, got {type(params).__name__}")
    stray = sorted(set(params) - set(methods), key=str)
    if stray:
        raise InputError(f"params given for {stray}, which are not among methods {list(methods)}")
    checked = {}
    for method, values in params.items():
        if not isinstance(values, Mapping) or not all(isinstance(k, str) for k in values):
            raise InputError(f"params[{method!r}] must be a dict of parameter names to values, got {values!r}")
        try:
            explainer = get_method(method).explainer
        except UnknownMethodError:
            continue  # recorded as that method's failure; the others still run
        check_constraints(method, explainer.constraints, values, known=explainer.defaults)
        checked[method] = dict(values)
    return checked


def budgeted(params: Any, methods: Sequence[str], budget: str | None = None,
             samples: int | None = None) -> Any:
    """``params`` with each sampling method's :attr:`~xaihub.Explainer.samples_parameter` set by ``budget`` or
    ``samples`` (see :func:`xaihub.core.params.budget_samples`) where the user did not set it; ``params``
    unchanged when neither is given."""
    budget_samples("", None, budget, samples)  # a bad budget or samples is refused even with no sampling method
    if budget is None and samples is None:
        return params
    if params is not None and not isinstance(params, Mapping):
        return params  # check_params says what is wrong with it
    given = dict(params or {})
    out = {m: dict(v) if isinstance(v, Mapping) else v for m, v in given.items()}
    for method in methods:
        try:
            explainer = get_method(method).explainer
        except UnknownMethodError:
            continue
        applied = budget_samples(method, explainer, budget, samples)
        own = given.get(method, {})
        applied = {k: v for k, v in applied.items() if not (isinstance(own, Mapping) and k in own)}
        if applied:
            out[method] = {**applied, **(own if isinstance(own, Mapping) else {})}
    return out


def _measure(comparison: Comparison, adapter: ModelAdapter, method: str, metrics: MetricRequests, seed: int) -> None:
    """Fill each of ``method``'s explanations' metrics and, in ``extras["metric_costs"]``, each metric's
    forward passes and seconds.

    A metric that fails is recorded on the explanation, never instead of it: ``extras["metric_failures"]``
    maps its name to ``"Error: message"`` and the comparison's ``notes`` say so; its values are left out
    of ``metrics`` (not NaN, so that means and rankings over the other images stay numbers), while the
    explanation and its other metrics are kept, and a resumed run counts the explanation as done."""
    if not metrics:
        return
    for explanation in comparison.by_method(method):
        costs, failed = {}, {}
        for result in measure(metrics, adapter, explanation, seed, targets=comparison.targets):
            explanation.metrics.update(result.values)
            costs[result.metric] = {"forward_passes": result.forward_passes, "seconds": result.seconds}
            if result.error is not None:
                reason = f"{type(result.error).__name__}: {_message(result.error)}"
                failed[result.metric] = reason
                comparison.notes.append(f"{method}, target {explanation.target}: metric {result.metric} failed: "
                                        f"{reason}")
        explanation.extras["metric_costs"] = costs
        if failed:
            explanation.extras["metric_failures"] = failed


def _run_method(comparison: Comparison, adapter: ModelAdapter, method: str,
                user_params: Mapping[str, Any], seed: int) -> None:
    start = time.perf_counter()
    adapter.reset_count()
    reuse = adapter.cache.begin_method()
    try:
        explainer = get_method(method).explainer
        explainer.check_available()
        explainer.check_model(adapter, comparison.image)
        used = {**explainer.defaults, **user_params}
        with adapter.session():
            results = explainer.explain(adapter, comparison.image.copy(), list(comparison.targets), seed=seed,
                                        **used)
    except Exception as exc:
        _record_cost(comparison, method, time.perf_counter() - start, adapter.forward_passes, reuse.cost)
        exc = _diagnosed(exc, adapter, comparison.image)
        comparison.failures.append(MethodFailure(method, type(exc).__name__, _message(exc)))
        return
    cost = _record_cost(comparison, method, time.perf_counter() - start, adapter.forward_passes, reuse.cost)
    versions = {**_core_versions(adapter), **explainer.versions()}
    seen: set[int] = set()
    for result in results if isinstance(results, (list, tuple)) else [results]:
        try:
            explanation = validate(result, comparison.image, comparison.targets, method)
            if explanation.target in seen:
                raise XaihubError(f"{method} returned target {explanation.target} twice")
        except XaihubError as exc:
            comparison.failures.append(MethodFailure(method, type(exc).__name__, str(exc),
                                                     getattr(result, "target", None)))
            continue
        seen.add(explanation.target)
        _fill(explanation, comparison, method, used, seed, cost, versions)
        comparison.explanations.append(explanation)
    for target in comparison.targets:
        if target not in seen and not any(f.method == method and f.target == target for f in comparison.failures):
            comparison.failures.append(MethodFailure(method, "ValidationError",
                                                     f"{method} returned no explanation for target {target}", target))


def _diagnosed(exc: Exception, adapter: ModelAdapter, image: Any) -> Exception:
    """``exc``, or a :class:`ModelError` that says why when it is torch's "does not require grad" and the
    model's output is detached from its input (probed once, only after such a failure: the probe is a forward
    pass that a refusal upfront must not spend)."""
    probe = getattr(adapter, "gradient_problem", None)
    if probe is None or not isinstance(exc, RuntimeError) or "does not require grad" not in str(exc):
        return exc
    problem = probe(image)
    return ModelError(problem) if problem else exc


def _record_cost(comparison: Comparison, method: str, seconds: float, forward_passes: int, reused: Cost) -> Cost:
    """Record what ``method`` would cost alone: what it spent in this call plus what it took from the
    run cache (``reused``), each user of a shared result being charged its full cost; returns that cost."""
    alone = Cost(seconds + reused.seconds, forward_passes + reused.forward_passes)
    comparison.timings[method] = alone.seconds
    comparison.forward_passes[method] = alone.forward_passes
    comparison.reused_seconds[method] = reused.seconds
    comparison.reused_forward_passes[method] = reused.forward_passes
    return alone


def _fill(explanation: Explanation, comparison: Comparison, method: str, used: dict[str, Any],
          seed: int, cost: Cost, versions: dict[str, str]) -> None:
    explanation.method = method
    explanation.image = comparison.image
    explanation.label = comparison.labels.get(explanation.target)
    explanation.score = float(comparison.probabilities[explanation.target])
    explanation.seconds = cost.seconds
    explanation.forward_passes = cost.forward_passes
    explanation.reused_seconds = comparison.reused_seconds[method]
    explanation.reused_forward_passes = comparison.reused_forward_passes[method]
    explanation.params = {key: _recordable(value) for key, value in used.items()}
    explanation.seed = seed
    explanation.versions = versions


def _recordable(value: Any) -> Any:
    """Parameters are stored as JSON: arrays (e.g. given segments) are recorded by shape and dtype."""
    if isinstance(value, np.ndarray):
        return f"<array {value.shape} {value.dtype}>"
    return value


def _message(exc: BaseException) -> str:
    return str(exc) or repr(exc)


def _core_versions(adapter: ModelAdapter) -> dict[str, str]:
    names = ["xaihub", "numpy"]
    names += {"torch": ["torch"], "keras": ["keras", "tensorflow-cpu", "tensorflow"]}.get(adapter.framework, [])
    return {name: version for name in names if (version := installed_version(name)) is not None}
