"""The report's maps as matplotlib figures (no pyplot, so no global state): per target, the input and then
one map per method, grouped by family and wrapped into rows, with a colourbar."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from xaihub.core.errors import InputError
from xaihub.report import render
from xaihub.report.families import by_family

if TYPE_CHECKING:
    from matplotlib.figure import Figure, SubFigure

    from xaihub.core.comparison import Comparison

_CELL_INCHES = 2.2
COLUMNS = 6
"""Cells per row (the input counts as one) before a target's maps wrap."""
FORMATS = ("png", "svg", "pdf")


def comparison_figure(comparison: "Comparison", scale: str = "map", target: int | None = None,
                      columns: int = COLUMNS) -> "Figure":
    """The maps of ``target`` (default: every target, one block each) in rows of ``columns`` cells;
    failed cells show the error class, methods that refused the model "unavailable for this model"."""
    from matplotlib.figure import Figure

    targets = _targets(comparison, target)
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 2:
        raise InputError(f"columns must be an int >= 2, got {columns!r}")
    methods = [m for _, group in by_family(comparison.methods) for m in group]
    columns = min(columns, len(methods) + 1)
    rows = -(-(len(methods) + 1) // columns)
    figure = Figure(figsize=(_CELL_INCHES * columns + 1.0, (_CELL_INCHES + 0.35) * rows * len(targets)),
                    layout="constrained")
    blocks = figure.subfigures(len(targets), 1, squeeze=False)[:, 0]
    for block, shown in zip(blocks, targets):
        _block(block, comparison, shown, methods, rows, columns, scale)
    return figure


def save_figures(comparison: "Comparison", directory: str | os.PathLike, format: str = "png",
                 scale: str = "map") -> list[str]:
    """Write one figure per target, ``maps-target-<t>.<format>``, under ``directory``; return the paths.

    Each file is replaced atomically, and only when it is a regular file or missing (see :mod:`xaihub.core.files`)."""
    from xaihub.core.files import atomic_output

    if format not in FORMATS:
        raise InputError(f"format must be one of {FORMATS}, got {format!r}")
    os.makedirs(directory, exist_ok=True)
    paths = []
    for target in comparison.targets:
        path = os.path.join(directory, f"maps-target-{target}.{format}")
        with atomic_output(path) as temporary:
            comparison_figure(comparison, scale, target).savefig(temporary, format=format, dpi=100)
        paths.append(path)
    return paths


def _targets(comparison: "Comparison", target: int | None) -> list[int]:
    if target is None:
        return list(comparison.targets)
    if target not in comparison.targets:
        raise InputError(f"target {target!r} was not explained; the targets are {comparison.targets}")
    return [target]


def _block(block: "SubFigure", comparison: "Comparison", target: int, methods: list[str], rows: int,
           columns: int, scale: str) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    found = {x.method: x for x in comparison.explanations if x.target == target}
    scaled = dict(zip(found, render.scaled_maps([x.attribution for x in found.values()], scale)))
    label = comparison.labels.get(target) or f"class {target}"
    block.suptitle(f"{label} (class {target}, p = {comparison.probabilities[target]:.3f})", fontsize=11)
    axes = block.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].imshow(comparison.image)
    axes[0].set_title("input", fontsize=9)
    for ax, method in zip(axes[1:], methods):
        if method in scaled:
            ax.imshow(render.overlay(comparison.image, scaled[method]))
        else:
            failure = comparison.failure(method)
            unavailable = failure is not None and failure.unavailable
            ax.text(0.5, 0.5, "unavailable\nfor this model" if unavailable else f"failed\n{failure.error if failure else ''}",
                    ha="center", va="center", color="#595959" if unavailable else "#a8071a", transform=ax.transAxes)
        ax.set_title(method, fontsize=8)
    for ax in axes[len(methods) + 1:]:
        ax.set_axis_off()
    limit = max((render.robust_limit(x.attribution) for x in found.values()), default=1.0)
    span = 1.0 if scale == "map" else limit
    bar = block.colorbar(ScalarMappable(Normalize(-span, span), render.COLORMAP), ax=list(axes), shrink=0.6)
    bar.set_label("× map max" if scale == "map" else "attribution", fontsize=8)
