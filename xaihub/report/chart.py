"""The report's charts (matplotlib, no pyplot): faithfulness against cost with the Pareto front, and the
agreement between methods as a heat-map."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from xaihub.evaluation.ranking import lower_is_better, pareto_front, reference_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COSTS = {"seconds": "seconds, alone (log scale)", "forward_passes": "forward passes, alone (log scale; 0 at 0)"}
_FRONT, _POINT, _BASELINE = "#d4380d", "#1f5fa8", "#8c8c8c"
_ANNOTATED = 15
"""Up to this many methods, the agreement heat-map shows its values."""
_LABEL_POINTS = 7
_OFFSETS = [(5, 3)] + [(dx, dy) for step in range(1, 9) for dy in (12 * step, -12 * step) for dx in (5, -40, 40)]
"""Where a point's label may go, in pixels from the point: beside it first, then further up and down."""
RESOLUTION = 0.05
"""The smallest difference the chart's y axis shows for a metric whose values lie in [−1, 1] (the core AUCs,
probability drops, SRG, correlations): one step of a 20-step deletion or insertion curve (their default)."""
RELATIVE_RESOLUTION = 0.05
"""For a metric with values outside [−1, 1] (a range xaihub does not know), the smallest difference shown, as a
share of the largest |value|."""


def resolution(values: Sequence[float]) -> float:
    """The narrowest y span a chart of these metric values gets: :data:`RESOLUTION` when they lie in [−1, 1], else
    :data:`RELATIVE_RESOLUTION` × the largest |value|. Differences below it are not magnified into a full axis."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    largest = max(finite, default=0.0)
    return RESOLUTION if largest <= 1 else RELATIVE_RESOLUTION * largest


def indistinguishable(values: Sequence[float]) -> bool:
    """Whether these metric values (two or more) all lie within one :func:`resolution` of each other."""
    finite = [v for v in values if math.isfinite(v)]
    return len(finite) >= 2 and max(finite) - min(finite) < resolution(finite)


def _y_limits(values: Sequence[float]) -> tuple[float, float] | None:
    """Limits spanning :func:`resolution` around ``values`` when they span less; ``None`` to let matplotlib
    choose (they span more)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    low, high, span = min(finite), max(finite), resolution(finite)
    if high - low >= span:
        return None
    middle = (low + high) / 2
    return middle - span / 2, middle + span / 2


@dataclass(frozen=True)
class Point:
    """One method on the chart."""

    method: str
    cost: float
    value: float
    baseline: bool = False


def cost_quality_figure(points: Sequence[Point], metric: str, metric_name: str, cost: str = "seconds") -> "Figure":
    """``metric`` (y; better is up) against ``cost`` (x, log axis) for every point with finite numbers.

    The y axis never spans less than the metric's :func:`resolution`: points closer than that stay close (and
    the chart says they are indistinguishable) instead of being spread over the whole axis. The Pareto front
    of the methods (nothing is both cheaper and better) is joined by a line; baselines are
    grey crosses and the better baseline's value is a dashed line, so methods under it stand out.
    """
    from matplotlib.figure import Figure

    points = [p for p in points if math.isfinite(p.cost) and math.isfinite(p.value)]
    lower = bool(lower_is_better(metric))
    figure = Figure(figsize=(9, 5.6), layout="constrained")
    ax = figure.subplots()
    methods = [p for p in points if not p.baseline]
    front = [methods[i] for i in pareto_front([p.cost for p in methods], [p.value for p in methods], lower)]
    on_front = {p.method for p in front}
    colours = [_BASELINE if p.baseline else _FRONT if p.method in on_front else _POINT for p in points]
    for point, colour in zip(points, colours):
        ax.scatter(point.cost, point.value, s=36, color=colour, marker="x" if point.baseline else "o", zorder=3)
    if front:
        ax.step([p.cost for p in front], [p.value for p in front], where="post", color=_FRONT, linewidth=1.2,
                label="Pareto front: nothing cheaper is better")
    reference = reference_value({p.method: p.value for p in points if p.baseline},
                                [p.method for p in points if p.baseline], metric)
    if reference is not None:
        ax.axhline(reference, color=_BASELINE, linestyle="--", linewidth=1, label="better baseline")
    values = [p.value for p in points] + ([reference] if reference is not None else [])
    limits = _y_limits(values)
    if limits is not None:
        ax.set_ylim(*limits)
    if indistinguishable(values):
        ax.text(0.5, 0.03, f"all within {resolution(values):.2g}: indistinguishable at this metric's resolution",
                transform=ax.transAxes, ha="center", fontsize=8, color=_BASELINE)
    if cost == "forward_passes":
        ax.set_xscale("symlog", linthresh=1)
    else:
        ax.set_xscale("log")
    if lower:
        ax.invert_yaxis()
    ax.set_xlabel(COSTS[cost])
    ax.set_ylabel(f"{metric_name} (better is up)")
    ax.grid(True, which="major", alpha=0.3)
    if front or reference is not None:
        figure.legend(fontsize=8, loc="outside lower center", ncols=2)
    _label(figure, ax, points, colours)
    return figure


def _label(figure: "Figure", ax: Any, points: Sequence[Point], colours: Sequence[str]) -> None:
    """Name every point, each label moved to the nearest free place around it (joined to its point by a
    thin line when moved), so that crowded charts stay readable."""
    figure.draw_without_rendering()  # runs the layout, so data map to their final pixels
    placed: list[tuple[float, float, float, float]] = []
    height = _LABEL_POINTS * figure.dpi / 72 * 1.25
    for point, colour in sorted(zip(points, colours), key=lambda pc: (pc[0].cost, pc[0].value)):
        x, y = ax.transData.transform((point.cost, point.value))
        width = len(point.method) * _LABEL_POINTS * 0.6 * figure.dpi / 72
        for dx, dy in _OFFSETS:
            box = (x + dx, y + dy, x + dx + width, y + dy + height)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                break
        else:
            dx, dy = _OFFSETS[0]
            box = (x + dx, y + dy, x + dx + width, y + dy + height)
        placed.append(box)
        moved = (dx, dy) != _OFFSETS[0]
        ax.annotate(point.method, (point.cost, point.value), xytext=(dx * 72 / figure.dpi, dy * 72 / figure.dpi),
                    textcoords="offset points", fontsize=_LABEL_POINTS, color=colour,
                    arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.4, "alpha": 0.6} if moved else None)


def agreement_figure(matrix: np.ndarray, methods: Sequence[str]) -> "Figure":
    """The methods × methods agreement matrix as a heat-map (−1 pink … +1 green), values written in
    when there are few methods; sized so that every name stays readable."""
    from matplotlib.figure import Figure

    from xaihub.report.render import COLORMAP

    size = max(4.0, 0.22 * len(methods) + 2.5)
    figure = Figure(figsize=(size + 1.2, size), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(matrix, cmap=COLORMAP, vmin=-1, vmax=1)
    ax.set_xticks(range(len(methods)), methods, rotation=90, fontsize=7)
    ax.set_yticks(range(len(methods)), methods, fontsize=7)
    if len(methods) <= _ANNOTATED:
        for (i, j), value in np.ndenumerate(matrix):
            text = "n/a" if np.isnan(value) else f"{value:+.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="#fff" if abs(value) > 0.7 else "#222")
    figure.colorbar(image, ax=ax, shrink=0.6, label="Spearman ρ")
    return figure
