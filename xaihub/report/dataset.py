"""The dataset report: one self-contained HTML page about an `explain_many` run directory.

Per method: mean ± standard deviation of the target probability and of every metric, timings,
and a gallery of the images it explained best and worst; then every failure with its message.
Like the comparison report it embeds its pictures as PNG data URIs, has no scripts and fetches nothing.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from html import escape
from typing import Any

from xaihub.dataset_statistics import DatasetStatistics, MethodStatistics, Stat, dataset_statistics
from xaihub.errors import InputError
from xaihub.report import render
from xaihub.report.html import MAP_LEGEND, METRIC_LEGEND, colourbar_legend, metric_heading, write_page
from xaihub.run_directory import current_records, load_explanation, read_index, read_settings

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
        return float(value) if _is_number(value) else None


RANKINGS = (Ranking("deletion", True), Ranking("insertion", False), Ranking("score", False))
"""Preference order for the gallery: deletion AUC when the run has it, else insertion AUC, else probability."""


def dataset_report(out: str | os.PathLike, path: str | os.PathLike, title: str = "xaihub dataset report",
                   gallery_size: int = GALLERY_SIZE) -> str:
    """Write one HTML file summarising the run directory ``out`` (made by :func:`xaihub.explain_many`)
    and return ``path`` as a string.

    :param gallery_size: how many best and how many worst images each method's gallery shows.
    """
    if isinstance(gallery_size, bool) or not isinstance(gallery_size, int) or gallery_size < 1:
        raise InputError(f"gallery_size must be an int >= 1, got {gallery_size!r}")
    stats = dataset_statistics(out)
    lines = current_records(read_index(out))
    failures = [line for line in lines if line.get("status") != "ok"]
    if stats.methods:
        body = (_overview(out, lines, failures) + _quantities(stats) + _timings(stats)
                + _galleries(out, lines, list(stats.methods), gallery_size) + _failures(failures) + _damage(stats)
                + _settings(out))
    else:
        body = f"<p>The run directory <code>{escape(os.fspath(out))}</code> holds no results yet.</p>"
    return write_page(path, title, body)


def _overview(out: str | os.PathLike, lines: list[dict[str, Any]], failures: list[dict[str, Any]]) -> str:
    images = len({line.get("image") for line in lines})
    return (f"<p class='overview'>Run directory <code>{escape(os.fspath(out))}</code>: {images} image(s), "
            f"{len(lines) - len(failures)} explanation(s), {len(failures)} failure(s).</p>"
            "<p class='note'>An explanation is one method's map for one image and one target class.</p>")


def _quantities(stats: DatasetStatistics) -> str:
    columns = ["score"] + list(dict.fromkeys(name for s in stats.methods.values() for name in s.quantities
                                             if name.startswith("metrics.")))
    headings = ["target probability"] + [metric_heading(name.removeprefix("metrics.")) for name in columns[1:]]
    header = ("<tr><th>method</th><th>images</th><th>explanations</th><th>failures</th>"
              + "".join(f"<th>{escape(h)}</th>" for h in headings) + "</tr>")
    rows = [f"<tr data-method='{escape(method)}'><td>{escape(method)}</td><td>{s.images}</td>"
            f"<td>{s.explanations}</td><td>{s.failures}</td>"
            + "".join(_stat_cell(name, s.quantities.get(name)) for name in columns) + "</tr>"
            for method, s in stats.methods.items()]
    return ("<h2>Methods: mean ± standard deviation</h2><p class='note'>Over every explanation of the method "
            "(all images and targets); n = how many values. Target probability is the model's probability for "
            f"the explained class on the unchanged image. {METRIC_LEGEND}</p>"
            f"<table class='data quantities'>{header}{''.join(rows)}</table>" + _extras(stats))


def _extras(stats: DatasetStatistics) -> str:
    rows = [f"<tr data-method='{escape(method)}'><td>{escape(method)}</td><td>{escape(name.removeprefix('extras.'))}"
            f"</td>{_stat_cell(name, stat)}</tr>"
            for method, s in stats.methods.items() for name, stat in s.quantities.items() if name.startswith("extras.")]
    if not rows:
        return ""
    return ("<details><summary>Method-specific facts (mean ± standard deviation)</summary><table class='data extras'>"
            "<tr><th>method</th><th>fact</th><th>mean ± std</th></tr>" + "".join(rows) + "</table></details>")


def _stat_cell(name: str, stat: Stat | None) -> str:
    if stat is None:
        return "<td></td>"
    return (f"<td data-quantity='{escape(name)}' data-mean='{stat.mean:.6g}' data-std='{stat.std:.6g}' "
            f"data-n='{stat.n}'>{escape(str(stat))} <small>(n={stat.n})</small></td>")


def _timings(stats: DatasetStatistics) -> str:
    means = {m: s.quantities["seconds"].mean for m, s in stats.methods.items() if "seconds" in s.quantities}
    longest = max(means.values(), default=0.0) or 1.0
    rows = [_timing_row(method, s, means.get(method), longest) for method, s in stats.methods.items()]
    return ("<h2>Timings</h2><table class='data timings'><tr><th>method</th><th>images</th>"
            "<th>seconds / image</th><th>images / second</th><th>forward passes / image</th><th></th></tr>"
            + "".join(rows) + "</table><p class='note'>A method's own wall time per image (all targets in one "
            "call, faithfulness metrics not included); images / second = 1 / mean seconds, for one worker.</p>")


def _timing_row(method: str, stats: MethodStatistics, mean: float | None, longest: float) -> str:
    passes = stats.quantities.get("forward_passes")
    rate = f"{1 / mean:.3g}" if mean else ""
    width = (mean or 0.0) / longest * 300
    return (f"<tr data-method='{escape(method)}'><td>{escape(method)}</td><td>{stats.images}</td>"
            + _stat_cell("seconds", stats.quantities.get("seconds")) + f"<td>{rate}</td>"
            f"<td>{f'{passes.mean:.0f}' if passes else ''}</td>"
            f"<td><span class='bar' style='width:{width:.0f}px'></span></td></tr>")


def _galleries(out: str | os.PathLike, lines: list[dict[str, Any]], methods: list[str], size: int) -> str:
    sections = [_gallery(out, method, [line for line in lines if line.get("method") == method
                                       and line.get("status") == "ok"], size) for method in methods]
    return ("<h2>Best and worst images per method</h2><div class='intro'><p class='note'>One item per image: "
            "the method's map for the image's most probable explained class, with the input beside it. Each "
            "method's images are ranked by deletion AUC when the run computed it (lower is better), else by "
            "insertion AUC (higher is better), else by the target probability; the heading of each gallery says "
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
    overlay = render.png_data_uri(render.overlay(explanation.image, values))
    map_alt = escape(f"{method} map of {image}")
    return (f"<figure {attributes}><div class='pair'><img class='input' alt='{escape(image)}' "
            f"src='{render.png_data_uri(explanation.image)}'><img class='map' alt='{map_alt}' src='{overlay}'></div>"
            f"{caption}</figure>")


def _failures(failures: list[dict[str, Any]]) -> str:
    if not failures:
        return "<h2>Failures</h2><p class='failures'>None: every method explained every image.</p>"
    rows = [f"<tr data-image='{escape(str(f.get('image')))}' data-method='{escape(str(f.get('method')))}'>"
            f"<td>{escape(str(f.get('image')))}</td><td>{escape(str(f.get('method')))}</td>"
            f"<td>{'all' if f.get('target') is None else escape(str(f.get('target')))}</td>"
            f"<td>{escape(str(f.get('error')))}</td><td>{escape(str(f.get('message')))}</td></tr>" for f in failures]
    return (f"<h2>Failures ({len(failures)})</h2><p class='note'>The latest attempt of each image and method; "
            "running the same <code>explain_many</code> call again retries them.</p><table class='data failures'>"
            "<tr><th>image</th><th>method</th><th>target</th><th>error</th><th>message</th></tr>"
            + "".join(rows) + "</table>")


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
    return float(line["score"]) if _is_number(line.get("score")) else -math.inf


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
