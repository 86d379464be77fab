"""What scoring the maps cost, per method and criterion (faithfulness, randomisation, robustness, ...), read from
the ``extras["metric_costs"]`` every explanation records (``{metric: {"seconds", "forward_passes"}}``); the
randomisation column is what the sanity checks' reruns of the method on a randomised model cost."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Any, Iterable, Sequence

from xaihub.evaluation.criteria import CRITERIA, criterion_of_metric

OTHER = "other"
"""The column of metrics no criterion ranks by."""


@dataclass
class Cost:
    """Seconds and forward passes summed over explanations."""

    seconds: float = 0.0
    forward_passes: int = 0

    def add(self, cost: Any) -> None:
        """Add a recorded ``{"seconds", "forward_passes"}`` (or another :class:`Cost`); a missing number adds 0."""
        if isinstance(cost, Cost):
            cost = {"seconds": cost.seconds, "forward_passes": cost.forward_passes}
        if isinstance(cost, dict):
            self.seconds += _number(cost.get("seconds"))
            self.forward_passes += int(_number(cost.get("forward_passes")))

    def __str__(self) -> str:
        return f"{self.seconds:.3g} s · {self.forward_passes} pass{'' if self.forward_passes == 1 else 'es'}"


def criterion_costs(lines: Iterable[dict[str, Any]]) -> dict[str, dict[str, Cost]]:
    """``{method: {criterion: Cost}}`` summed over the explanations among index-like ``lines`` (an index's, or
    :func:`xaihub.evaluation.recommendation.comparison_lines`); a metric no criterion ranks by counts under
    :data:`OTHER`. Methods without any metric cost are left out."""
    found: dict[str, dict[str, Cost]] = {}
    for line in lines:
        costs = (line.get("extras") or {}).get("metric_costs") if line.get("status") == "ok" else None
        if not isinstance(costs, dict) or not costs:
            continue
        per_method = found.setdefault(str(line.get("method")), {})
        for metric, cost in costs.items():
            per_method.setdefault(criterion_of_metric(str(metric)) or OTHER, Cost()).add(cost)
    return found


def criterion_cost_table(lines: Sequence[dict[str, Any]], methods: Sequence[str], over: str) -> str:
    """The table of :func:`criterion_costs` (rows in the order of ``methods``), with a note saying it sums
    ``over`` (e.g. ``"2 targets"``); ``""`` when no metric recorded its cost."""
    costs = criterion_costs(lines)
    if not costs:
        return ""
    present = {c for per in costs.values() for c in per}
    columns = [c.name for c in CRITERIA if c.name in present] + ([OTHER] if OTHER in present else [])
    heads = "".join(f"<th>{escape(c)}{' (sanity reruns)' if c == 'randomisation' else ''}</th>" for c in columns)
    rows = []
    for method in [m for m in methods if m in costs] + [m for m in costs if m not in methods]:
        total = Cost()
        cells = []
        for criterion in columns:
            cost = costs[method].get(criterion)
            if cost is None:
                cells.append("<td></td>")
                continue
            total.add(cost)
            cells.append(f"<td data-criterion='{escape(criterion)}' data-seconds='{cost.seconds:.6g}' "
                         f"data-forward-passes='{cost.forward_passes}'>{cost}</td>")
        rows.append(f"<tr data-method='{escape(method)}'><td>{escape(method)}</td>{''.join(cells)}"
                    f"<td data-criterion='all' data-seconds='{total.seconds:.6g}' "
                    f"data-forward-passes='{total.forward_passes}'>{total}</td></tr>")
    return ("<details class='criterion-costs' open><summary>What scoring the maps cost, per criterion</summary>"
            "<div class='scroll'><table class='data criterion-costs'><tr><th>method</th>" + heads
            + "<th>all metrics</th></tr>" + "".join(rows) + "</table></div>"
            f"<p class='note'>Seconds and forward passes of the metric evaluations, summed over {escape(over)} "
            "(the methods' own costs are listed apart). Randomisation is what running each method again on a "
            "randomised model cost.</p></details>")


def _number(value: Any) -> float:
    finite = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if finite else 0.0
