"""The verdict as HTML: a scorecard (one row per method: aggregated rank with its interval, chance of being best,
rank on each criterion, the randomisation and control gates, what was wrong with it), the verdict in sentences,
and each metric's reliability on the model."""

from __future__ import annotations

import math
from html import escape

from xaihub.evaluation.criteria import BY_NAME
from xaihub.evaluation.recommendation import Recommendation


def verdict_section(found: Recommendation) -> str:
    """The ``<section class='recommendation'>`` of a report for ``found``."""
    items = "".join(f"<li>{escape(line)}</li>" for line in found.lines())
    return (f"<section class='recommendation' data-metric='{escape(found.metric)}' "
            f"data-recommended='{escape(' '.join(found.recommended))}'><h2>Recommendation</h2>"
            f"{scorecard(found)}<ul>{items}</ul>{reliability_table(found)}"
            "<p class='note'>Gates, in order: a degenerate map is not ranked; an unreliable metric does not vote, nor "
            "does a faithfulness metric on which the random map out-ranks most methods; a "
            "method whose map changes no more than a control's when the weights are randomised fails; a method must "
            "beat the best control on its per-image faithfulness ranks (a paired Wilcoxon test, Holm-corrected, "
            "once there are enough images). Survivors are ordered by the rank aggregated over the criteria, with a "
            "bootstrap interval over images.</p></section>")


def scorecard(found: Recommendation) -> str:
    """One row per method: the aggregated rank and each gate and criterion."""
    aggregation = found.aggregation
    if aggregation is None or not aggregation.overall:
        return ""
    criteria = list(aggregation.criterion_ranks)
    head = "".join(f"<th title='{escape(BY_NAME[c].question)}'>{escape(c)} rank</th>" for c in criteria)
    rows = []
    for method, rank in aggregation.overall.items():
        if method in found.recommended:
            word = "best supported" if found.missing else "recommended"
            gate = f"{word} #{found.recommended.index(method) + 1}"
        elif method in found.fails_sanity:
            gate = "fails randomisation"
        elif method in found.below_baselines:
            gate = f"does not beat {found.baseline}"
        else:
            gate = "control" if method in found.controls else ""
        if method in found.degenerate:
            gate += f" (degenerate: {found.degenerate[method]})"
        cells = "".join(f"<td>{_rank(aggregation.criterion_ranks[c].get(method))}</td>" for c in criteria)
        p_best = "" if math.isnan(rank.p_best) else f"{rank.p_best:.0%}"
        rows.append(f"<tr><th>{escape(method)}</th><td>{escape(str(rank))}</td><td>{p_best}</td>{cells}"
                    f"<td>{escape(gate)}</td></tr>")
    rows += [f"<tr class='unranked'><th>{escape(m)}</th><td colspan='{len(criteria) + 3}'>not ranked: "
             f"{escape(why)}</td></tr>" for m, why in {**found.degenerate, **found.uncovered}.items()
             if m not in aggregation.overall]
    return ("<table class='scorecard'><thead><tr><th>method</th><th>aggregated rank [95% interval]</th>"
            f"<th>P(best)</th>{head}<th>verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def reliability_table(found: Recommendation) -> str:
    """Each checked metric value's resilience and reactivity on this model."""
    if not found.reliability:
        return ""
    rows = "".join(f"<tr><th>{escape(name)}</th><td>{r.resilience:.2f}</td><td>{r.reactivity:.2f}</td>"
                   f"<td>{'reliable' if r.reliable else escape('unreliable: ' + r.reason)}</td></tr>"
                   for name, r in found.reliability.items())
    return ("<h3>Metric reliability on this model</h3><table class='reliability'><thead><tr><th>metric</th>"
            "<th>resilience</th><th>reactivity</th><th></th></tr></thead>"
            f"<tbody>{rows}</tbody></table><p class='note'>Resilience: Kendall's τ between the methods' ranking "
            "before and after a small noise on the image; reactivity: 1 − τ when every map is shuffled "
            "(MetaQuantus, Hedström et al. 2023). Both must reach 0.6.</p>")


def _rank(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"
