"""The HTML report: one self-contained file, images embedded as PNG data URIs, no scripts, no network."""

from __future__ import annotations

import html
import importlib.metadata
import json
import os
import platform
from typing import TYPE_CHECKING, Sequence

import numpy as np

from xaihub.errors import InputError
from xaihub.metrics import LOWER_IS_BETTER, MetricStat, summarise
from xaihub.report import render

if TYPE_CHECKING:
    from xaihub.comparison import Comparison
    from xaihub.explanation import Explanation

TOP_PREDICTIONS = 5
MASKED_SEGMENTS = 4
_METRIC_NAMES = {"deletion": "deletion AUC", "insertion": "insertion AUC", "degradation": "degradation drop",
                 "degradation_top1": "top-1 kept"}
# Every rule is scoped to .xaihub, so the Jupyter fragment does not restyle the notebook around it.
_CSS = """
.xaihub{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;max-width:1400px}
.xaihub h1{margin-bottom:4px}.xaihub h2{border-bottom:2px solid #ccc;padding-bottom:4px;margin-top:36px}
.xaihub table{border-collapse:collapse;margin:8px 0}
.xaihub th,.xaihub td{padding:4px 8px;text-align:left;vertical-align:top}
.xaihub table.data td,.xaihub table.data th{border-bottom:1px solid #e3e3e3}
.xaihub .grid td,.xaihub .grid th{border:1px solid #ddd;padding:6px}
.xaihub .grid img.map{width:180px;height:auto;display:block}
.xaihub .stats{font-size:12px;color:#444;margin-top:4px;line-height:1.45}
.xaihub .views{display:flex;gap:4px;margin-top:4px}
.xaihub .views figure{margin:0;font-size:11px;color:#555}.xaihub .views img{width:88px;display:block}
.xaihub .failed{background:#fff1f0;color:#a8071a;font-size:13px;max-width:180px}
.xaihub .bar{background:#69b34c;height:12px;display:inline-block}.xaihub .cbar{display:flex;gap:4px;font-size:11px}
.xaihub .cbar .ticks{display:flex;flex-direction:column;justify-content:space-between;height:180px}
.xaihub .note{color:#555;font-size:13px;max-width:900px}.xaihub .input img{width:240px}
.xaihub .input{display:flex;gap:24px}.xaihub .target{font-weight:bold;background:#f3f9ee}
.xaihub code,.xaihub pre{font-size:12px}.xaihub pre{background:#f6f6f6;padding:8px}
.xaihub .intro{display:flex;gap:24px;align-items:flex-start}
.xaihub .gallery{display:flex;flex-wrap:wrap;gap:14px}.xaihub .gallery figure{margin:0;font-size:12px;width:292px}
.xaihub .gallery .pair{display:flex;gap:4px}.xaihub .gallery img{width:144px;display:block}
.xaihub .gallery figcaption{margin-top:4px;line-height:1.4;overflow-wrap:anywhere}
"""

def report_many(comparisons: Sequence["Comparison"], path: str | os.PathLike, names: Sequence[str] | None = None,
                title: str = "xaihub comparison", scale: str = "map", coverage: float = 0.2) -> str:
    """Write one HTML file with a section per comparison (plus a metric summary table when there are
    several) and return ``path`` as a string.

    :param names: a caption per comparison, e.g. the image file names; default ``Image 1``, ``Image 2``, ...
    :param scale: colour scaling of the maps, ``"map"`` or ``"row"`` (see :func:`render.scaled_maps`).
    :param coverage: fraction of superpixels shown in the superpixel view of segment-based methods.
    """
    comparisons = list(comparisons)
    if not comparisons:
        raise InputError("report_many needs at least one comparison")
    names = list(names) if names is not None else [None] * len(comparisons)
    if len(names) != len(comparisons):
        raise InputError(f"{len(names)} names for {len(comparisons)} comparisons")
    if scale not in render.SCALES:
        raise InputError(f"scale must be one of {render.SCALES}, got {scale!r}")
    if not 0 < coverage <= 1:
        raise InputError(f"coverage must lie in (0, 1], got {coverage!r}")
    sections = [comparison_section(c, name or f"Image {i + 1}", scale, coverage, i)
                for i, (c, name) in enumerate(zip(comparisons, names))]
    if len(comparisons) > 1:
        sections.insert(0, summary_section(comparisons))
    body = (f"<p class='note'>{len(comparisons)} image(s). {MAP_LEGEND} {METRIC_LEGEND}</p>"
            + "".join(sections) + _versions(comparisons))
    return write_page(path, title, body)


def write_page(path: str | os.PathLike, title: str, body: str) -> str:
    """Write a standalone page (the report's styles, ``title`` as heading, then ``body``); return ``path``."""
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<style>body{{margin:24px}}{_CSS}</style></head><body><div class='xaihub'><h1>{_e(title)}</h1>"
            + body + "</div></body></html>")
    path = str(path)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(page)
    return path


def notebook_html(comparison: "Comparison") -> str:
    """The section of :func:`comparison_section` with its (scoped) styles, for Jupyter."""
    return f"<div class='xaihub'><style>{_CSS}</style>{comparison_section(comparison)}</div>"


def comparison_section(comparison: "Comparison", name: str = "Image", scale: str = "map",
                       coverage: float = 0.2, index: int = 0) -> str:
    """The report's section for one image: input, map grid, timings, agreement, failures, parameters."""
    parts = [f"<section class='comparison' data-image='{index}'><h2>{_e(name)}</h2>", _input(comparison),
             "<h3>Attribution maps</h3>", _grid(comparison, scale, coverage), _timings(comparison),
             _faithfulness(comparison), _agreement(comparison), _failures(comparison), _parameters(comparison),
             "</section>"]
    return "".join(parts)


def summary_section(comparisons: Sequence["Comparison"]) -> str:
    """Mean ± standard deviation of every metric per method over all images and targets."""
    stats = summarise(comparisons)
    body = _metric_table(stats) if stats else "<p>No metrics were computed (pass <code>metrics=[...]</code>).</p>"
    return (f"<section class='summary'><h2>Summary over {len(comparisons)} images</h2>"
            "<p class='note'>Mean ± standard deviation over every image and target.</p>" + body + "</section>")


MAP_LEGEND = ("Maps: green supports the target class, pink speaks against it; each map is scaled to its own "
               "range (99th percentile of |attribution| = full colour), since methods' units differ.")
METRIC_LEGEND = ("Deletion AUC: probability left as the most important pixels are blacked out (↓ better). "
                  "Insertion AUC: probability as they are pasted onto a blurred copy (↑ better). "
                  "Degradation drop: probability lost when only the top 20% pixels are kept and the rest "
                  "is salt-and-pepper noise (↓ better); top-1 kept: whether the predicted class survived.")


def _input(comparison: "Comparison") -> str:
    order = np.argsort(-comparison.probabilities, kind="stable")[:TOP_PREDICTIONS]
    rows = []
    for rank, k in enumerate(order, 1):
        p = float(comparison.probabilities[k])
        marker = " class='target'" if int(k) in comparison.targets else ""
        rows.append(f"<tr{marker}><td>{rank}</td><td>{int(k)}</td><td>{_e(_label(comparison, int(k)))}</td>"
                    f"<td>{p:.3f}</td><td><span class='bar' style='width:{p * 150:.0f}px'></span></td></tr>")
    return (f"<div class='input'><img data-role='input' alt='input image' src='{render.png_data_uri(comparison.image)}'>"
            "<div><b>Top predictions</b> (explained targets highlighted)<table class='data predictions'>"
            "<tr><th>#</th><th>class</th><th>label</th><th>probability</th><th></th></tr>"
            + "".join(rows) + "</table></div></div>")


def _grid(comparison: "Comparison", scale: str, coverage: float) -> str:
    header = "<tr><th>target</th>" + "".join(f"<th>{_e(m)}</th>" for m in comparison.methods) + "<th>scale</th></tr>"
    rows = []
    for target in comparison.targets:
        found = {e.method: e for e in comparison.explanations if e.target == target}
        scaled = dict(zip(found, render.scaled_maps([e.attribution for e in found.values()], scale)))
        limit = max((render.robust_limit(e.attribution) for e in found.values()), default=1.0)
        cells = [_cell(comparison, method, target, found.get(method), scaled.get(method), coverage)
                 for method in comparison.methods]
        p = float(comparison.probabilities[target])
        heading = f"<th>{_e(_label(comparison, target))}<br><small>class {target}, p = {p:.3f}</small></th>"
        rows.append(f"<tr data-target='{target}'>{heading}{''.join(cells)}<td>{colourbar_legend(scale, limit)}</td></tr>")
    return f"<table class='grid'>{header}{''.join(rows)}</table>"


def _cell(comparison: "Comparison", method: str, target: int, explanation: "Explanation | None",
          values: np.ndarray | None, coverage: float) -> str:
    where = f"data-method='{_e(method)}' data-target='{target}'"
    if explanation is None:
        failures = [f for f in comparison.failures if f.method == method and f.target in (None, target)]
        message = "; ".join(f"{f.error}: {f.message}" for f in failures) or "no explanation"
        return f"<td class='failed' {where} data-status='failed'><b>failed</b><br>{_e(message)}</td>"
    alt = f"{method} map for {_label(comparison, target)}"
    image = f"<img class='map' alt='{_e(alt)}' src='{render.png_data_uri(render.overlay(comparison.image, values))}'>"
    return f"<td {where} data-status='ok'>{image}{_segment_views(explanation, coverage)}{_stats(explanation)}</td>"


def _segment_views(explanation: "Explanation", coverage: float) -> str:
    if explanation.segments is None or explanation.segment_weights is None:
        return ""
    views = [(render.superpixel_view(explanation, coverage), f"top {coverage:.0%} superpixels"),
             (explanation.masked_image(MASKED_SEGMENTS), f"top {MASKED_SEGMENTS} kept")]
    return "<div class='views'>" + "".join(
        f"<figure><img alt='{_e(caption)}' src='{render.png_data_uri(pixels)}'><figcaption>{_e(caption)}"
        "</figcaption></figure>" for pixels, caption in views) + "</div>"


def _stats(explanation: "Explanation") -> str:
    lines = [f"{explanation.seconds:.2f} s · {explanation.forward_passes} forward passes"]
    lines += [f"{_METRIC_NAMES.get(k, k)}: {round(v, 3) + 0.0:.3f}{_direction(k)}"  # + 0.0: no "-0.000"
              for k, v in explanation.metrics.items()]
    return "<div class='stats'>" + "<br>".join(_e(line) for line in lines) + "</div>"


def colourbar_legend(scale: str = "map", limit: float = 1.0) -> str:
    """The colour scale beside a row of maps: ``scale="map"`` in multiples of each map's maximum."""
    top = "+1 × map max" if scale == "map" else f"+{limit:.3g}"
    bottom = "−1 × map max" if scale == "map" else f"−{limit:.3g}"
    return (f"<div class='cbar'><img class='colourbar' alt='colour scale' style='height:180px;width:14px' "
            f"src='{render.png_data_uri(render.colourbar())}'><div class='ticks'><span>{_e(top)}</span>"
            f"<span>0</span><span>{_e(bottom)}</span></div></div>")


def _timings(comparison: "Comparison") -> str:
    longest = max(comparison.timings.values(), default=0.0) or 1.0
    rows = []
    for method in comparison.methods:
        seconds = comparison.timings.get(method, 0.0)
        status = "ok" if comparison.by_method(method) else "failed"
        rows.append(f"<tr data-method='{_e(method)}'><td>{_e(method)}</td><td>{status}</td><td>{seconds:.3f}</td>"
                    f"<td>{comparison.forward_passes.get(method, 0)}</td>"
                    f"<td><span class='bar' style='width:{seconds / longest * 300:.0f}px'></span></td></tr>")
    return ("<h3>Timings</h3><table class='data timings'><tr><th>method</th><th>status</th><th>wall seconds</th>"
            "<th>forward passes</th><th></th></tr>" + "".join(rows) + "</table>"
            "<p class='note'>Wall time and model evaluations of one method call (all targets together); "
            "metric evaluations are not included.</p>")


def _faithfulness(comparison: "Comparison") -> str:
    stats = summarise([comparison])
    if not stats:
        return ""
    return "<h3>Faithfulness (mean over targets)</h3>" + _metric_table(stats)


def _metric_table(stats: dict[str, dict[str, MetricStat]]) -> str:
    metrics = list(dict.fromkeys(k for per_method in stats.values() for k in per_method))
    header = "<tr><th>method</th>" + "".join(
        f"<th>{_e(metric_heading(m))}</th>" for m in metrics) + "</tr>"
    rows = [f"<tr data-method='{_e(method)}'><td>{_e(method)}</td>"
            + "".join(f"<td>{_e(str(per_method[m])) if m in per_method else ''}</td>" for m in metrics) + "</tr>"
            for method, per_method in stats.items()]
    return f"<table class='data metrics'>{header}{''.join(rows)}</table>"


def _agreement(comparison: "Comparison") -> str:
    matrix, methods = comparison.agreement()
    if len(methods) < 2:
        return ""
    header = "<tr><th></th>" + "".join(f"<th>{_e(m)}</th>" for m in methods) + "</tr>"
    rows = []
    for i, method in enumerate(methods):
        cells = []
        for value in matrix[i]:
            if np.isnan(value):
                cells.append("<td>n/a</td>")
                continue
            r, g, b = render.colours(np.array([value]))[0].round().astype(int)
            ink = "#fff" if abs(value) > 0.7 else "#222"
            cells.append(f"<td style='background:rgb({r},{g},{b});color:{ink}'>{value:+.2f}</td>")
        rows.append(f"<tr><th>{_e(method)}</th>{''.join(cells)}</tr>")
    return ("<h3>Agreement between methods</h3><p class='note'>Spearman rank correlation of the maps' pixels, "
            "averaged over targets: +1 same ranking, 0 unrelated, −1 reversed.</p>"
            f"<table class='data agreement'>{header}{''.join(rows)}</table>")


def _failures(comparison: "Comparison") -> str:
    if not comparison.failures:
        return ""
    items = "".join(f"<li data-method='{_e(f.method)}'><b>{_e(f.method)}</b>"
                    f"{'' if f.target is None else f' (target {f.target})'}: {_e(f.error)}: {_e(f.message)}</li>"
                    for f in comparison.failures)
    return f"<h3>Failed or unavailable methods</h3><ul class='failures'>{items}</ul>"


def _parameters(comparison: "Comparison") -> str:
    params = {}
    for explanation in comparison.explanations:
        params.setdefault(explanation.method, explanation.params)
    text = json.dumps({"seed": comparison.seed, "targets": comparison.targets, "parameters": params},
                      indent=1, default=str)
    return f"<details><summary>Parameters (for reproducibility)</summary><pre>{_e(text)}</pre></details>"


def _versions(comparisons: Sequence["Comparison"]) -> str:
    versions = {"python": platform.python_version()}
    for name in ("xaihub", "numpy", "scipy", "matplotlib", "scikit-image"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    for comparison in comparisons:
        for explanation in comparison.explanations:
            versions.update(explanation.versions)
    items = ", ".join(f"{_e(k)} {_e(str(v))}" for k, v in sorted(versions.items()))
    return f"<h2>Library versions</h2><p class='note versions'>{items}</p>"


def _label(comparison: "Comparison", index: int) -> str:
    return comparison.labels.get(index) or f"class {index}"


def metric_heading(metric: str) -> str:
    """A metric's name for people, with ↓ or ↑ for which direction is better."""
    return _METRIC_NAMES.get(metric, metric) + _direction(metric)


def _direction(metric: str) -> str:
    if metric == "degradation_top1":
        return ""
    return " ↓" if metric in LOWER_IS_BETTER else " ↑"


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
