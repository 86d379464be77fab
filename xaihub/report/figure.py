"""The report's grid of maps as a matplotlib ``Figure`` (no pyplot, so no global state)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xaihub.report import render

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from xaihub.comparison import Comparison

_CELL_INCHES = 2.2


def comparison_figure(comparison: "Comparison", scale: str = "map") -> "Figure":
    """Rows: targets; columns: the input image then one map per method (as in the HTML report),
    with a colourbar per row. Failed cells show the error class."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    methods, targets = comparison.methods, comparison.targets
    figure = Figure(figsize=(_CELL_INCHES * (len(methods) + 1.4), _CELL_INCHES * len(targets) + 0.4),
                    layout="constrained")
    axes = figure.subplots(len(targets), len(methods) + 1, squeeze=False)
    for row, target in enumerate(targets):
        found = {e.method: e for e in comparison.explanations if e.target == target}
        scaled = dict(zip(found, render.scaled_maps([e.attribution for e in found.values()], scale)))
        label = comparison.labels.get(target) or f"class {target}"
        axes[row, 0].imshow(comparison.image)
        axes[row, 0].set_ylabel(f"{label}\np = {comparison.probabilities[target]:.3f}", fontsize=9)
        for column, method in enumerate(methods, 1):
            ax = axes[row, column]
            if method in scaled:
                ax.imshow(render.overlay(comparison.image, scaled[method]))
            else:
                failure = comparison.failure(method)
                ax.text(0.5, 0.5, f"failed\n{failure.error if failure else ''}", ha="center", va="center",
                        color="#a8071a", transform=ax.transAxes)
            if row == 0:
                ax.set_title(method, fontsize=9)
        limit = max((render.robust_limit(e.attribution) for e in found.values()), default=1.0)
        span = 1.0 if scale == "map" else limit
        bar = figure.colorbar(ScalarMappable(Normalize(-span, span), render.COLORMAP), ax=axes[row, :], shrink=0.8)
        bar.set_label("× map max" if scale == "map" else "attribution", fontsize=8)
    axes[0, 0].set_title("input", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    return figure
