"""`benchmark`: which explanation to trust for *this* model — methods run over many images, scored by
faithfulness, held to the randomisation sanity check and to the noise baseline, and pointed at the object
where masks are given; then ranked into a recommendation.

Built on :func:`xaihub.explain_many`: the run directory is resumable (a second call skips what is done)
and runs on Dask with ``executor="dask"``. The dataset report it writes has the bootstrap intervals,
Wilcoxon tests and the recommendation (:mod:`xaihub.evaluation.recommendation`).
"""

from __future__ import annotations

import inspect
import itertools
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from xaihub.core.errors import InputError, MethodUnavailableError, XaihubError
from xaihub.core.files import atomic_output, check_destination
from xaihub.core.image_sources import image_source
from xaihub.core.images import to_rgb_uint8
from xaihub.evaluation.dataset_statistics import DatasetStatistics, dataset_statistics
from xaihub.evaluation.recommendation import Recommendation, recommend
from xaihub.evaluation.reliability import DRAWS as RELIABILITY_DRAWS
from xaihub.evaluation.reliability import IMAGES as RELIABILITY_IMAGES
from xaihub.evaluation.reliability import MIN_METHODS as RELIABILITY_MIN_METHODS
from xaihub.evaluation.reliability import reliability_of_run, save_reliability
from xaihub.models import ModelAdapter, ModelOptions
from xaihub.registry.plugins import adapt, get_method, get_metric, list_methods
from xaihub.report import dataset_report
from xaihub.report.families import baselines
from xaihub.run.batch import BatchSummary, explain_many
from xaihub.run.measure import check_metrics
from xaihub.run.plan import Plan, make_plan, metric_cost, seconds_per_pass, target_count
from xaihub.run.run_directory import current_records, read_index, read_settings, select_records
from xaihub.run.runner import TIME_BUDGET_EXCEEDED, budgeted

BASELINES = ("baseline.noise", "baseline.centre")
"""The references every benchmark runs: a method that does not beat them explains nothing."""
CONTROLS = ("baseline.edges",)
"""Image-only controls (family ``"baseline"``, so reports and the recommendation treat them as references) a
benchmark adds when it computes metrics: an edge map passes faithfulness metrics surprisingly often and must fail
randomisation; a method that does no better shows the image, not the model. ``controls=False`` leaves them out."""

CHOICES: dict[str, tuple[str, ...]] = {
    "saliency": ("captum.saliency", "gradients.saliency", "xplique.saliency"),
    "input_x_gradient": ("captum.input_x_gradient", "xplique.gradient_input"),
    "integrated_gradients": ("captum.integrated_gradients", "gradients.integrated", "omnixai.ig",
                             "xplique.integrated_gradients"),
    "smoothgrad": ("captum.smoothgrad", "xplique.smoothgrad", "omnixai.smoothgrad"),
    "vargrad": ("captum.vargrad", "xplique.vargrad"),
    "squaregrad": ("captum.smoothgrad_sq", "xplique.squaregrad"),
    "expected_gradients": ("captum.gradient_shap", "shap.gradient"),
    "deeplift": ("captum.deeplift",),
    "deeplift_shap": ("captum.deeplift_shap", "omnixai.shap"),
    "guided_backprop": ("captum.guided_backprop", "xplique.guided_backprop", "omnixai.guidedbp"),
    "deconvolution": ("captum.deconvolution", "xplique.deconvnet"),
    "guided_grad_cam": ("captum.guided_gradcam",),
    "grad_cam": ("gradients.gradcam", "captum.gradcam", "xplique.gradcam", "omnixai.gradcam"),
    "grad_cam_pp": ("gradients.gradcampp", "xplique.gradcampp", "omnixai.gradcampp"),
    "layer_cam": ("omnixai.layercam",),
    "score_cam": ("omnixai.scorecam",),
    "lrp": ("lrp.epsilon",),
    "occlusion": ("captum.occlusion", "xplique.occlusion"),
    "feature_ablation": ("captum.feature_ablation",),
    "shapley_sampling": ("captum.shapley_value_sampling",),
    "lime": ("lime.image", "omnixai.lime", "captum.lime", "native.lime", "xplique.lime"),
    "kernel_shap": ("native.kernelshap", "captum.kernel_shap", "xplique.kernelshap", "shap.kernel"),
    "partition_shap": ("shap.partition",),
    "rise": ("xplique.rise",),
    "sobol": ("xplique.sobol",),
    "hsic": ("xplique.hsic",),
}
"""Per family, its implementations in order of preference: the first that is installed and can explain the
model is the family's method in a benchmark (and in ``make demo``). The order is SRG per second of explaining on
EfficientNet-Lite0 and three photos (``python benchmarks/which_method.py --images 3 --implementations``; README
"Which method?"), where two implementations differ by more than the timing's noise; implementations that only run
on Keras come after those that run on torch. One exception, for cost: Integrated Gradients is captum's (one path
of ``n_steps``) before OmniXAI's, which averages ten random baselines (ten times the gradients, and as many again
in the randomisation check's rerun)."""

DEFAULT_FAMILIES = ("saliency", "integrated_gradients", "expected_gradients", "grad_cam", "grad_cam_pp", "lrp",
                    "occlusion", "lime", "kernel_shap", "rise")
"""The families a benchmark (and ``xaihub compare``) runs by default: gradients (saliency, Integrated Gradients,
expected gradients), CAMs (Grad-CAM, Grad-CAM++), relevance (LRP) and perturbations (occlusion, LIME, Kernel SHAP,
RISE): one of each kind of answer, each in seconds per photo, so that the verdict on ten photos costs minutes
(``benchmarks/benchmark_cost.py``). ``families="all"`` runs one method of every family of :data:`CHOICES`."""

BUDGETS: dict[str, dict[str, Any]] = {
    "native.lime": {"max_samples": 300},
    "native.kernelshap": {"max_samples": 150},
    "lime.image": {"num_samples": 100},
    "omnixai.lime": {"num_samples": 200},
    "omnixai.ig": {"steps": 16},
    "shap.kernel": {"num_samples": 200},
    "shap.partition": {"max_evals": 200},
    "shap.gradient": {"nsamples": 30},
    "captum.integrated_gradients": {"n_steps": 20},
    "captum.kernel_shap": {"n_samples": 200},
    "captum.lime": {"n_samples": 200},
    "captum.occlusion": {"window": 64, "stride": 32},
    "captum.shapley_value_sampling": {"n_samples": 2},
    "xplique.hsic": {"nb_design": 150},
    "xplique.kernelshap": {"nb_samples": 200},
    "xplique.rise": {"nb_samples": 100},
    "xplique.sobol": {"nb_design": 4},
}
"""Sample budgets that keep a benchmark (and the demo) to minutes on a CPU; each method's defaults are larger. The
default families' three perturbation methods (LIME, Kernel SHAP, RISE) take the demo's budgets: with the
randomisation check's rerun they were half of a ten-photo benchmark's time (``benchmarks/benchmark_cost.py``).
``benchmark(params=...)`` overrides them."""

LOWER_BUDGETS = ("thorough", "default", "fast")
"""What ``max_minutes`` tries, from the budget asked down, before smaller :data:`SMALLER_SAMPLES`."""
SMALLER_SAMPLES = (32, 16, 8)
"""``samples=`` that ``max_minutes`` tries after ``budget="fast"``, largest first."""
OVERRUN = 1.2
"""A run with ``max_minutes`` starts no new method once it has taken this many times its budget."""

FAITHFULNESS_METRICS = ("srg", "deletion", "insertion")
"""The core's curve metrics: SRG (region flipping both ways, which the baselines do not beat) first, the
pixel-flipping AUCs for comparison (the demo computes all three)."""
QUANTUS_METRICS = ("quantus.road", "quantus.sparseness")
"""Quantus' metrics a benchmark adds when the Quantus plugin is installed: ROAD (faithfulness with noisy linear
imputation, another remedy than SRG's for pixel flipping's out-of-distribution artefact) and sparseness
(complexity, shown and never ranked; it costs no model call). Without Quantus, ``insertion`` is SRG's second.
Not defaults, for their cost or their artefact (pass them in ``metrics`` and the verdict ranks them):
``deletion`` (the random map scores well on it: the verdict sets it aside where it does), ``quantus.irof`` (about
three times SRG's time per explanation) and robustness, ``quantus.max_sensitivity`` (``nr_samples`` runs of every
method per explanation)."""
SANITY_METRIC = "sanity.randomization"
LOCALISATION_METRICS = ("pointing_game", "relevance_mass")
"""With object masks: does the map point at the object, and how much of it falls there."""


@dataclass
class BenchmarkResult:
    """What :func:`benchmark` did and found."""

    summary: BatchSummary
    """The run: explanations saved, skipped (already done), failed."""
    statistics: DatasetStatistics
    recommendation: Recommendation | None
    """The methods ranked for this model (``None`` when no faithfulness metric could rank them)."""
    report: str | None
    """The dataset report's path, when one was asked for."""
    run_dir: str
    plan: Plan | None = None
    """The cost estimated before the run, with the actual time set after it (:meth:`Plan.comparison`)."""

    @property
    def accuracy(self) -> float | None:
        """With ``true_labels``: the model's top-1 accuracy over this call's labelled images (see
        :attr:`BatchSummary.accuracy`)."""
        return self.summary.accuracy

    def __str__(self) -> str:
        said = (self.recommendation.lines() if self.recommendation is not None
                else ["No recommendation: no method has a value of a ranking metric."])
        where = [f"report: {self.report}"] if self.report else []
        stopped = [f"Stopped: {n} method run(s) were not started because the run passed its time budget; run again "
                   "to resume." for n in [sum(f.get("error") == TIME_BUDGET_EXCEEDED for f in self.summary.failures)]
                   if n]
        planned = [f"Plan: {self.plan.comparison()}" + (
            f" ({self.summary.skipped} explanations were already done: the actual covers the rest)"
            if self.summary.skipped else "")] if self.plan is not None and self.plan.comparison() else []
        return "\n".join([str(self.summary), *stopped, *planned, "", *said, "", *where,
                          f"run directory: {self.run_dir}"])


def default_methods(model: ModelAdapter, image: np.ndarray, families: Sequence[str] | str | None = DEFAULT_FAMILIES,
                    controls: bool = False) -> list[str]:
    """One method per family (:data:`CHOICES`: the first installed one that can explain ``model`` — its
    ``requires`` met and its ``check_model`` passed on ``image``) and the :data:`BASELINES`.

    :param families: these families of :data:`CHOICES` (default: :data:`DEFAULT_FAMILIES`; ``"all"`` or
        ``None``: every family).
    :param controls: also the image-only :data:`CONTROLS` (``baseline.edges``), after the baselines.
    :raises InputError: for a family :data:`CHOICES` does not have.
    """
    families = None if families == "all" else [families] if isinstance(families, str) else families
    unknown = sorted(set(families or ()) - set(CHOICES)) if families is not DEFAULT_FAMILIES else []
    if unknown:
        raise InputError(f"unknown famil{'ies' if len(unknown) > 1 else 'y'} {unknown}; known: {sorted(CHOICES)}")
    registered = {r.explainer.name: r.explainer for r in list_methods()}
    chosen = []
    for family, candidates in CHOICES.items():
        if families is not None and family not in families:
            continue
        for name in candidates:
            explainer = registered.get(name)
            if explainer is not None and can_explain(explainer, model, image):
                chosen.append(name)
                break
    references = BASELINES + (CONTROLS if controls else ())
    return chosen + [b for b in references if b in registered]


def _samples_parameter(method: str) -> str | None:
    """The parameter ``method`` samples with (``None`` for a method that does not, or an unknown one)."""
    try:
        return get_method(method).explainer.samples_parameter
    except XaihubError:
        return None


def default_metrics(model: ModelAdapter, masks: bool) -> list[str]:
    """SRG and :data:`QUANTUS_METRICS` (or, without Quantus, insertion), the randomisation sanity check when
    ``model`` has weights to randomise, and, with ``masks``, the pointing game and relevance mass."""
    quantus = [name for name in QUANTUS_METRICS if _metric_runs(name, model)]
    wanted = ["srg"] + (quantus if "quantus.road" in quantus else ["insertion", *quantus]) + [SANITY_METRIC]
    wanted += list(LOCALISATION_METRICS) if masks else []
    return [name for name in wanted if _metric_runs(name, model)]


def benchmark(
    model: Any,
    images: Any,
    *,
    out: str | os.PathLike,
    methods: Sequence[str] | None = None,
    metrics: Sequence[str] | Mapping[str, Mapping[str, Any] | None] | None = None,
    masks: Any = None,
    report: str | os.PathLike | None = None,
    targets: Any = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    preprocess: Any = None,
    labels: Any = None,
    seed: int = 0,
    executor: Any = None,
    resume: str = "check",
    model_id: str | None = None,
    progress: bool | None = None,
    reliability: bool | Mapping[str, Any] = True,
    controls: bool = True,
    families: Sequence[str] | str = DEFAULT_FAMILIES,
    max_minutes: float | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    **explain_kwargs: Any,
) -> BenchmarkResult:
    """Benchmark explanation methods on ``model`` over ``images`` and recommend which to trust.

    :param model: as for :func:`xaihub.explain_many`.
    :param images: as for :func:`xaihub.explain_many`.
    :param out: as for :func:`xaihub.explain_many` (the run directory: a second call resumes it).
    :param targets: as for :func:`xaihub.explain_many`.
    :param seed: as for :func:`xaihub.explain_many`.
    :param executor: as for :func:`xaihub.explain_many`.
    :param resume: as for :func:`xaihub.explain_many`.
    :param model_id: as for :func:`xaihub.explain_many`.
    :param progress: as for :func:`xaihub.explain_many`.
    :param methods: default :func:`default_methods`: one per family and the baselines, and the image-only
        :data:`CONTROLS` when metrics are computed and ``controls`` is true.
    :param metrics: default :func:`default_metrics`; the pointing game and relevance mass need ``masks``.
    :param controls: add the :data:`CONTROLS` (an edge map) to the default methods when metrics are asked.
    :param families: the families of the default methods (:data:`DEFAULT_FAMILIES`; ``"all"``: one method of every
        family of :data:`CHOICES`); ignored when ``methods`` is given.
    :param masks: each image's object mask (see :func:`xaihub.explain_many`).
    :param report: where to write the dataset report (HTML), with its recommendation; ``None``: no report.
        The recommendation and :attr:`BenchmarkResult.statistics` cover this call's images and methods only,
        whatever else ``out`` holds from earlier calls.
    :param params: per-method parameters, over the :data:`BUDGETS` of the methods that have one.
    :param explain_kwargs: also ``budget=`` or ``samples=`` (as for :func:`xaihub.explain`): every sampling
        method's own number of samples, in place of :data:`BUDGETS`; ``params`` still win.
    :param preprocess: as for :func:`xaihub.explain`.
    :param labels: as for :func:`xaihub.explain`.
    :param explain_kwargs: as for :func:`xaihub.explain`; ``true_labels`` (and ``targets="true_labels"`` or a
        ``{image id: targets}`` mapping) as for :func:`xaihub.explain_many`: the result then has the model's
        :attr:`BenchmarkResult.accuracy`.
    :param reliability: check each metric's reliability on this model before it votes
        (:mod:`xaihub.evaluation.reliability`, on a few images; a mapping sets ``images``, ``draws``, ``noise``);
        ``False`` skips it, and the verdict says so.
    :param max_minutes: the time the run may take. When the :func:`plan` is over it, the sample budget is lowered
        (``"thorough"`` → ``"default"`` → ``"fast"``, then :data:`SMALLER_SAMPLES`) until it fits, and the plan says
        so; when even the smallest does not fit, an :class:`InputError` names the estimate and what to cut. During
        the run, once it has taken :data:`OVERRUN` times ``max_minutes``, no new method starts: what is done is
        kept, the summary says what was not started, and a second call resumes. (The estimate covers the run and the
        reliability check, not the report.)
    :param on_plan: called with the :class:`~xaihub.run.plan.Plan` before any method runs (the CLI prints it).
    """
    if report is not None:
        if os.path.abspath(os.path.dirname(os.fspath(report))) == os.path.abspath(out):
            os.makedirs(out, exist_ok=True)  # a report inside the run directory, which the run creates anyway
        check_destination(report)  # a missing folder or a FIFO there is refused before any work
    started = time.time()
    images, image = first_readable(images, ids=explain_kwargs.get("ids"))
    adapter, methods, metrics = _setup(model, image, methods, metrics, masks, preprocess, labels, controls,
                                       families, explain_kwargs)
    budget, samples = explain_kwargs.pop("budget", None), explain_kwargs.pop("samples", None)
    plan, budgets = fitted_plan(adapter, image, methods, metrics, params, budget, samples, max_minutes,
                                images=_image_count(images, explain_kwargs.get("ids")),
                                targets=target_count(targets), masks=masks is not None, reliability=reliability,
                                recorded=_recorded_params(out) if max_minutes is not None and resume != "overwrite"
                                else None)
    if on_plan is not None:
        on_plan(plan)
    if max_minutes is not None:
        explain_kwargs["deadline"] = started + max_minutes * 60 * OVERRUN
    summary = explain_many(model, images, methods, targets, out=out, executor=executor, seed=seed, params=budgets,
                           progress=progress, resume=resume, model_id=model_id, masks=masks, metrics=metrics,
                           preprocess=preprocess, labels=labels, **explain_kwargs)
    lines = select_records(current_records(read_index(out)), summary.ids, methods)
    plan.actual_passes = counted_passes(lines)
    checked = None
    if reliability and metrics:
        checked = reliability_of_run(adapter, out, lines, check_metrics(metrics, per_image=("mask",)), seed,
                                     **(reliability if isinstance(reliability, Mapping) else {}))
        save_reliability(out, checked)
    plan.actual_seconds = time.time() - started  # what the plan covers: the run and the reliability check
    notes = [] if _deterministic(adapter, image) else [
        "The model is not deterministic: the same image gave different outputs twice (dropout or noise left on?); "
        "every metric here carries that noise — put the model in evaluation mode."]
    recommendation = recommend(lines, baselines(sorted({str(line.get("method")) for line in lines})),
                               reliability=checked, notes=notes)
    if report is not None:
        with atomic_output(report) as temporary:
            dataset_report(out, temporary, title="xaihub benchmark", recommendation=recommendation,
                           images=summary.ids, methods=methods)
    statistics = dataset_statistics(out, summary.ids, methods)
    return BenchmarkResult(summary, statistics, recommendation,
                           os.fspath(report) if report is not None else None, os.fspath(out), plan)


def plan(model: Any, images: Any, *, methods: Sequence[str] | None = None,
         metrics: Sequence[str] | Mapping[str, Mapping[str, Any] | None] | None = None, masks: Any = None,
         targets: Any = None, params: Mapping[str, Mapping[str, Any]] | None = None, preprocess: Any = None,
         labels: Any = None, controls: bool = True, max_minutes: float | None = None,
         reliability: bool | Mapping[str, Any] = True, **explain_kwargs: Any) -> Plan:
    """What :func:`benchmark` with these arguments would cost, without running it: forward passes and estimated
    seconds per method and metric (:class:`~xaihub.run.plan.Plan`; ``print`` it). It costs a few forward passes
    of the model (one timed batch). With ``max_minutes``, the budget that fits, as :func:`benchmark` would choose
    it (or an :class:`InputError` when none does).

    Arguments as for :func:`benchmark` (``budget=``, ``samples=``, ``ids=``, ``output=``, ``device=`` too; those
    that only matter to the run, such as ``out`` or ``seed``, are accepted and change nothing).

    :raises InputError: for an argument :func:`benchmark` does not take.
    """
    unknown = sorted(set(explain_kwargs) - set(inspect.signature(benchmark).parameters) - set(_PLANNED_KWARGS)
                     - set(inspect.signature(explain_many).parameters))
    if unknown:
        raise InputError(f"plan got unknown argument(s) {unknown}; it takes benchmark's")
    images, image = first_readable(images, ids=explain_kwargs.get("ids"))
    adapter, methods, metrics = _setup(model, image, methods, metrics, masks, preprocess, labels, controls,
                                       explain_kwargs.pop("families", DEFAULT_FAMILIES), explain_kwargs)
    return fitted_plan(adapter, image, methods, metrics, params, explain_kwargs.get("budget"),
                       explain_kwargs.get("samples"), max_minutes,
                       images=_image_count(images, explain_kwargs.get("ids")), targets=target_count(targets),
                       masks=masks is not None, reliability=reliability)[0]


_PLANNED_KWARGS = ("budget", "samples", "ids", "output", "device")


def _setup(model: Any, image: np.ndarray, methods: Sequence[str] | None, metrics: Any, masks: Any, preprocess: Any,
           labels: Any, controls: bool, families: Sequence[str] | str,
           explain_kwargs: Mapping[str, Any]) -> tuple[ModelAdapter, list[str], Any]:
    """The model's adapter (having scored ``image`` once), the methods and the metrics a benchmark runs."""
    adapter = adapt(model, ModelOptions(preprocess=preprocess, labels=labels,
                                        **{k: explain_kwargs[k] for k in ("output", "device") if k in explain_kwargs}))
    adapter.predict(image[None])  # what check_model may read (classes, output kind) is known, as in explain
    if metrics is None:
        metrics = default_metrics(adapter, masks is not None)
    methods = (list(methods) if methods is not None
               else default_methods(adapter, image, families, controls=controls and bool(metrics)))
    return adapter, methods, metrics


def method_params(methods: Sequence[str], params: Mapping[str, Mapping[str, Any]] | None, budget: str | None,
                  samples: int | None) -> dict[str, dict[str, Any]]:
    """Each method's parameters in a benchmark: its :data:`BUDGETS` (replaced, for sampling methods, by ``budget``
    or ``samples`` when given), under the user's ``params``."""
    own = {m: dict(BUDGETS.get(m, {})) for m in methods}
    if budget is not None or samples is not None:  # the budget asked replaces the benchmark's for sampling methods
        own = {m: {} if _samples_parameter(m) else values for m, values in own.items()}
    budgets = budgeted({m: {**own[m], **(params or {}).get(m, {})} for m in methods}, methods, budget, samples)
    return {m: dict(values) for m, values in budgets.items() if values}


def fitted_plan(adapter: ModelAdapter, image: np.ndarray, methods: Sequence[str], metrics: Any,
                params: Mapping[str, Mapping[str, Any]] | None, budget: str | None, samples: int | None,
                max_minutes: float | None, *, images: int | None, targets: int, masks: bool = False,
                reliability: bool | Mapping[str, Any] = False,
                recorded: Mapping[str, Any] | None = None) -> tuple[Plan, dict[str, dict[str, Any]]]:
    """The plan of the run and each method's parameters; with ``max_minutes``, for the largest budget that fits
    (see :func:`benchmark`).

    :param recorded: the parameters a run directory recorded per method (``run.json``): those methods keep them,
        so that a run ``max_minutes`` stopped resumes with the budget it started with, whatever the new timing.

    :raises InputError: when ``max_minutes`` is not a positive number, or even the smallest budget does not fit.
    """
    if max_minutes is not None and (isinstance(max_minutes, bool) or not isinstance(max_minutes, (int, float))
                                    or not max_minutes > 0):
        raise InputError(f"max_minutes must be a positive number of minutes, got {max_minutes!r}")
    requests = check_metrics(metrics, per_image=("mask",) if masks else ())
    per_pass = seconds_per_pass(adapter, image)

    reliability_passes = _reliability_passes(methods, requests, images, reliability) if reliability else 0
    checks = {"reliability check": reliability_passes} if reliability_passes else {}

    kept = {m: dict(values) for m, values in (recorded or {}).items() if m in methods and isinstance(values, Mapping)}

    def plan_for(chosen: dict[str, dict[str, Any]], named: str | None) -> tuple[Plan, dict[str, dict[str, Any]]]:
        chosen = {**chosen, **{m: values for m, values in kept.items() if values}}
        chosen = {m: values for m, values in chosen.items() if m not in kept or kept[m]}
        planned = make_plan(methods, chosen, requests, images, targets, per_pass, budget=named)
        if kept:
            planned.notes.append(f"resuming: {', '.join(kept)} keep the parameters recorded in the run directory")
        planned.extra.update(checks)
        return planned, chosen

    first = plan_for(method_params(methods, params, budget, samples), budget or _samples_name(samples))
    if max_minutes is None or first[0].seconds <= max_minutes * 60:
        return first
    smallest, chosen = first
    for rung in _lower_rungs(budget, samples):
        lowered = method_params(methods, params, *rung)
        chosen = {m: _cheaper(m, lowered.get(m, {}), chosen.get(m, {}), targets) for m in methods}
        smallest, chosen = plan_for({m: v for m, v in chosen.items() if v}, rung[0] or _samples_name(rung[1]))
        if smallest.seconds <= max_minutes * 60:
            smallest.notes.append(f"budget lowered to {smallest.budget} to fit {max_minutes:g} min (as asked: about "
                                  f"{first[0].seconds / 60:.1f} min); a method whose own budget was smaller keeps it")
            if smallest.unknown:
                smallest.notes.append("the fit leaves out what is unknown upfront")
            return smallest, chosen
    costly = sorted(smallest.methods, key=lambda m: m.seconds or 0.0, reverse=True)[:3]
    raise InputError(f"the run is estimated at {smallest.seconds / 60:.1f} min even at the smallest budget "
                     f"({smallest.budget or 'as asked'}), over max_minutes={max_minutes:g}; cut images "
                     f"({images if images is not None else 'an unknown number'} now), methods (the costliest: "
                     f"{', '.join(f'{m.method} ~{(m.seconds or 0) * (images or 1):.0f} s' for m in costly)}) or "
                     f"metrics ({', '.join(requests) or 'none'})"
                     + "".join(f", the {name} (~{(passes or 0) * per_pass:.0f} s; reliability=False or "
                               "--no-reliability skips it)" for name, passes in smallest.extra.items())
                     + ", or raise max_minutes")


def _reliability_passes(methods: Sequence[str], requests: Mapping[str, Mapping[str, Any]], images: int | None,
                        reliability: bool | Mapping[str, Any]) -> int:
    """The forward passes of :func:`~xaihub.evaluation.reliability.check_reliability` after the run: on up to its
    ``images`` images, every method's map scored by each metric that neither reruns the method nor takes a mask,
    twice per draw (a noisy image, a shuffled map; the run's own values are the reference), and the curve ends of
    each noisy image."""
    options = reliability if isinstance(reliability, Mapping) else {}
    checked = min(images if images is not None else RELIABILITY_IMAGES, options.get("images", RELIABILITY_IMAGES))
    if len(methods) < RELIABILITY_MIN_METHODS:
        return 0
    scored = [name for name in requests if not get_metric(name).metric.reruns_method
              and "mask" not in get_metric(name).metric.required]
    own = sum(metric_cost(name, requests[name])[0] or 0 for name in scored)
    draws = options.get("draws", RELIABILITY_DRAWS)
    shared = len(set().union(*(get_metric(name).metric.shared_images(
        {**get_metric(name).metric.defaults, **requests[name]}) for name in scored)))
    return checked * (len(methods) * 2 * draws * own + (1 + draws) * shared)


def _recorded_params(out: str | os.PathLike) -> Mapping[str, Any] | None:
    """The per-method parameters ``out``'s ``run.json`` recorded, if it has any."""
    settings = read_settings(out) if os.path.isdir(out) else None
    params = (settings or {}).get("params")
    return params if isinstance(params, Mapping) else None


def _samples_name(samples: int | None) -> str | None:
    return None if samples is None else f"samples={samples}"


def _cheaper(method: str, lowered: dict[str, Any], before: dict[str, Any], targets: int) -> dict[str, Any]:
    """``lowered``, unless ``method``'s parameters ``before`` cost fewer declared passes (a lower budget never
    raises a method's samples above the benchmark's own :data:`BUDGETS`)."""
    try:
        explainer = get_method(method).explainer
        costs = [explainer.expected_forward_passes({**explainer.defaults, **p}, targets) for p in (lowered, before)]
    except (XaihubError, KeyError, TypeError, ValueError):
        return lowered
    return before if None not in costs and costs[1] < costs[0] else lowered


def _lower_rungs(budget: str | None, samples: int | None) -> list[tuple[str | None, int | None]]:
    """The budgets ``max_minutes`` tries after the one asked, largest first."""
    if samples is not None:
        return [(None, n) for n in SMALLER_SAMPLES if n < samples]
    start = LOWER_BUDGETS.index(budget) + 1 if budget in LOWER_BUDGETS else len(LOWER_BUDGETS) - 1
    return [(b, None) for b in LOWER_BUDGETS[start:]] + [(None, n) for n in SMALLER_SAMPLES]


def _image_count(images: Any, ids: Any) -> int | None:
    """How many images ``images`` holds, when it says without being read (``None`` for an iterator)."""
    if isinstance(images, Iterator):
        return None
    try:
        return image_source(images, ids).count
    except XaihubError:
        return None


def counted_passes(lines: Sequence[Mapping[str, Any]]) -> int:
    """The forward passes a run's index ``lines`` record: each (image, method)'s own once (every target's line
    carries the call's count), and every metric's on every explanation."""
    ok = [line for line in lines if line.get("status") == "ok"]
    methods = {(line["image"], line["method"]): int(line.get("forward_passes") or 0) for line in ok}
    metrics = sum(int(cost.get("forward_passes") or 0) for line in ok
                  for cost in ((line.get("extras") or {}).get("metric_costs") or {}).values())
    return sum(methods.values()) + metrics


def first_readable(images: Any, ids: Any = None) -> tuple[Any, np.ndarray]:
    """``images`` as it can still be read in full (an iterator is rebuilt from what was taken), and the first
    image that can be read, to probe the model with: an unreadable one before it fails alone in the run.

    :raises InputError: when there is no image, or none can be read (with the first one's reason).
    """
    iterator = isinstance(images, Iterator)
    items = image_source(images, ids).items
    taken: list[Any] = []
    reason = None
    for item in items:
        taken.append(item.image)
        try:
            image = to_rgb_uint8(item.image)
        except XaihubError as exc:
            reason = reason or f"{item.id!r}: {exc}"
            continue
        return (itertools.chain(taken, images) if iterator else images), image
    if not taken:
        raise InputError("benchmark needs at least one image")
    raise InputError(f"benchmark could read none of its {len(taken)} images; the first: {reason}")


def can_explain(explainer: Any, model: ModelAdapter, image: np.ndarray) -> bool:
    """Whether ``explainer`` is installed and accepts ``model`` (its ``check_model`` passes on ``image``)."""
    try:
        explainer.check_available()
        explainer.check_model(model, image)
    except MethodUnavailableError:
        return False
    return True


def _deterministic(model: ModelAdapter, image: np.ndarray) -> bool:
    """Whether ``model`` gives ``image`` the same output twice."""
    first, second = model.predict(image[None]), model.predict(image[None])
    return bool(np.allclose(first, second, rtol=1e-5, atol=1e-6))


def _metric_runs(name: str, model: ModelAdapter) -> bool:
    try:
        metric = get_metric(name).metric
        metric.check_available()
    except XaihubError:
        return False
    return metric.requires.unmet_by(model) is None
