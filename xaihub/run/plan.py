"""The cost of a run before it runs: forward passes and an estimated time, per method and per metric.

Each method declares the forward passes a call takes (:meth:`~xaihub.Explainer.expected_forward_passes`; for an
adaptive method, its ceiling), each metric those it takes per explanation
(:meth:`~xaihub.contracts.metric.Metric.expected_forward_passes`) and the reruns of the method it makes
(:meth:`~xaihub.contracts.metric.Metric.expected_reruns`: the randomisation check runs the method once more per
image). The plan multiplies them by the images and targets, and turns passes into seconds with one timed batched
forward pass of the model at its input size (:func:`seconds_per_pass`); a gradient pass counts
:data:`GRADIENT_FACTOR` forward passes' time. Other work the caller plans (:func:`xaihub.benchmark`'s reliability
check) is added as :attr:`Plan.extra`. The estimate is the forward passes' floor: segmentation, surrogate fits
and Python overhead are not in it (on a tiny model they are most of the time), which is why a run's summary puts
the actual time beside it. What a method or metric cannot declare is named, never guessed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from xaihub.contracts.explainer import GRADIENTS
from xaihub.core.errors import XaihubError
from xaihub.registry.plugins import get_method, get_metric

if TYPE_CHECKING:
    import numpy as np

    from xaihub.models import ModelAdapter

GRADIENT_FACTOR = 3.0
"""A gradient (a forward and a backward pass, one image at a time more often than batched) takes about three
batched forward passes' time."""
TIMED_BATCH = 8
"""Images in the one batch :func:`seconds_per_pass` times (fewer when the adapter batches fewer)."""
UNKNOWN = "unknown upfront (left out of the total; the run times them: see the summary's seconds per method)"


def seconds_per_pass(model: "ModelAdapter", image: "np.ndarray") -> float:
    """Seconds one image takes through ``model``: the faster of two timed batches of copies of ``image``, after
    one untimed batch of the same size (lazy initialisation and the framework's first-call set-up are not
    counted). Its passes are counted as the model's."""
    import numpy as np

    batch = np.repeat(image[None], max(1, min(TIMED_BATCH, model.images_per_batch(*image.shape[:2]))), axis=0)
    model.predict(batch)
    timings = []
    for _ in range(2):
        start = time.perf_counter()
        model.predict(batch)
        timings.append(time.perf_counter() - start)
    return min(timings) / len(batch)


def target_count(targets: Any) -> int:
    """How many targets each image is explained for: 1 for ``None``, an index, a per-image mapping or
    ``"true_labels"``; ``k`` for ``"top-k"``; the length of a list."""
    if isinstance(targets, str):
        top = re.fullmatch(r"top-(\d+)", targets.strip())
        return int(top[1]) if top else 1
    if isinstance(targets, (list, tuple)):
        return max(1, len(targets))
    return 1


@dataclass
class MethodCost:
    """One method's part of a :class:`Plan`, per image (all its targets)."""

    method: str
    passes: int | None
    """The method's own forward passes (``None``: it cannot tell upfront)."""
    metric_passes: int | None
    """The metrics' forward passes on its explanations, with the method's reruns (of the metrics and reruns that
    are known; ``None`` when none is)."""
    seconds: float | None
    """Estimated seconds, method and metrics."""
    gradients: bool = False


@dataclass
class Plan:
    """What a run will cost, computed before any method runs (:func:`xaihub.plan`, ``xaihub benchmark --plan``).

    ``str(plan)`` is a short table: per method its own and its metrics' forward passes and their estimated seconds;
    per metric its passes over the run, per explanation and their seconds; the :attr:`extra` work; the total; what
    is unknown upfront; the notes (a lowered budget); after a run, the estimate against the actual.
    """

    methods: list[MethodCost]
    metrics: dict[str, int | None]
    """Each metric's forward passes per explanation (its own, without reruns)."""
    reruns: dict[str, int | None]
    """Each metric's runs of the method per image."""
    images: int | None
    """Images to explain (``None`` when the source does not say: the totals are then per image)."""
    targets: int
    seconds_per_pass: float
    notes: list[str] = field(default_factory=list)
    """What was decided to fit (``budget lowered to fast to fit 15 min``) and what the estimate leaves out."""
    budget: str | None = None
    """The sample budget the plan is for: ``"fast"``, ``"default"``, ``"thorough"``, ``"samples=N"`` or ``None``
    (each method's own or the benchmark's)."""
    extra: dict[str, int | None] = field(default_factory=dict)
    """Forward passes of work besides the methods and their metrics (``{"reliability check": 2790}``), in the
    totals."""
    shared: int = 0
    """Forward passes per image that every map of the image shares (curve endpoints:
    :meth:`~xaihub.contracts.metric.Metric.shared_images`)."""
    actual_seconds: float | None = None
    """After the run: the seconds it took (:meth:`comparison`)."""
    actual_passes: int | None = None

    @property
    def unknown(self) -> list[str]:
        """Methods and metrics whose cost is unknown upfront (the totals leave them out)."""
        return ([m.method for m in self.methods if m.passes is None]
                + [f"metric {name}" for name, passes in self.metrics.items() if passes is None]
                + [f"metric {name}'s reruns" for name, runs in self.reruns.items() if runs is None]
                + [name for name, passes in self.extra.items() if passes is None])

    @property
    def run_passes(self) -> int:
        """Forward passes of the methods and metrics whose cost is known, over every image (what the run directory
        records: :attr:`actual_passes` is compared with it)."""
        return (sum((m.passes or 0) + (m.metric_passes or 0) for m in self.methods) + self.shared) * (self.images or 1)

    @property
    def forward_passes(self) -> int:
        """:attr:`run_passes` and the :attr:`extra` work's."""
        return self.run_passes + sum(passes or 0 for passes in self.extra.values())

    @property
    def seconds(self) -> float:
        """Estimated seconds of what is known, over every image, and of the :attr:`extra` work."""
        extra = sum(passes or 0 for passes in self.extra.values()) * self.seconds_per_pass
        shared = self.shared * (self.images or 1) * self.seconds_per_pass
        return sum(m.seconds or 0.0 for m in self.methods) * (self.images or 1) + extra + shared

    def metric_rows(self) -> list[tuple[str, str, int | None, float | None]]:
        """Per metric: its passes per explanation (``"42"``; ``"0 +1 run"``: and one run of the method per image) as
        text, its forward passes over the run and their estimated seconds (``None`` when unknown); the methods' rows
        include them."""
        rows = []
        images = self.images or 1
        for name, own in self.metrics.items():
            runs = self.reruns.get(name) or 0
            each = ("?" if own is None else str(own)) + (f" +{runs} run" if runs else "")
            if own is None:
                rows.append((name, each, None, None))
                continue
            reruns = [(m.passes or 0) * runs * (GRADIENT_FACTOR if m.gradients else 1.0) for m in self.methods]
            passes = (own * self.targets * len(self.methods) + sum((m.passes or 0) * runs for m in self.methods)) * images
            seconds = (own * self.targets * len(self.methods) + sum(reruns)) * images * self.seconds_per_pass
            rows.append((name, each, passes, seconds))
        return rows

    def comparison(self) -> str:
        """Estimate against the actual run, once :attr:`actual_seconds` is set."""
        if self.actual_seconds is None:
            return ""
        ratio = self.actual_seconds / self.seconds if self.seconds > 0 else float("nan")
        passes = (f"; {self.actual_passes} forward passes counted in the run directory against {self.run_passes} "
                  "planned"
                  if self.actual_passes is not None else "")
        return (f"estimate {_duration(self.seconds)}, actual {_duration(self.actual_seconds)} "
                f"({ratio:.2f}× the estimate){passes}")

    def __str__(self) -> str:
        scope = f"{self.images} images" if self.images is not None else "per image"
        lines = [f"Plan: {len(self.methods)} methods × {scope} × {self.targets} target(s)"
                 f"{f', budget {self.budget}' if self.budget else ''}; one forward pass "
                 f"{self.seconds_per_pass * 1000:.1f} ms (a gradient counts {GRADIENT_FACTOR:g})",
                 f"  {'method':32} {'passes':>9} {'metrics':>9} {'est. s':>9}"]
        images = self.images or 1
        for m in self.methods:
            own = "?" if m.passes is None else str(m.passes * images)
            metric = "?" if m.metric_passes is None else str(m.metric_passes * images)
            seconds = "?" if m.seconds is None else f"{m.seconds * images:.1f}"
            lines.append(f"  {m.method:32} {own:>9} {metric:>9} {seconds:>9}")
        if self.metrics:
            lines.append(f"  {'metric':32} {'passes':>9} {'each':>9} {'est. s':>9}")
            for name, each, passes, seconds in self.metric_rows():
                lines.append(f"  {name:32} {'?' if passes is None else passes:>9} {each:>9} "
                             f"{'?' if seconds is None else f'{seconds:.1f}':>9}")
        if self.shared:
            passes = self.shared * (self.images or 1)
            lines.append(f"  {'curve ends (once per image)':32} {passes:>9} {self.shared:>9} "
                         f"{passes * self.seconds_per_pass:>9.1f}")
        for name, passes in self.extra.items():
            seconds = "?" if passes is None else f"{passes * self.seconds_per_pass:.1f}"
            lines.append(f"  {name:32} {'?' if passes is None else passes:>9} {'':>9} {seconds:>9}")
        lines.append(f"  total: {self.forward_passes} forward passes, about {_duration(self.seconds)}")
        if self.unknown:
            lines.append(f"  {UNKNOWN}: {', '.join(self.unknown)}")
        lines += [f"  note: {note}" for note in self.notes]
        if self.actual_seconds is not None:
            lines.append(f"  {self.comparison()}")
        return "\n".join(lines)


def method_cost(method: str, params: Mapping[str, Any], metrics: Mapping[str, Mapping[str, Any]], targets: int,
                seconds_per_pass: float) -> MethodCost:
    """:class:`MethodCost` of ``method`` with the user's ``params`` for ``targets`` targets per image."""
    try:
        explainer = get_method(method).explainer
    except XaihubError:
        return MethodCost(method, None, None, None)
    used = {**explainer.defaults, **params}
    try:
        passes = explainer.expected_forward_passes(used, targets)
    except (KeyError, TypeError, ValueError):
        passes = None
    own_passes = reruns = 0
    for name, values in metrics.items():
        own, runs = metric_cost(name, values)
        own_passes += (own or 0) * targets
        reruns += (runs or 0) * (passes or 0)
    gradients = explainer.requires.kind == GRADIENTS
    factor = GRADIENT_FACTOR if gradients else 1.0
    seconds = None if passes is None else ((passes + reruns) * factor + own_passes) * seconds_per_pass
    metric_passes = None if passes is None and own_passes == 0 else own_passes + reruns
    return MethodCost(method, passes, metric_passes, seconds, gradients)


def metric_cost(name: str, params: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """A metric's own forward passes per explanation and its reruns of the method per image."""
    metric = get_metric(name).metric
    used = {**metric.defaults, **{k: v for k, v in params.items() if k in metric.defaults}}
    return metric.expected_forward_passes(used), metric.expected_reruns(used)


def make_plan(methods: Sequence[str], params: Mapping[str, Mapping[str, Any]],
              metrics: Mapping[str, Mapping[str, Any]], images: int | None, targets: int, seconds_per_pass: float,
              budget: str | None = None) -> Plan:
    """The :class:`Plan` of ``methods`` (with their ``params``, the budget applied) and ``metrics`` over
    ``images`` images of ``targets`` targets each, at ``seconds_per_pass`` seconds per forward pass."""
    costs = [method_cost(m, params.get(m, {}), metrics, targets, seconds_per_pass) for m in methods]
    declared = {name: metric_cost(name, values) for name, values in metrics.items()}
    shared = set().union(*(_shared_images(name, values) for name, values in metrics.items()))
    return Plan(costs, {name: own for name, (own, _) in declared.items()},
                {name: runs for name, (_, runs) in declared.items()}, images, targets, seconds_per_pass, budget=budget,
                shared=len(shared))


def _shared_images(name: str, params: Mapping[str, Any]) -> frozenset[str]:
    metric = get_metric(name).metric
    return metric.shared_images({**metric.defaults, **{k: v for k, v in params.items() if k in metric.defaults}})


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
