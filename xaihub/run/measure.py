"""Running metrics: the ``metrics=`` argument checked upfront, then every metric run on an explanation.

``metrics`` is a list of registered metric names (``["deletion", "insertion"]``) or a mapping
from name to that metric's parameters (``{"deletion": {"steps": 50}, "quantus.pointing_game":
{"mask": mask}}``). Names, parameters and what each metric needs from the model are checked
before any method runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Collection, Mapping, Sequence

from xaihub.contracts.explainer import MAGNITUDE, READINGS, family_reading
from xaihub.contracts.metric import explain_again
from xaihub.core.errors import InputError, MethodUnavailableError, ValidationError
from xaihub.core.maps import DegenerateMapError, degenerate_reason
from xaihub.registry.plugins import get_method, get_metric, list_metrics

if TYPE_CHECKING:
    import numpy as np

    from xaihub.core.explanation import Explanation
    from xaihub.models import ModelAdapter

MetricRequests = dict[str, dict[str, Any]]
"""Metric name → the user's parameters for it, in the order asked for."""
READING = "reading"
"""The parameter every metric takes: how it reads the map — ``"auto"`` (the default: as the method's family is
meant to be read, :func:`xaihub.contracts.explainer.family_reading`), ``"signed"`` or ``"magnitude"``. The
reading used is recorded in the explanation's ``extras["metric_readings"]``."""
AUTO = "auto"


@dataclass
class MetricResult:
    """One metric's outcome on one explanation, with its own cost."""

    metric: str
    values: dict[str, float]
    forward_passes: int
    seconds: float
    error: BaseException | None = None
    skipped: str | None = None
    """Why the metric was not computed (a degenerate map): its values are then ``NaN``."""


def check_metrics(metrics: Sequence[str] | Mapping[str, Mapping[str, Any] | None] | str | None,
                  per_image: Collection[str] = ()) -> MetricRequests:
    """``metrics`` as ``{name: params}``; an unknown metric, an unknown or missing parameter or a bad
    parameter value raises :class:`InputError`.

    :param per_image: parameters that :func:`xaihub.explain_many` gives each image (its ``mask``): they count
        as given, and the values of a metric that takes one are checked on each image instead.
    """
    if metrics is None:
        return {}
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        bad = [params for params in metrics.values() if params is not None and not isinstance(params, Mapping)]
        bad += [name for name in metrics if not isinstance(name, str)]
    else:
        bad = [name for name in metrics if not isinstance(name, str)]
    if bad:
        raise InputError(f"metrics takes a list of names or a {{name: {{parameter: value}}}} mapping; got {bad!r} "
                         "among them")
    pairs = metrics.items() if isinstance(metrics, Mapping) else ((name, None) for name in metrics)
    requests = {name: dict(params or {}) for name, params in pairs}
    known = {registered.metric.name for registered in list_metrics()}
    unknown = [name for name in requests if name not in known]
    if unknown:
        raise InputError(f"unknown metric(s) {unknown}; registered metrics: {', '.join(sorted(known))}")
    for name, params in requests.items():
        metric = get_metric(name).metric
        accepted = set(metric.defaults) | set(metric.required) | {READING}
        if params.get(READING, AUTO) not in (AUTO, *READINGS):
            raise InputError(f"metric {name}'s {READING} is one of {[AUTO, *READINGS]}, got {params[READING]!r}")
        params = {k: v for k, v in params.items() if k != READING}
        unknown = sorted(set(params) - accepted)
        if unknown:
            raise InputError(f"metric {name} got unknown parameter(s) {unknown}; it accepts {sorted(accepted)}")
        missing = [p for p in metric.required if p not in params and p not in per_image]
        if missing:
            raise InputError(f"metric {name} needs parameter(s) {missing}: pass metrics={{{name!r}: {{...}}}}")
        if not accepted & set(per_image):
            metric.check_params({**metric.defaults, **params})
    return requests


def metrics_taking(requests: MetricRequests, parameter: str) -> list[str]:
    """The requested metrics that take ``parameter`` (a required or a default one)."""
    return [name for name in requests
            if parameter in get_metric(name).metric.required or parameter in get_metric(name).metric.defaults]


def check_model(requests: MetricRequests, model: "ModelAdapter") -> None:
    """Raise :class:`MethodUnavailableError` when a requested metric cannot run here (a missing
    library, or a model it cannot use), before any method runs."""
    for name in requests:
        metric = get_metric(name).metric
        metric.check_available()
        unmet = metric.requires.unmet_by(model)
        if unmet:
            raise MethodUnavailableError(f"metric {name} {unmet}")


def measure(requests: MetricRequests, model: "ModelAdapter", explanation: "Explanation",
            seed: int) -> list[MetricResult]:
    """Run every requested metric on ``explanation`` (which carries its ``image``) through ``model``.

    Each metric's forward passes are counted apart, and the adapter's count is left as it
    was, so they are never charged to the method. A metric that raises, or returns values it
    did not declare, gives a result with ``error`` set; the others still run.

    A degenerate map (:func:`~xaihub.core.maps.degenerate_reason`: constant, all zero, non-finite) is not
    scored: every value of every metric is ``NaN``, ``explanation.extras["metric_skipped"]`` holds
    ``{metric: reason}`` and ``explanation.extras["degenerate"]`` the reason. So does a metric that raises
    :class:`~xaihub.core.maps.DegenerateMapError` (e.g. the randomisation check when the randomised model's map
    is constant).
    """
    counted = model.forward_passes
    results = []
    degenerate = degenerate_reason(explanation.attribution)
    if degenerate:  # it orders no pixel before another: a metric would score its own tie-breaking
        explanation.extras["degenerate"] = degenerate
    try:
        for name, params in requests.items():
            metric = get_metric(name).metric
            unscored = {key: float("nan") for key in metric.lower_is_better}
            if degenerate:
                results.append(MetricResult(name, unscored, 0, 0.0, skipped=degenerate))
                continue
            model.reset_count()
            start = time.perf_counter()
            rerun = {"rerun": rerun_method} if metric.reruns_method else {}
            given = {k: v for k, v in params.items() if k != READING}
            values, error, skipped = {}, None, None
            try:
                read, reading = read_as(explanation, params.get(READING, AUTO))
                explanation.extras.setdefault("metric_readings", {})[name] = reading
                values = _checked(name, metric.lower_is_better,
                                  metric.compute(model, read, seed=seed, **{**metric.defaults, **given}, **rerun))
            except DegenerateMapError as exc:
                values, skipped = unscored, str(exc)
            except Exception as exc:
                error = exc
            results.append(MetricResult(name, values, model.forward_passes, time.perf_counter() - start, error,
                                        skipped))
    finally:
        model.forward_passes = counted
    skipped_by = {result.metric: result.skipped for result in results if result.skipped}
    if skipped_by:
        explanation.extras["metric_skipped"] = {**explanation.extras.get("metric_skipped", {}), **skipped_by}
    return results


def compute(metrics: Sequence[str] | Mapping[str, Mapping[str, Any] | None] | str, model: "ModelAdapter",
            explanation: "Explanation", seed: int = 0) -> dict[str, float]:
    """The values of ``metrics`` (names, or ``{name: params}``) for ``explanation``, which must carry its
    ``image``, through ``model``; the first metric that fails raises.

    For scoring an explanation outside :func:`xaihub.explain`, e.g. one loaded from disk. The
    adapter's forward-pass count is left as it was.
    """
    values: dict[str, float] = {}
    for result in measure(check_metrics(metrics), model, explanation, seed):
        if result.error is not None:
            raise result.error
        values.update(result.values)
    return values


def read_as(explanation: "Explanation", reading: str = AUTO) -> tuple["Explanation", str]:
    """``explanation`` as a metric reads it, and the reading used: the same object when read signed, else a copy
    whose attribution is ``|attribution|``; ``"auto"`` reads it as its method's family is meant to be read."""
    import dataclasses

    import numpy as np

    if reading == AUTO:
        reading = family_reading(_family(explanation.method))
    if reading == MAGNITUDE:
        explanation = dataclasses.replace(explanation, attribution=np.abs(explanation.attribution),
                                          extras=dict(explanation.extras))
    return explanation, reading


def _family(method: str) -> str | None:
    try:
        return get_method(method).explainer.family
    except Exception:  # an unregistered method (an explanation made by hand): read as given
        return None


def rerun_method(model: "ModelAdapter", explanation: "Explanation", *, image: "np.ndarray | None" = None,
                 target: int | None = None, seed: int | None = None) -> "np.ndarray":
    """The :class:`~xaihub.contracts.metric.Rerun` the runner hands metrics that explain again: the registered method
    named ``explanation.method``, run by :func:`~xaihub.contracts.metric.explain_again`."""
    explainer = get_method(explanation.method).explainer
    return explain_again(explainer, model, explanation, image=image, target=target, seed=seed)


def _checked(name: str, declared: Mapping[str, Any], values: Any) -> dict[str, float]:
    if not isinstance(values, Mapping):
        raise ValidationError(f"metric {name} returned a {type(values).__name__}, expected {{value name: float}}")
    undeclared = sorted(set(values) - set(declared))
    if undeclared:
        raise ValidationError(f"metric {name} returned undeclared value(s) {undeclared}; it declares {sorted(declared)}")
    try:
        return {key: float(value) for key, value in values.items()}
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"metric {name} returned a non-numeric value: {exc}") from exc
