"""`explain`: run several methods on one model and image, isolating failures."""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from xaihub.cache import RunCache
from xaihub.comparison import Comparison, MethodFailure
from xaihub.errors import InputError, MethodUnavailableError, XaihubError
from xaihub.explainer import installed_version
from xaihub.explanation import Explanation
from xaihub.images import to_rgb_uint8
from xaihub.metrics import MetricRequests, check_metrics, check_model, measure
from xaihub.models import ModelAdapter, ModelOptions, adapt
from xaihub.plugins import get_method
from xaihub.progress import progress_bar
from xaihub.targets import Targets, resolve_targets
from xaihub.validation import validate

DEFAULT_METHODS = ("native.lime",)
LABELLED_TOP_K = 5
"""Besides the targets, the labels of this many top classes are kept (for the report)."""


def explain(
    model: Any,
    image: Any,
    methods: Sequence[str] = DEFAULT_METHODS,
    targets: Targets = None,
    *,
    preprocess: Callable[[np.ndarray], Any] | None = None,
    labels: Sequence[str] | Mapping[int, str] | None = None,
    seed: int = 0,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    batch_size: int = 64,
    output: str = "auto",
    device: str | None = None,
    progress: bool | None = None,
    metrics: Sequence[str] | Mapping[str, Mapping[str, Any] | None] | None = None,
) -> Comparison:
    """Explain ``model`` on ``image`` with every method in ``methods``.

    :param model: a torch ``nn.Module``, a ``keras.Model``, a callable
        ``f(N×H×W×C) -> N×K``, or a :class:`~xaihub.models.ModelAdapter`.
    :param image: ``H×W×3`` array (see :mod:`xaihub.images` for accepted forms), PIL image or path.
    :param methods: registered method names (``xaihub list``), run in this order.
    :param targets: class index, list of indices, ``"top-5"``; default: the top class.
    :param preprocess, labels, batch_size, output, device: see :class:`~xaihub.models.ModelOptions`.
    :param seed: passed to every method; equal seeds give equal results.
    :param params: per-method parameters, ``{"native.lime": {"num_samples": 500}}``.
    :param progress: show a progress bar; default: only when stderr is a terminal.
    :param metrics: registered metrics (``xaihub list``) to compute for every explanation: names,
        ``["deletion", "insertion"]``, or names with parameters, ``{"deletion": {"steps": 50}}``
        (see :mod:`xaihub.metrics`); checked before any method runs and stored in
        :attr:`Explanation.metrics`. Their forward passes are not counted as the method's; each
        metric's are in ``Explanation.extras["metric_costs"]``.
    :return: a :class:`~xaihub.Comparison`. A method that fails or is unavailable is
        recorded in ``failures`` and the others still run.
    :raises InputError: when the image, targets, ``params`` or ``metrics`` are unusable,
        :class:`~xaihub.errors.ModelError` when the model cannot score the image at all, and
        :class:`~xaihub.errors.MethodUnavailableError` when a metric cannot run on this model.
    """
    if isinstance(methods, str):
        methods = [methods]
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise InputError("methods is empty; name at least one method (see `xaihub list`)")
    metrics = check_metrics(metrics)
    params = dict(params or {})
    stray = sorted(set(params) - set(methods))
    if stray:
        raise InputError(f"params given for {stray}, which are not among methods {methods}")
    rgb = to_rgb_uint8(image)
    adapter = adapt(model, ModelOptions(preprocess=preprocess, labels=labels, batch_size=batch_size,
                                        output=output, device=device))
    check_model(metrics, adapter)
    adapter.cache = RunCache()
    probabilities = adapter.predict(rgb[None])[0]
    chosen = resolve_targets(targets, probabilities)
    named = chosen + resolve_targets(f"top-{LABELLED_TOP_K}", probabilities)
    comparison = Comparison(
        image=rgb, probabilities=probabilities, targets=chosen,
        labels={t: adapter.label(t) for t in named}, methods=methods, seed=seed,
    )
    for method in progress_bar(methods, progress=progress, desc="explaining", unit="method"):
        _run_method(comparison, adapter, method, params.get(method, {}), seed)
        _measure(comparison, adapter, method, metrics, seed)
    return comparison


def _measure(comparison: Comparison, adapter: ModelAdapter, method: str, metrics: MetricRequests, seed: int) -> None:
    """Fill each of ``method``'s explanations' metrics and, in ``extras["metric_costs"]``, each metric's
    forward passes and seconds; a metric that fails is recorded as a failure of that explanation."""
    if not metrics:
        return
    for explanation in comparison.by_method(method):
        costs = {}
        for result in measure(metrics, adapter, explanation, seed):
            explanation.metrics.update(result.values)
            costs[result.metric] = {"forward_passes": result.forward_passes, "seconds": result.seconds}
            if result.error is not None:
                comparison.failures.append(MethodFailure(
                    method, type(result.error).__name__, f"metric {result.metric} failed: {_message(result.error)}",
                    explanation.target))
        explanation.extras["metric_costs"] = costs


def _run_method(comparison: Comparison, adapter: ModelAdapter, method: str,
                user_params: Mapping[str, Any], seed: int) -> None:
    start = time.perf_counter()
    adapter.reset_count()
    try:
        explainer = get_method(method).explainer
        explainer.check_available()
        unmet = explainer.requires.unmet_by(adapter)
        if unmet:
            raise MethodUnavailableError(f"{method} {unmet}")
        unknown = sorted(set(user_params) - set(explainer.defaults))
        if unknown:
            raise InputError(
                f"{method} got unknown parameter(s) {unknown}; it accepts {sorted(explainer.defaults)}"
            )
        used = {**explainer.defaults, **user_params}
        results = explainer.explain(adapter, comparison.image.copy(), list(comparison.targets), seed=seed, **used)
        seconds = time.perf_counter() - start
    except Exception as exc:
        comparison.timings[method] = time.perf_counter() - start
        comparison.forward_passes[method] = adapter.forward_passes
        comparison.failures.append(MethodFailure(method, type(exc).__name__, _message(exc)))
        return
    comparison.timings[method] = seconds
    comparison.forward_passes[method] = adapter.forward_passes
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
        _fill(explanation, comparison, method, used, seed, seconds, adapter.forward_passes, versions)
        comparison.explanations.append(explanation)
    for target in comparison.targets:
        if target not in seen and not any(f.method == method and f.target == target for f in comparison.failures):
            comparison.failures.append(MethodFailure(method, "ValidationError",
                                                     f"{method} returned no explanation for target {target}", target))


def _fill(explanation: Explanation, comparison: Comparison, method: str, used: dict[str, Any],
          seed: int, seconds: float, forward_passes: int, versions: dict[str, str]) -> None:
    explanation.method = method
    explanation.image = comparison.image
    explanation.label = comparison.labels.get(explanation.target)
    explanation.score = float(comparison.probabilities[explanation.target])
    explanation.seconds = seconds
    explanation.forward_passes = forward_passes
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
