"""The report's section about one image (one :class:`~xaihub.Comparison`).

Layout, meant to stay legible from 2 to 60+ methods: the input and top predictions; the verdict's scorecard, what
scoring the maps cost per criterion, and the raw metric values folded beneath; a link per target;
per target, the maps as cards (about 180 px, ``map_size``) wrapped into rows and grouped in boxes by method family,
each linked to the same map at 400 px in the large view below them (``large_maps``);
then the cost table and the faithfulness-vs-cost chart,
agreement within families and between all methods, failures, and the parameters.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Iterable

import numpy as np

from xaihub.core.comparison import UNAVAILABLE
from xaihub.core.errors import InputError
from xaihub.evaluation.ranking import is_better, lower_is_better, reference_value
from xaihub.metrics import METRICS, MetricStat, summarise
from xaihub.report import render
from xaihub.report.costs import criterion_cost_table
from xaihub.report.families import (
    BASELINE,
    DISAGREEMENT,
    FamilyAgreement,
    baselines,
    by_family,
    family_agreement,
    family_of,
    family_title,
)
from xaihub.report.tables import (
    Cell,
    baseline_note,
    flag_metrics,
    flag_text,
    folded_table,
    is_flag,
    mark,
    metric_table,
    order_note,
    ordered,
    table_size,
    value_cell,
)
from xaihub.report.text import COST_LEGEND, e, metric_heading, metric_legend, metric_name

if TYPE_CHECKING:
    from xaihub.core.agreement import Agreement
    from xaihub.core.comparison import Comparison
    from xaihub.core.explanation import Explanation

TOP_PREDICTIONS = 5
MASKED_SEGMENTS = 4
FIRST_LINE = 160
"""Characters of a failure message shown before the rest is folded away."""


@dataclass(frozen=True)
class Options:
    """How a section is drawn: the presentation options :func:`xaihub.report_many` and
    :meth:`xaihub.Comparison.report` both take (see :func:`xaihub.report_many` for each), checked here once."""

    scale: str = "map"
    coverage: float = 0.2
    map_size: int = render.MAP_WIDTH
    large_maps: int | None = render.LARGE_WIDTH
    sort_by: str | None = None
    chart_metric: str | None = None
    chart_cost: str = "seconds"

    def __post_init__(self) -> None:
        from xaihub.report.chart import COSTS

        if self.scale not in render.SCALES:
            raise InputError(f"scale must be one of {render.SCALES}, got {self.scale!r}")
        if isinstance(self.coverage, bool) or not isinstance(self.coverage, (int, float)) or not 0 < self.coverage <= 1:
            raise InputError(f"coverage must be a number in (0, 1], got {self.coverage!r}")
        low, high = MAP_SIZES
        if not _whole(self.map_size) or not low <= self.map_size <= high:
            raise InputError(f"map_size must be a whole number of CSS pixels from {low} to {high}, "
                             f"got {self.map_size!r}")
        if self.large_maps is not None and (not _whole(self.large_maps) or not low <= self.large_maps <= high):
            raise InputError(f"large_maps must be None (no large view) or a whole number of CSS pixels from {low} "
                             f"to {high}, got {self.large_maps!r}")
        if self.chart_cost not in COSTS:
            raise InputError(f"chart_cost must be one of {list(COSTS)}, got {self.chart_cost!r}")

    @classmethod
    def of(cls, options: dict[str, object]) -> "Options":
        """The options named in ``options`` (the keyword arguments of a report); an unknown name is an
        :class:`InputError` that lists the known ones."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise InputError(f"unknown report option(s) {unknown}; the options are {known}")
        return cls(**options)  # type: ignore[arg-type]


MAP_SIZES = (64, 1200)
"""The narrowest and widest map, in CSS pixels, ``map_size`` and ``large_maps`` accept."""


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def comparison_section(comparison: "Comparison", name: str = "Image", options: Options = Options(),
                       index: int = 0) -> str:
    """The report's section for one image."""
    agreement = comparison.agreement()
    families = family_agreement(comparison, agreement)
    parts = [f"<section class='comparison' data-image='{index}'><h2>{e(name)}</h2>", _input(comparison),
             _verdict(comparison, options), _notes(comparison),
             _maps(comparison, options, index, families), _costs(comparison, options),
             _chart(comparison, options), _families(families, index), _agreement(agreement, families),
             _failures(comparison), _parameters(comparison), "</section>"]
    return "".join(parts)


def _verdict(comparison: "Comparison", options: Options) -> str:
    """The verdict's scorecard for this image (its targets as the units) when faithfulness was scored, what
    scoring cost per criterion, and the raw metric values folded beneath."""
    from xaihub.evaluation.recommendation import comparison_lines, recommend
    from xaihub.report.verdict import scorecard

    lines = comparison_lines(comparison)
    found = recommend(lines, baselines(list(dict.fromkeys(str(line["method"]) for line in lines))))
    verdict = ""
    if found is not None:
        said = "".join(f"<li>{e(line)}</li>" for line in found.lines())
        verdict = (f"<div class='verdict' data-recommended='{e(' '.join(found.recommended))}'><h3>Verdict on this "
                   f"image</h3>{scorecard(found)}<ul>{said}</ul><p class='note'>One image: each explained target is "
                   "a unit of the ranks; run <code>xaihub.benchmark</code> over many images for a verdict that can "
                   "be tested.</p></div>")
    targets = len(comparison.targets)
    return (verdict + criterion_cost_table(lines, comparison.methods, f"{targets} target(s)")
            + _raw_metrics(comparison, options))


def _notes(comparison: "Comparison") -> str:
    """What xaihub decided about the model (which output it read, a resize, ...)."""
    if not comparison.notes:
        return ""
    return "<ul class='note model-notes'>" + "".join(f"<li>{e(note)}</li>" for note in comparison.notes) + "</ul>"


def _input(comparison: "Comparison") -> str:
    order = np.argsort(-comparison.probabilities, kind="stable")[:TOP_PREDICTIONS]
    rows = []
    for rank, k in enumerate(order, 1):
        p = float(comparison.probabilities[k])
        marker = " class='explained'" if int(k) in comparison.targets else ""
        rows.append(f"<tr{marker}><td>{rank}</td><td>{int(k)}</td><td>{e(_label(comparison, int(k)))}</td>"
                    f"<td>{p:.3f}</td><td><span class='bar' style='width:{p * 150:.0f}px'></span></td></tr>")
    picture = render.photo(comparison.image, render.INPUT_WIDTH).img("input image", "data-role='input'")
    return (f"<div class='input'>{picture}"
            "<div><b>Top predictions</b> (explained targets highlighted)<table class='data predictions'>"
            "<tr><th>#</th><th>class</th><th>label</th><th>probability</th><th></th></tr>"
            + "".join(rows) + "</table></div></div>")


def _maps(comparison: "Comparison", options: Options, index: int, agreements: list[FamilyAgreement]) -> str:
    links = " ".join(f"<a href='#{_anchor(index, t)}'>{e(_label(comparison, t))} <small>(class {t}, "
                     f"p = {comparison.probabilities[t]:.3f})</small></a>" for t in comparison.targets)
    groups = by_family(comparison.methods)
    flags = {a.family: a for a in agreements}
    scaled = {t: _scaled(comparison, t, options.scale) for t in comparison.targets}
    targets = "".join(_target(comparison, target, options, index, groups, flags, scaled[target])
                      for target in comparison.targets)
    large = ""
    if options.large_maps is not None and comparison.explanations:
        large = ("<h3>Large maps</h3><p class='note'>Every map again at "
                 f"{options.large_maps} px, for the speckled ones (gradients, SHAP); a click on a small map leads "
                 "here, a click on a large one leads back.</p>"
                 + "".join(_large(comparison, target, options, index, groups, scaled[target])
                           for target in comparison.targets))
    return (f"<h3>Attribution maps</h3><nav class='targets'>Targets: {links}</nav>"
            f"<p class='note'>Methods are grouped by family (what they compute); "
            f"{len(comparison.methods)} method(s) in {len(groups)} group(s)"
            f"{'; a click on a map shows it larger' if large else ''}.</p>{targets}{large}")


def _scaled(comparison: "Comparison", target: int, scale: str) -> tuple[dict[str, "Explanation"],
                                                                          dict[str, np.ndarray], float]:
    """A target's explanations by method, their maps scaled for colouring, and the largest colour limit."""
    found = {x.method: x for x in comparison.explanations if x.target == target}
    scaled = dict(zip(found, render.scaled_maps([x.attribution for x in found.values()], scale)))
    limit = max((render.robust_limit(x.attribution) for x in found.values()), default=1.0)
    return found, scaled, limit


def _target(comparison: "Comparison", target: int, options: Options, index: int,
            groups: list[tuple[str, list[str]]], flags: dict[str, FamilyAgreement],
            maps: tuple[dict[str, "Explanation"], dict[str, np.ndarray], float]) -> str:
    found, scaled, limit = maps
    references = _references(found.values())
    boxes = []
    for family, methods in groups:
        flag = flags.get(family)
        cards = "".join(_card(comparison, method, target, found.get(method), scaled.get(method), options,
                              references, index) for method in methods)
        boxes.append(f"<section class='family{' disagrees' if flag and flag.disagrees else ''}' "
                     f"data-family='{e(family)}'><h4>{e(family_title(family))}{_flag(flag, index)}</h4>"
                     f"<div class='cards'>{cards}</div></section>")
    return (f"<details class='target-maps' id='{_anchor(index, target)}' data-target='{target}' open><summary>"
            f"{_heading(comparison, target)}</summary>"
            f"{_legend(options.scale, limit)}<div class='families'>{''.join(boxes)}</div></details>")


def _large(comparison: "Comparison", target: int, options: Options, index: int, groups: list[tuple[str, list[str]]],
           maps: tuple[dict[str, "Explanation"], dict[str, np.ndarray], float]) -> str:
    """The large view of one target's maps: each at ``options.large_maps`` CSS pixels, linked to its card."""
    found, scaled, limit = maps
    width = options.large_maps or render.LARGE_WIDTH
    figures = []
    for method in (m for _, methods in groups for m in methods if m in scaled):
        where = _map_anchor(comparison, index, target, method)
        picture = render.photo(render.overlay(comparison.image, scaled[method]), width, render.LARGE_DENSITY,
                               render.LARGE_QUALITY).img(f"{method} map for {_label(comparison, target)}, large",
                                                         "class='map large'")
        figures.append(f"<figure class='large' id='{where}-large' data-large-method='{e(method)}' "
                       f"data-large-target='{target}' style='width:{width}px'>"
                       f"<a href='#{where}'>{picture}</a><figcaption>{e(method)} "
                       f"<small>({e(family_title(family_of(method)))})</small></figcaption></figure>")
    return (f"<section class='large-maps' id='{_anchor(index, target)}-large' data-target='{target}'>"
            f"<h4>{_heading(comparison, target)}</h4>"
            f"{_legend(options.scale, limit)}<div class='large-cards'>{''.join(figures)}</div></section>")


def _heading(comparison: "Comparison", target: int) -> str:
    """A target's heading: its label, class and probability."""
    return (f"{e(_label(comparison, target))} <small>class {target}, "
            f"p = {float(comparison.probabilities[target]):.3f}</small>")


def _flag(agreement: FamilyAgreement | None, index: int) -> str:
    if agreement is None or math.isnan(agreement.mean):
        return ""
    verdict = "implementations disagree" if agreement.disagrees else "implementations agree"
    kind = "agree disagree" if agreement.disagrees else "agree"
    return (f" <a class='{kind}' href='#{_families_anchor(index)}'>· {verdict}: "
            f"mean ρ = {agreement.mean:+.2f}</a>")


def _legend(scale: str, limit: float) -> str:
    bar = render.colour_scale(200, 12, horizontal=True).img("colour scale", "class='colourbar'")
    low, high = ("−1 × map max", "+1 × map max") if scale == "map" else (f"−{limit:.3g}", f"+{limit:.3g}")
    return (f"<div class='legend'><span>{e(low)}</span>{bar}<span>{e(high)}</span><span>(green supports the class, "
            "pink speaks against it)</span></div>")


def _card(comparison: "Comparison", method: str, target: int, explanation: "Explanation | None",
          values: np.ndarray | None, options: Options, references: dict[str, float], index: int = 0) -> str:
    where = f"data-method='{e(method)}' data-target='{target}'"
    sized = "" if options.map_size == render.MAP_WIDTH else f" style='width:{options.map_size}px'"
    if explanation is None:
        failures = [f for f in comparison.failures if f.method == method and f.target in (None, target)]
        message = "\n".join(f"{f.error}: {f.message}" for f in failures) or "no explanation"
        if failures and all(f.unavailable for f in failures):
            reason = "\n".join(f.message for f in failures)
            return (f"<figure class='card unavailable' {where} data-status='unavailable'{sized}><figcaption>"
                    f"{e(method)}</figcaption><b>{UNAVAILABLE}</b> {folded(reason)}</figure>")
        return (f"<figure class='card failed' {where} data-status='failed'{sized}><figcaption>{e(method)}</figcaption>"
                f"<b>failed</b> {folded(message)}</figure>")
    alt = f"{method} map for {_label(comparison, target)}"
    anchor = _map_anchor(comparison, index, target, method)
    picture = render.photo(render.overlay(comparison.image, values), options.map_size).img(alt, "class='map'")
    if options.large_maps is not None:
        picture = f"<a href='#{anchor}-large' title='larger map'>{picture}</a>"
    return (f"<figure class='card' id='{anchor}' {where} data-status='ok'{sized}><figcaption>{e(method)}</figcaption>"
            f"{picture}{_segment_views(explanation, options.coverage)}"
            f"{_stats(explanation, references)}</figure>")


def folded(message: str) -> str:
    """A message's first line (cut at :data:`FIRST_LINE` characters), the whole message folded beneath it."""
    first = message.strip().splitlines()[0] if message.strip() else message
    shown = first if len(first) <= FIRST_LINE else first[:FIRST_LINE] + "…"
    if shown == message.strip():
        return f"<span class='message'>{e(shown)}</span>"
    return (f"<span class='message'>{e(shown)}</span><details><summary>whole message</summary>"
            f"<pre>{e(message)}</pre></details>")


def _segment_views(explanation: "Explanation", coverage: float) -> str:
    if explanation.segments is None or explanation.segment_weights is None:
        return ""
    views = [(render.drawing(explanation.superpixel_view(coverage), render.VIEW_WIDTH),
              f"top {coverage:.0%} superpixels"),
             (render.photo(explanation.masked_image(MASKED_SEGMENTS), render.VIEW_WIDTH), f"top {MASKED_SEGMENTS} kept")]
    return "<div class='views'>" + "".join(
        f"<figure>{picture.img(caption)}<figcaption>{e(caption)}</figcaption></figure>"
        for picture, caption in views) + "</div>"


def _references(explanations: Iterable["Explanation"]) -> dict[str, float]:
    """Per metric, the better baseline's value for one target."""
    values: dict[str, dict[str, float]] = {}
    for explanation in explanations:
        for metric, value in explanation.metrics.items():
            values.setdefault(metric, {})[explanation.method] = value
    found = {}
    for metric, per_method in values.items():
        reference = reference_value(per_method, baselines(list(per_method)), metric)
        if reference is not None:
            found[metric] = reference
    return found


def _stats(explanation: "Explanation", references: dict[str, float]) -> str:
    lines = [e(f"{explanation.seconds:.2f} s · {explanation.forward_passes} forward passes")]
    if isinstance(explanation.extras.get("warning"), str):
        lines.append(f"<span class='warning'>⚠ {e(explanation.extras['warning'])}</span>")
    failed = explanation.extras.get("metric_failures")
    lines += [f"<span class='warning'>⚠ {e(f'metric {name} failed: {reason}')}</span>"
              for name, reason in (failed.items() if isinstance(failed, dict) else ())]
    if explanation.reused_forward_passes or explanation.reused_seconds >= 0.005:
        lines.append(e(f"(reused {explanation.reused_seconds:.2f} s · {explanation.reused_forward_passes} passes)"))
    reference_row = family_of(explanation.method) == BASELINE
    for metric, value in explanation.metrics.items():
        if is_flag(metric, [value]):
            lines.append(e(f"{metric_name(metric)}: ") + flag_text(metric, value, 1))
            continue
        below = (not reference_row and metric in references
                 and not is_better(value, references[metric], metric))
        lines.append(e(f"{metric_name(metric)}: {round(value, 3) + 0.0:.3f}") + mark(below))  # + 0.0: no "-0.000"
    return "<div class='stats'>" + "<br>".join(lines) + "</div>"


def _costs(comparison: "Comparison", options: Options) -> str:
    stats = summarise([comparison])
    means = {m: {k: s.mean for k, s in per.items()} for m, per in stats.items()}
    costs = {"seconds": comparison.timings, "forward_passes": comparison.forward_passes}
    longest = max(comparison.timings.values(), default=0.0) or 1.0
    rows = []
    for method in ordered(comparison.methods, options.sort_by, costs, means):
        seconds = comparison.timings.get(method, 0.0)
        reused = comparison.reused_seconds.get(method, 0.0)
        reused_passes = comparison.reused_forward_passes.get(method, 0)
        failure = comparison.failure(method)
        status = "ok" if comparison.by_method(method) else failure.status if failure else "failed"
        shared = f"{reused:.3f} s · {reused_passes} passes" if reused_passes or reused > 0 else ""
        bar = (f"<span class='bar' style='width:{(seconds - reused) / longest * 300:.0f}px'></span>"
               f"<span class='bar reused' style='width:{reused / longest * 300:.0f}px'></span>")
        rows.append(f"<tr data-method='{e(method)}' data-seconds='{seconds:.6g}' "
                    f"data-forward-passes='{comparison.forward_passes.get(method, 0)}'><td>{e(method)}</td>"
                    f"<td>{e(family_of(method))}</td><td>{status}</td><td>{seconds:.3f}</td>"
                    f"<td>{comparison.forward_passes.get(method, 0)}</td><td>{e(shared)}</td><td>{bar}</td></tr>")
    saved = sum(comparison.reused_seconds.values())
    saved_passes = sum(comparison.reused_forward_passes.values())
    total = sum(comparison.timings.values())
    total_passes = sum(comparison.forward_passes.values())
    return ("<h3>Costs</h3><div class='scroll'><table class='data timings'><tr><th>method</th><th>family</th>"
            "<th>status</th><th>seconds, alone</th><th>forward passes, alone</th>"
            "<th>of which reused here</th><th></th></tr>" + "".join(rows) + "</table></div>"
            f"<p class='note'>{COST_LEGEND} The light part of a bar is the reused share. "
            f"{order_note(options.sort_by)} All targets share one method call; metric evaluations are not "
            "included. In this call sharing saved "
            f"<b class='saved'>{saved:.2f} s and {saved_passes} forward passes</b>: the methods spent "
            f"{total - saved:.2f} s and {total_passes - saved_passes} passes instead of {total:.2f} s and "
            f"{total_passes}.</p>")


def _raw_metrics(comparison: "Comparison", options: Options) -> str:
    """Every metric's mean ± sd over the targets per method, folded: the numbers behind the verdict."""
    stats = summarise([comparison])
    if not stats:
        return ""
    metrics = list(dict.fromkeys(k for per_method in stats.values() for k in per_method))
    costs = {"seconds": comparison.timings, "forward_passes": comparison.forward_passes}
    means = {m: {k: s.mean for k, s in per.items()} for m, per in stats.items()}
    order = ordered([m for m in comparison.methods if m in stats], options.sort_by, costs, means)
    references = baselines(order)
    table = metric_table(order, stats, metrics, references, metric_cells(stats, metric_values([comparison])),
                         heading=metric_heading)
    n = table_size(stats, lambda stat: stat.count)
    title = "Raw metric values (one target)" if n == 1 else f"Raw metric values: mean ± sd over n = {n} targets"
    return folded_table(title,
                        table + f"<p class='note'>{metric_legend(metrics)} {order_note(options.sort_by)}</p>"
                        + baseline_note(references))


def metric_values(comparisons: Iterable["Comparison"]) -> dict[str, list[float]]:
    """Every value of every metric, over all explanations."""
    values: dict[str, list[float]] = {}
    for comparison in comparisons:
        for explanation in comparison.explanations:
            for metric, value in explanation.metrics.items():
                values.setdefault(metric, []).append(value)
    return values


def metric_cells(stats: dict[str, dict[str, MetricStat]], values: dict[str, list[float]]) -> Cell:
    """The cell renderer of a table of ``stats`` (:func:`xaihub.metrics.summarise`): one line per cell, the
    flags among ``values`` (every value of each metric) as badges, n stated only where a cell has fewer."""
    flags = flag_metrics(values)
    table_n = table_size(stats, lambda stat: stat.count)

    def cell(method: str, metric: str, stat: MetricStat | None, below: bool) -> str:
        if stat is None:
            return "<td></td>"
        attributes = f"data-metric='{e(metric)}' data-mean='{stat.mean:.6g}' data-n='{stat.count}'"
        return value_cell(attributes, metric, stat.mean, stat.std, stat.count, table_n, metric in flags, below)

    return cell


def _chart(comparison: "Comparison", options: Options) -> str:
    from xaihub.report.chart import Point, cost_quality_figure

    stats = summarise([comparison])
    metrics = list(dict.fromkeys(k for per_method in stats.values() for k in per_method))
    metric = chart_metric(options, metrics)
    if metric is None:
        return ""
    cost = comparison.timings if options.chart_cost == "seconds" else comparison.forward_passes
    points = [Point(m, float(cost[m]), per[metric].mean, family_of(m) == BASELINE)
              for m, per in stats.items() if metric in per and m in cost]
    figure = cost_quality_figure(points, metric, metric_heading(metric), options.chart_cost)
    picture = render.chart(figure).img(f"{metric_name(metric)} against cost",
                                       f"class='chart' data-metric='{e(metric)}'")
    return (f"<h3>{e(metric_name(metric))} against cost</h3>{picture}<p class='note'>One point per method "
            "(cost alone, mean over "
            "targets); better is up, cheaper is left. Red points and line: the Pareto front, methods that nothing "
            "cheaper beats. Grey crosses: baselines. " + resolution_note([p.value for p in points], metric) + "</p>")


def resolution_note(values: list[float], metric: str) -> str:
    """What the chart's y axis shows at least, and whether the methods differ by less."""
    from xaihub.report.chart import indistinguishable, resolution

    span = resolution(values)
    note = f"The y axis spans at least {span:.2g}, the smallest difference {e(metric_name(metric))} resolves"
    if indistinguishable(values):
        return note + f"; every method lies within it: they are indistinguishable on {e(metric_name(metric))}."
    return note + "."


def chart_metric(options: Options, metrics: list[str]) -> str | None:
    """The chart's metric: the one asked, else ``sort_by`` when it is a metric, else the first rankable one
    (in the order of :data:`xaihub.metrics.METRICS`)."""
    for candidate in (options.chart_metric, options.sort_by):
        if candidate in metrics:
            return candidate
    preferred = [m for m in METRICS if m in metrics] + metrics
    return next((m for m in preferred if lower_is_better(m) is not None), None)


def _families(agreements: list[FamilyAgreement], index: int) -> str:
    if not agreements:
        return ""
    rows = []
    for agreement in agreements:
        verdict = (f"<span class='disagree'>disagree (mean ρ &lt; {DISAGREEMENT})</span>" if agreement.disagrees
                   else "agree" if not math.isnan(agreement.mean) else "n/a (a constant map)")
        lowest = (f"{e(agreement.lowest[0])} vs {e(agreement.lowest[1])}: {agreement.lowest[2]:+.2f}"
                  if agreement.lowest else "")
        rows.append(f"<tr data-family='{e(agreement.family)}' data-mean='{agreement.mean:.4g}'>"
                    f"<td>{e(family_title(agreement.family))}</td><td>{e(', '.join(agreement.methods))}</td>"
                    f"<td>{agreement.mean:+.2f}</td><td>{verdict}</td><td>{lowest}</td>"
                    f"<td>{_differing(agreement.differing)}</td></tr>")
    return (f"<h3 id='{_families_anchor(index)}'>Implementations of the same method</h3><p class='note'>Families "
            "implemented by two or more libraries: mean Spearman correlation of their maps over every pair and "
            f"target. Below {DISAGREEMENT} they are flagged: they do not compute the same thing here, often because "
            "their parameters differ.</p><div class='scroll'><table class='data families'><tr><th>family</th>"
            "<th>implementations</th><th>mean ρ</th><th>verdict</th><th>least agreeing pair</th>"
            "<th>parameters that differ</th></tr>" + "".join(rows) + "</table></div>")


def _differing(differing: dict[str, dict[str, object]]) -> str:
    if not differing:
        return "none"
    rows = "".join(f"<tr><td>{e(name)}</td><td>{e('; '.join(f'{m} = {v!r}' for m, v in values.items()))}</td></tr>"
                   for name, values in differing.items())
    return (f"<details><summary>{e(', '.join(differing))}</summary><table class='data'>{rows}</table>"
            "<small>(a parameter missing for a method is one it does not take)</small></details>")


def _agreement(agreement: "Agreement", families: list[FamilyAgreement]) -> str:
    from xaihub.report.chart import agreement_figure

    matrix, methods = agreement
    if len(methods) < 2:
        return ""
    figure = agreement_figure(matrix, methods)
    return ("<h3>Agreement between methods</h3><p class='note'>Spearman rank correlation of the maps' pixels, "
            "averaged over targets: +1 same ranking, 0 unrelated, −1 reversed.</p>"
            + render.chart(figure).img("agreement between methods", "class='chart agreement'")
            + f"<p class='note families-meaning'>{agreement_meaning(agreement, families)}</p>")


def agreement_meaning(agreement: "Agreement", families: list[FamilyAgreement]) -> str:
    """What the agreement between methods means here: expected to be low between families, alarming when
    low within one; names the mean between families and the families whose implementations disagree."""
    matrix, methods = agreement
    family = {m: family_of(m) for m in methods}
    across = [float(matrix[i, j]) for i, a in enumerate(methods) for j, b in enumerate(methods)
              if i < j and BASELINE not in (family[a], family[b]) and family[a] != family[b]
              and not math.isnan(matrix[i, j])]
    sentence = ("Methods of different families answer different questions (a superpixel surrogate such as LIME, "
                "a gradient path such as Integrated Gradients, Shapley values such as DeepSHAP), so a low ρ "
                "between them is expected and speaks against neither")
    if across:
        sentence += f" (here the mean between families is {float(np.mean(across)):+.2f})"
    sentence += (f". Implementations of the same family should agree (mean ρ ≥ {DISAGREEMENT}); a low ρ there is "
                 "alarming: they do not compute the same thing. ")
    compared = [a for a in families if not math.isnan(a.mean)]
    disagreeing = [a for a in compared if a.disagrees]
    if disagreeing:
        named = "; ".join(f"{family_title(a.family)}: {a.lowest[0]} vs {a.lowest[1]} (ρ = {a.lowest[2]:+.2f})"
                          for a in disagreeing if a.lowest)
        return e(sentence + f"Here they do not: {named} (see Implementations of the same method).")
    if compared:
        return e(sentence + "Here every family with several implementations agrees.")
    return e(sentence + "Here no family has implementations from two libraries to compare.")


def _failures(comparison: "Comparison") -> str:
    if not comparison.failures:
        return ""
    items = "".join(f"<li data-method='{e(f.method)}' data-failure='{'unavailable' if f.unavailable else 'failed'}'>"
                    f"<b>{e(f.method)}</b>{'' if f.target is None else f' (target {f.target})'}: "
                    f"{folded(f'{UNAVAILABLE}: {f.message}' if f.unavailable else f'{f.error}: {f.message}')}</li>"
                    for f in comparison.failures)
    return f"<h3>Failed or unavailable methods</h3><ul class='failures'>{items}</ul>"


def _parameters(comparison: "Comparison") -> str:
    params = {}
    for explanation in comparison.explanations:
        params.setdefault(explanation.method, explanation.params)
    text = json.dumps({"seed": comparison.seed, "targets": comparison.targets, "parameters": params},
                      indent=1, default=str)
    return f"<details><summary>Parameters (for reproducibility)</summary><pre>{e(text)}</pre></details>"


def _label(comparison: "Comparison", index: int) -> str:
    return comparison.labels.get(index) or f"class {index}"


def _anchor(index: int, target: int) -> str:
    return f"image-{index}-target-{target}"


def _map_anchor(comparison: "Comparison", index: int, target: int, method: str) -> str:
    """The id of a method's map card for ``target`` (its large view's is this plus ``-large``): by the method's
    position, so that any method name makes a valid id."""
    return f"{_anchor(index, target)}-map-{comparison.methods.index(method) if method in comparison.methods else 0}"


def _families_anchor(index: int) -> str:
    return f"image-{index}-families"
