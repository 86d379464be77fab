"""The dataset report: one self-contained HTML page about an `explain_many` run directory. It opens with the
verdict's scorecard and what scoring the maps cost per criterion; then, folded, per method: mean ± standard
deviation of the target probability and of every metric (baselines as reference rows); rankings per metric
with bootstrap intervals and Holm-corrected Wilcoxon tests (and a flag where two metrics rank the methods in
opposite orders), costs alone per image, faithfulness against cost, and a gallery of the images it explained
best and worst; then every failure with its message. Like the comparison report it embeds its pictures as data
URIs, has no scripts and fetches nothing.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from html import escape
from typing import Any, Iterable

from xaihub.core.comparison import UNAVAILABLE
from xaihub.core.errors import InputError
from xaihub.core.files import check_destination
from xaihub.evaluation.dataset_statistics import (
    DatasetStatistics,
    MethodStatistics,
    Stat,
    dataset_statistics,
    is_number,
    per_image,
)
from xaihub.evaluation.ranking import ALPHA, TOP, MetricRanking, conflicts, lower_is_better, rank_methods
from xaihub.evaluation.recommendation import Recommendation, recommend
from xaihub.evaluation.reliability import load_reliability
from xaihub.report import render
from xaihub.report.costs import criterion_cost_table
from xaihub.report.families import BASELINE, baselines, family_of
from xaihub.report.html import colourbar_legend, write_page
from xaihub.report.section import Options, chart_metric, resolution_note
from xaihub.report.tables import (
    baseline_note,
    check_sort_by,
    flag_metrics,
    folded_table,
    mark,
    metric_table,
    order_note,
    ordered,
    table_size,
    value_cell,
)
from xaihub.report.text import COST_LEGEND, MAP_LEGEND, metric_heading, metric_legend, metric_name
from xaihub.report.verdict import verdict_section
from xaihub.run.run_directory import current_records, load_explanation, read_index, read_settings, select_records

GALLERY_SIZE = 3


@dataclass(frozen=True)
class Ranking:
    """What orders a method's gallery: an index quantity and which direction is better."""

    quantity: str
    """``"score"`` or a metric name (``"deletion"``, ...)."""
    lower_is_better: bool

    @property
    def heading(self) -> str:
        """The quantity's name for people, with the better direction."""
        return "target probability ↑" if self.quantity == "score" else metric_heading(self.quantity)

    def value(self, line: dict[str, Any]) -> float | None:
        """The quantity in an index line, or ``None`` where it is missing or not finite."""
        value = line.get("score") if self.quantity == "score" else (line.get("metrics") or {}).get(self.quantity)
        return float(value) if is_number(value) else None


RANKINGS = (Ranking("srg", False), Ranking("deletion", True), Ranking("insertion", False), Ranking("score", False))
"""Preference order for the gallery: SRG when the run has it, else deletion AUC, else insertion AUC, else probability."""


def dataset_report(out: str | os.PathLike, path: str | os.PathLike, title: str = "xaihub dataset report",
                   gallery_size: int = GALLERY_SIZE, sort_by: str | None = None, chart_metric: str | None = None,
                   chart_cost: str = "seconds", recommendation: Recommendation | None = None,
                   images: Iterable[str] | None = None, methods: Iterable[str] | None = None) -> str:
    """Write one HTML file summarising the run directory ``out`` (made by :func:`xaihub.explain_many`)
    and return ``path`` as a string.

    :param recommendation: the verdict to show (:func:`xaihub.benchmark` passes its own); default: made from
        the run directory, with the reliability check it keeps when :func:`xaihub.benchmark` made one.
    :param images: only these image ids (default: all); :param methods: only these methods (default: all).
    :param gallery_size: how many best and how many worst images each method's gallery shows.
    :param sort_by: as for :func:`xaihub.report_many`: the order of the rows of the method and timing tables.
    :param chart_metric: as for :func:`xaihub.report_many`: the y-axis of the faithfulness-vs-cost chart.
    :param chart_cost: as for :func:`xaihub.report_many`: the x-axis of the faithfulness-vs-cost chart.
    """
    from xaihub.report.chart import COSTS

    if isinstance(gallery_size, bool) or not isinstance(gallery_size, int) or gallery_size < 1:
        raise InputError(f"gallery_size must be an int >= 1, got {gallery_size!r}")
    if chart_cost not in COSTS:
        raise InputError(f"chart_cost must be one of {list(COSTS)}, got {chart_cost!r}")
    check_destination(path)  # a missing folder or a FIFO there is refused before the run directory is read
    images, methods = (None if images is None else list(images)), (None if methods is None else list(methods))
    stats = dataset_statistics(out, images, methods)
    lines = select_records(current_records(read_index(out)), images, methods)
    failures = [line for line in lines if line.get("status") != "ok"]
    metrics = _metrics(stats)
    check_sort_by(sort_by, metrics)
    if chart_metric is not None:
        check_sort_by(chart_metric, metrics)
    if stats.methods:
        order = ordered(list(stats.methods), sort_by, _costs(stats), _means(stats))
        options = Options(sort_by=sort_by, chart_metric=chart_metric, chart_cost=chart_cost)
        images_seen = len({line.get("image") for line in lines if line.get("status") == "ok"})
        body = (_overview(out, lines, failures) + _recommendation(out, lines, list(stats.methods), recommendation)
                + criterion_cost_table(lines, order, f"{images_seen} image(s) and their targets")
                + _quantities(stats, order, sort_by, lines) + _rankings(lines, metrics)
                + _timings(stats, order, sort_by) + _chart(stats, metrics, options)
                + _galleries(out, lines, list(stats.methods), gallery_size) + _failures(failures) + _damage(stats)
                + _settings(out))
    else:
        body = f"<p>The run directory <code>{escape(os.fspath(out))}</code> holds no results yet.</p>"
    return write_page(path, title, body)


def _metrics(stats: DatasetStatistics) -> list[str]:
    return list(dict.fromkeys(name.removeprefix("metrics.") for s in stats.methods.values() for name in s.quantities
                              if name.startswith("metrics.")))


def _means(stats: DatasetStatistics) -> dict[str, dict[str, float]]:
    """Per method, the mean of every metric (by its plain name)."""
    return {m: {k.removeprefix("metrics."): v.mean for k, v in s.quantities.items() if k.startswith("metrics.")}
            for m, s in stats.methods.items()}


def _costs(stats: DatasetStatistics) -> dict[str, dict[str, float]]:
    """Per image, the mean seconds and forward passes of each method run alone."""
    return {key: {m: s.quantities[key].mean for m, s in stats.methods.items() if key in s.quantities}
            for key in ("seconds", "forward_passes")}


def _overview(out: str | os.PathLike, lines: list[dict[str, Any]], failures: list[dict[str, Any]]) -> str:
    images = len({line.get("image") for line in lines})
    return (f"<p class='overview'>Run directory <code>{escape(os.fspath(out))}</code>: {images} image(s), "
            f"{len(lines) - len(failures)} explanation(s), {len(failures)} failure(s).</p>"
            "<p class='note'>An explanation is one method's map for one image and one target class.</p>")


def _recommendation(out: str | os.PathLike, lines: list[dict[str, Any]], methods: list[str],
                    found: Recommendation | None) -> str:
    if found is None:
        found = recommend(lines, baselines(methods), reliability=load_reliability(out))
    return "" if found is None else verdict_section(found)


def _quantities(stats: DatasetStatistics, order: list[str], sort_by: str | None, lines: list[dict[str, Any]]) -> str:
    metrics = _metrics(stats)
    per_method = {m: {name.removeprefix("metrics."): stat for name, stat in s.quantities.items()
                      if name.startswith("metrics.")} for m, s in stats.methods.items()}
    references = baselines(order)
    flags = flag_metrics(_values(lines, metrics))
    scores = {m: {"score": s.quantities["score"]} for m, s in stats.methods.items() if "score" in s.quantities}
    table_n = max(table_size(per_method, lambda stat: stat.n), table_size(scores, lambda stat: stat.n))

    def lead(method: str) -> str:
        s = stats.methods[method]
        return (f"<td>{s.images}</td><td>{s.explanations}</td><td>{s.failures}</td>"
                + _stat_cell("score", s.quantities.get("score"), table_n))

    def cell(method: str, metric: str, stat: Stat | None, below: bool) -> str:
        return _stat_cell(f"metrics.{metric}", stat, table_n, below, flag=metric in flags)

    table = metric_table(order, per_method, metrics, references, cell, css="quantities",
                         lead_headings=("images", "explanations", "failures", "target probability"), lead=lead,
                         heading=metric_heading)
    title = ("Raw values per method (one explanation)" if table_n == 1 else
             f"Raw values per method: mean ± standard deviation over n = {table_n} explanations")
    return ("<h2>Methods</h2>" + folded_table(title, table
        + "<p class='note'>Over every explanation of the method (all images and targets); a cell over fewer "
        "values says how many. Target probability is the model's probability for the explained class on the "
        f"unchanged image. {metric_legend(metrics)} {order_note(sort_by)}</p>"
        + (baseline_note(references) if metrics else "")) + _extras(stats))


def _values(lines: list[dict[str, Any]], metrics: list[str]) -> dict[str, list[float]]:
    """Every value of each of ``metrics`` in the explanations among ``lines``."""
    found: dict[str, list[float]] = {metric: [] for metric in metrics}
    for line in lines:
        for metric, value in (line.get("metrics") or {}).items():
            if line.get("status") == "ok" and metric in found and is_number(value):
                found[metric].append(float(value))
    return found


def _extras(stats: DatasetStatistics) -> str:
    rows = [f"<tr data-method='{escape(method)}'><td>{escape(method)}</td><td>{escape(name.removeprefix('extras.'))}"
            f"</td><td>{stat.n}</td>{_stat_cell(name, stat, stat.n)}</tr>"
            for method, s in stats.methods.items() for name, stat in s.quantities.items() if name.startswith("extras.")]
    if not rows:
        return ""
    return ("<details><summary>Method-specific facts (mean ± standard deviation)</summary><table class='data extras'>"
            "<tr><th>method</th><th>fact</th><th>n</th><th>mean ± std</th></tr>" + "".join(rows)
            + "</table></details>")


def _stat_cell(name: str, stat: Stat | None, table_n: int, below: bool = False, flag: bool = False) -> str:
    """One line: ``mean ± sd`` (n said only when fewer than the table's ``table_n``), or a flag's badge."""
    if stat is None:
        return "<td></td>"
    attributes = (f"data-quantity='{escape(name)}' data-mean='{stat.mean:.6g}' data-std='{stat.std:.6g}' "
                  f"data-n='{stat.n}'")
    return value_cell(attributes, name.removeprefix("metrics."), stat.mean, stat.std, stat.n, table_n, flag, below)


def _rankings(lines: list[dict[str, Any]], metrics: list[str]) -> str:
    rankable = [m for m in metrics if lower_is_better(m) is not None]
    if not rankable:
        return ""
    methods = list(dict.fromkeys(str(line.get("method")) for line in lines))
    references = baselines(methods)
    rankings = [rank_methods(per_image(lines, metric), metric, references) for metric in rankable]
    flags = "".join(f"<p class='flag conflict' data-metrics='{escape(c.first)} {escape(c.second)}'>"
                    f"<b>{escape(metric_name(c.first))}</b> and <b>{escape(metric_name(c.second))}</b> rank the "
                    f"methods in opposite orders (Kendall τ = {c.tau:+.2f} over {c.methods} methods): which method "
                    "is “most faithful” depends on the metric.</p>" for c in conflicts(rankings))
    return ("<h2>Rankings with confidence</h2><p class='note'>Per metric, methods ranked by their mean over images "
            "(each image's value is the mean over its explained targets), with a bootstrap 95% confidence interval "
            f"(BCa). The {TOP} best methods are compared pairwise, and each with the better baseline, by paired "
            "Wilcoxon signed-rank tests over the images both explained; p-values are Holm-corrected over the tests "
            f"of a metric, and a difference counts at adjusted p &lt; {ALPHA}.</p>" + flags
            + "".join(_ranking(r) for r in rankings))


def _ranking(ranking: MetricRanking) -> str:
    rows = []
    for ranked in ranking.methods:
        kind = " class='reference'" if ranked.baseline else ""
        name = escape(ranked.method) + (" <small>(reference)</small>" if ranked.baseline else "")
        interval = ranked.interval
        rows.append(f"<tr data-method='{escape(ranked.method)}' data-rank='{ranked.rank}' "
                    f"data-mean='{interval.mean:.6g}' data-low='{interval.low:.6g}' data-high='{interval.high:.6g}'"
                    f"{kind}><td>{ranked.rank}</td><td>{name}</td>"
                    f"<td>{interval.mean:.4f}{mark(ranked.beats_baselines is False)}</td>"
                    f"<td>{_bounds(interval)}</td><td>{interval.n}</td></tr>")
    tests = "".join(
        f"<tr data-pair='{escape(t.first)} {escape(t.second)}' data-p='{t.p_value:.6g}' "
        f"data-adjusted='{t.adjusted_p:.6g}'>"
        f"<td>{escape(t.first)} vs {escape(t.second)}</td><td>{t.n}</td><td>{t.median_difference:+.4f}</td>"
        f"<td>{_p(t.p_value)}</td><td>{_p(t.adjusted_p)}</td><td>{'yes' if t.significant else 'no'}</td></tr>"
        for t in ranking.tests)
    direction = "lower" if ranking.lower_is_better else "higher"
    test_table = ("<div class='scroll'><table class='data tests'><tr><th>pair</th><th>images</th>"
                  "<th>median difference</th><th>p</th><th>Holm-adjusted p</th><th>different?</th></tr>"
                  + tests + "</table></div>") if tests else ""
    return (f"<h3 data-metric='{escape(ranking.metric)}'>{escape(metric_name(ranking.metric))} ({direction} is better)"
            f"</h3><div class='scroll'><table class='data ranking' data-metric='{escape(ranking.metric)}'><tr>"
            "<th>rank</th><th>method</th><th>mean</th><th>95% interval</th><th>images</th></tr>" + "".join(rows)
            + "</table></div>" + test_table)


def _bounds(interval: Any) -> str:
    return "n/a (one image)" if math.isnan(interval.low) else f"[{interval.low:.4f}, {interval.high:.4f}]"


def _p(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3g}"


def _timings(stats: DatasetStatistics, order: list[str], sort_by: str | None) -> str:
    means = {m: s.quantities["seconds"].mean for m, s in stats.methods.items() if "seconds" in s.quantities}
    longest = max(means.values(), default=0.0) or 1.0
    images = max((s.images for s in stats.methods.values()), default=0)
    rows = [_timing_row(method, stats.methods[method], means.get(method), longest, images) for method in order]
    return ("<h2>Timings</h2><div class='scroll'><table class='data timings'><tr><th>method</th><th>images</th>"
            "<th>seconds / image, alone</th><th>of which reused</th><th>images / second</th>"
            "<th>forward passes / image, alone</th><th></th></tr>" + "".join(rows) + "</table></div>"
            f"<p class='note'>{COST_LEGEND} Per image (all targets in one call, faithfulness metrics not "
            f"included); images / second = 1 / mean seconds, for one worker. {order_note(sort_by)}</p>")


def _timing_row(method: str, stats: MethodStatistics, mean: float | None, longest: float, images: int) -> str:
    passes = stats.quantities.get("forward_passes")
    reused = stats.quantities.get("reused_seconds")
    rate = f"{1 / mean:.3g}" if mean else ""
    width = (mean or 0.0) / longest * 300
    return (f"<tr data-method='{escape(method)}'><td>{escape(method)}</td><td>{stats.images}</td>"
            + _stat_cell("seconds", stats.quantities.get("seconds"), images)
            + f"<td>{f'{reused.mean:.3g}' if reused and reused.mean else ''}</td><td>{rate}</td>"
            f"<td>{f'{passes.mean:.0f}' if passes else ''}</td>"
            f"<td><span class='bar' style='width:{width:.0f}px'></span></td></tr>")


def _chart(stats: DatasetStatistics, metrics: list[str], options: Options) -> str:
    from xaihub.report.chart import Point, cost_quality_figure

    metric = chart_metric(options, metrics)
    if metric is None:
        return ""
    costs, means = _costs(stats)[options.chart_cost], _means(stats)
    points = [Point(m, costs[m], means[m][metric], family_of(m) == BASELINE) for m in stats.methods
              if m in costs and metric in means.get(m, {})]
    figure = cost_quality_figure(points, metric, metric_heading(metric), options.chart_cost)
    picture = render.chart(figure).img(f"{metric_name(metric)} against cost",
                                       f"class='chart' data-metric='{escape(metric)}'")
    return (f"<h2>{escape(metric_name(metric))} against cost</h2>{picture}"
            "<p class='note'>One point per method: its mean over every explanation against its mean cost per image "
            "(alone); better is up, cheaper is left. Red: the Pareto front, methods that nothing cheaper beats. "
            "Grey crosses: baselines. " + resolution_note([p.value for p in points], metric) + "</p>")


def _galleries(out: str | os.PathLike, lines: list[dict[str, Any]], methods: list[str], size: int) -> str:
    sections = [_gallery(out, method, [line for line in lines if line.get("method") == method
                                       and line.get("status") == "ok"], size) for method in methods]
    return ("<h2>Best and worst images per method</h2><div class='intro'><p class='note'>One item per image: "
            "the method's map for the image's most probable explained class, with the input beside it. Each "
            "method's images are ranked by SRG when the run computed it (higher is better), else by deletion AUC "
            "(lower is better), else by insertion AUC (higher is better), else by the target probability; the "
            "heading of each gallery says "
            f"which. {MAP_LEGEND}</p>{colourbar_legend()}</div>" + "".join(sections))


def _gallery(out: str | os.PathLike, method: str, lines: list[dict[str, Any]], size: int) -> str:
    heading = f"<section class='method-gallery' data-method='{escape(method)}'><h3>{escape(method)}</h3>"
    top_class = _top_class_lines(lines)
    ranking = next((r for r in RANKINGS if any(r.value(line) is not None for line in top_class)), None)
    if ranking is None:
        return heading + "<p>No explanation to show.</p></section>"
    ranked = sorted((line for line in top_class if ranking.value(line) is not None),
                    key=lambda line: ranking.value(line), reverse=not ranking.lower_is_better)
    best, worst = ranked[:size], ranked[max(size, len(ranked) - size):][::-1]
    direction = "lower" if ranking.lower_is_better else "higher"
    parts = [heading, f"<p class='ranking'>Ranked by <b>{escape(ranking.heading)}</b> ({direction} is better), "
                      f"over {len(ranked)} image(s).</p>",
             "<h4>Best</h4>", _items(out, best, "best", ranking)]
    if worst:
        parts += ["<h4>Worst</h4>", _items(out, worst, "worst", ranking)]
    return "".join(parts) + "</section>"


def _top_class_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per image, the line of its most probable explained target."""
    chosen: dict[Any, dict[str, Any]] = {}
    for line in lines:
        kept = chosen.get(line.get("image"))
        if kept is None or _score(line) > _score(kept):
            chosen[line.get("image")] = line
    return list(chosen.values())


def _items(out: str | os.PathLike, lines: list[dict[str, Any]], rank: str, ranking: Ranking) -> str:
    items = "".join(_item(out, line, rank, ranking) for line in lines)
    return f"<div class='gallery' data-rank='{rank}'>{items}</div>"


def _item(out: str | os.PathLike, line: dict[str, Any], rank: str, ranking: Ranking) -> str:
    image, method, target = str(line.get("image")), str(line.get("method")), line.get("target")
    label = line.get("label") or f"class {target}"
    value = ranking.value(line)
    attributes = (f"class='item' data-method='{escape(method)}' data-image='{escape(image)}' "
                  f"data-target='{escape(str(target))}' data-rank='{rank}' data-value='{value:.6g}'")
    caption = (f"<figcaption><b>{escape(image)}</b><br>{escape(str(label))} (class {escape(str(target))}), "
               f"p = {_score(line):.3f}<br>{escape(ranking.heading)}: {value:.3f}</figcaption>")
    try:
        explanation = load_explanation(out, line)
    except InputError as exc:
        return f"<figure {attributes}><p class='failed'>cannot show the map: {escape(str(exc))}</p>{caption}</figure>"
    values = render.scaled_maps([explanation.attribution])[0]
    shown = render.photo(explanation.image, render.GALLERY_WIDTH).img(image, "class='input'")
    overlay = render.photo(render.overlay(explanation.image, values), render.GALLERY_WIDTH).img(
        f"{method} map of {image}", "class='map'")
    return f"<figure {attributes}><div class='pair'>{shown}{overlay}</div>{caption}</figure>"


def _failures(failures: list[dict[str, Any]]) -> str:
    if not failures:
        return "<h2>Failures</h2><p class='failures'>None: every method explained every image.</p>"
    rows = [f"<tr data-image='{escape(str(f.get('image')))}' data-method='{escape(str(f.get('method')))}'>"
            f"<td>{escape(str(f.get('image')))}</td><td>{escape(str(f.get('method')))}</td>"
            f"<td>{'all' if f.get('target') is None else escape(str(f.get('target')))}</td>"
            f"<td>{_failure_kind(f)}</td><td>{escape(str(f.get('message')))}</td></tr>" for f in failures]
    return (f"<h2>Failures ({len(failures)})</h2><p class='note'>The latest attempt of each image and method; "
            "running the same <code>explain_many</code> call again retries them.</p><table class='data failures'>"
            "<tr><th>image</th><th>method</th><th>target</th><th>error</th><th>message</th></tr>"
            + "".join(rows) + "</table>")


def _failure_kind(line: dict[str, Any]) -> str:
    error = escape(str(line.get("error")))
    return f"{UNAVAILABLE} ({error})" if line.get("error") == "MethodUnavailableError" else error


def _damage(stats: DatasetStatistics) -> str:
    if not stats.damaged_lines:
        return ""
    items = "".join(f"<li>{escape(problem)}</li>" for problem in stats.damage)
    return (f"<h2>Damaged index lines ({stats.damaged_lines})</h2><p class='note'>Left out of everything above; "
            "running the same <code>explain_many</code> call again redoes any result they leave incomplete.</p>"
            f"<ul class='damage'>{items}</ul>")


def _settings(out: str | os.PathLike) -> str:
    settings = read_settings(out)
    if settings is None:
        return ""
    text = json.dumps(settings, indent=1)
    return f"<details><summary>Run settings (seed, targets, parameters)</summary><pre>{escape(text)}</pre></details>"


def _score(line: dict[str, Any]) -> float:
    return float(line["score"]) if is_number(line.get("score")) else -math.inf


