"""The HTML report: one self-contained file, pictures embedded as data URIs, no scripts, no network.

This module holds the page (styles, title, versions) and what the comparison and dataset reports share;
the section about one image is :mod:`xaihub.report.section`.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from typing import TYPE_CHECKING, Sequence

from xaihub.core.errors import InputError
from xaihub.core.files import check_destination, write_atomically
from xaihub.metrics.summary import summarise
from xaihub.report import render, section
from xaihub.report.costs import criterion_cost_table
from xaihub.report.families import baselines
from xaihub.report.tables import baseline_note, check_sort_by, folded_table, metric_table, table_size
from xaihub.report.text import MAP_LEGEND, e, metric_heading, metric_legend

if TYPE_CHECKING:
    from xaihub.core.comparison import Comparison

# Every rule is scoped to .xaihub, so the Jupyter fragment does not restyle the notebook around it. Pictures
# take their shown size from their width and height attributes (xaihub.report.render.Picture).
_CSS = f".xaihub{{max-width:{render.PAGE_WIDTH}px}}" + """
.xaihub{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#222}
.xaihub h1{margin-bottom:4px}.xaihub h2{border-bottom:2px solid #ccc;padding-bottom:4px;margin-top:36px}
.xaihub img{max-width:100%;height:auto}
.xaihub table{border-collapse:collapse;margin:8px 0}
.xaihub th,.xaihub td{padding:4px 8px;text-align:left;vertical-align:top}
.xaihub table.data td,.xaihub table.data th{border-bottom:1px solid #e3e3e3}
.xaihub .scroll{max-width:100%;overflow-x:auto}
.xaihub tr.reference{background:#f5f5f5;color:#555;font-style:italic}
.xaihub .below{color:#c41d7f;font-weight:bold}
.xaihub nav.targets{margin:8px 0;line-height:2}.xaihub nav.targets a{margin-right:14px;white-space:nowrap}
.xaihub details.target-maps{margin:12px 0;border-top:1px solid #ddd;padding-top:6px}
.xaihub details.target-maps>summary{cursor:pointer;font-size:17px;font-weight:600}
.xaihub details.target-maps>summary small{font-weight:normal;color:#555}
.xaihub .legend{display:flex;align-items:center;gap:6px;font-size:11px;color:#555;margin:6px 0}
.xaihub .families{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.xaihub .family{border:1px solid #d9d9d9;border-radius:6px;padding:6px 8px;max-width:100%;box-sizing:border-box}
.xaihub .family>h4{margin:0 0 6px;font-size:12px;font-weight:600;color:#333;width:0;min-width:100%}
.xaihub .family.disagrees{border-color:#fa8c16;background:#fffaf0}
.xaihub .agree{font-weight:normal;font-size:12px;color:#389e0d}.xaihub .disagree{color:#d46b08;font-weight:600}
.xaihub .cards{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}
.xaihub .card{margin:0;width:180px;font-size:12px}
.xaihub .card>figcaption{font-weight:600;overflow-wrap:anywhere;margin-bottom:3px}
.xaihub .card img.map{display:block}
.xaihub .stats{font-size:11px;color:#444;margin-top:4px;line-height:1.45}
.xaihub .views{display:flex;gap:4px;margin-top:4px}
.xaihub .views figure{margin:0;font-size:10px;color:#555;flex:1 1 0;min-width:0}.xaihub .views img{display:block}
.xaihub .card.failed{background:#fff1f0;color:#a8071a;padding:6px;box-sizing:border-box;overflow-wrap:anywhere}
.xaihub .card.failed pre{max-height:240px;overflow:auto;color:#5c0011}
.xaihub .card.unavailable{background:#f5f5f5;color:#595959;padding:6px;box-sizing:border-box;overflow-wrap:anywhere}
.xaihub .card.unavailable pre{max-height:240px;overflow:auto}
.xaihub .bar{background:#69b34c;height:12px;display:inline-block}.xaihub .bar.reused{background:#b7d9a8}
.xaihub .cbar{display:flex;gap:4px;font-size:11px}
.xaihub .cbar .ticks{display:flex;flex-direction:column;justify-content:space-between;height:180px}
.xaihub .note{color:#555;font-size:13px;max-width:900px}.xaihub .warning{color:#ad4e00}
.xaihub .input{display:flex;flex-wrap:wrap;gap:24px}.xaihub tr.explained{font-weight:bold;background:#f3f9ee}
.xaihub code,.xaihub pre{font-size:12px}.xaihub pre{background:#f6f6f6;padding:8px}
.xaihub pre{white-space:pre-wrap;overflow-wrap:anywhere}
.xaihub .flag{background:#fff7e6;border-left:4px solid #fa8c16;padding:6px 10px;max-width:900px}
.xaihub .intro{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.xaihub .gallery{display:flex;flex-wrap:wrap;gap:14px}.xaihub .gallery figure{margin:0;font-size:12px;width:292px}
.xaihub .gallery .pair{display:flex;gap:4px}.xaihub .gallery img{display:block}
.xaihub .gallery figcaption{margin-top:4px;line-height:1.4;overflow-wrap:anywhere}
.xaihub img.chart{display:block}
.xaihub .large-cards{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
.xaihub figure.large{margin:0;font-size:13px;max-width:100%}.xaihub figure.large img{display:block}
.xaihub .card a img.map{cursor:zoom-in}
.xaihub .num,.xaihub .badge,.xaihub table.criterion-costs td{white-space:nowrap}
.xaihub sup.n{font-size:10px;color:#8c8c8c;margin-left:2px}
.xaihub .badge{border-radius:3px;padding:0 4px;font-size:12px;background:#f0f0f0}
.xaihub .badge.fail{background:#fff1f0;color:#a8071a}.xaihub .badge.pass{background:#f6ffed;color:#237804}
.xaihub details.raw-metrics,.xaihub details.criterion-costs{margin:10px 0}
.xaihub details.raw-metrics>summary,.xaihub details.criterion-costs>summary{cursor:pointer;font-weight:600}
"""

def report_many(comparisons: Sequence["Comparison"], path: str | os.PathLike, names: Sequence[str] | None = None,
                title: str = "xaihub comparison", *, scale: str = "map", coverage: float = 0.2,
                map_size: int = render.MAP_WIDTH, large_maps: int | None = render.LARGE_WIDTH,
                sort_by: str | None = None, chart_metric: str | None = None, chart_cost: str = "seconds") -> str:
    """Write one HTML file with a section per comparison (plus, when there are several, a summary: the verdict over
    the images, the cost per criterion and the raw metric table) and return ``path`` as a string.
    :meth:`xaihub.Comparison.report` takes the same options.

    :param names: a caption per comparison, e.g. the image file names; default ``Image 1``, ``Image 2``, ...
    :param scale: colour scaling of the maps, ``"map"`` or ``"row"`` (see :func:`render.scaled_maps`).
    :param coverage: fraction of superpixels shown in the superpixel view of segment-based methods, in ``(0, 1]``.
    :param map_size: the width of each map card, in CSS pixels (64 to 1200; default 180).
    :param large_maps: the width of the large view of every map, in CSS pixels (64 to 1200; default 400): each
        target's maps again, large, in a section every small map links to; ``None`` leaves that view out. Its
        pictures are drawn at one image pixel per CSS pixel, as lossy WebP, so that it costs about as much as the
        small maps.
    :param sort_by: order of the rows of the cost and metric tables: ``None`` (as asked), ``"name"``,
        ``"seconds"`` or ``"forward_passes"`` (cheapest first), or a computed metric (best first).
    :param chart_metric: the metric of the faithfulness-vs-cost chart; default ``sort_by`` when it is a
        metric, else the first computed one.
    :param chart_cost: the chart's x axis, ``"seconds"`` or ``"forward_passes"``.
    """
    from xaihub.core.comparison import Comparison

    options = section.Options(scale, coverage, map_size, large_maps, sort_by, chart_metric, chart_cost)
    comparisons = list(comparisons)
    if not comparisons:
        raise InputError("report_many needs at least one comparison")
    for i, comparison in enumerate(comparisons):
        if not isinstance(comparison, Comparison):
            raise InputError(f"report_many takes comparisons (what xaihub.explain returns); element {i} is "
                             f"{type(comparison).__name__} {_shown(comparison)}")
    names = list(names) if names is not None else [None] * len(comparisons)
    if len(names) != len(comparisons):
        raise InputError(f"{len(names)} names for {len(comparisons)} comparisons")
    check_destination(path)  # a missing folder or a FIFO there is refused before anything is drawn
    computed = [k for c in comparisons for e in c.explanations for k in e.metrics]
    check_sort_by(sort_by, computed)
    if chart_metric is not None:
        check_sort_by(chart_metric, computed)
    sections = [section.comparison_section(c, name or f"Image {i + 1}", options, i)
                for i, (c, name) in enumerate(zip(comparisons, names))]
    if len(comparisons) > 1:
        sections.insert(0, summary_section(comparisons, [name or f"Image {i + 1}" for i, name in enumerate(names)]))
    body = (f"<p class='note'>{len(comparisons)} image(s). {MAP_LEGEND} {metric_legend(dict.fromkeys(computed))}</p>"
            + "".join(sections) + _versions(comparisons))
    return write_page(path, title, body)


def report_view(comparisons: Sequence["Comparison"], path: str | os.PathLike, title: str = "xaihub comparison",
                **options: object) -> str:
    """:meth:`xaihub.Comparison.report`: :func:`report_many` with the same options, an unknown one named in an
    :class:`InputError` that lists them all."""
    section.Options.of(dict(options))
    return report_many(comparisons, path, title=title, **options)  # type: ignore[arg-type]


def _shown(value: object) -> str:
    """A short ``repr`` of ``value`` for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def write_page(path: str | os.PathLike, title: str, body: str) -> str:
    """Write a standalone page (the report's styles, ``title`` as heading, then ``body``); return ``path``.

    The page replaces ``path`` atomically, and only when it is a regular file or missing (see
    :mod:`xaihub.core.files`): a FIFO, a device or a folder there raises :class:`InputError`."""
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>"
            f"<style>body{{margin:24px}}{_CSS}</style></head><body><div class='xaihub'><h1>{e(title)}</h1>"
            + body + "</div></body></html>")
    path = str(path)
    write_atomically(path, page.encode("utf-8"))
    return path


def notebook_html(comparison: "Comparison") -> str:
    """The section of one comparison with its (scoped) styles, for Jupyter: without the large view, which a
    notebook would store in every saved copy (``result.report(...)`` or ``explanation.plot()`` show maps large)."""
    body = section.comparison_section(comparison, options=section.Options(large_maps=None))
    return f"<div class='xaihub'><style>{_CSS}</style>{body}</div>"


def summary_section(comparisons: Sequence["Comparison"], names: Sequence[str] | None = None) -> str:
    """Over all images: the verdict (each image a unit), what scoring cost per criterion, and, folded, the mean ±
    standard deviation of every metric per method over all images and targets."""
    from xaihub.evaluation.recommendation import comparison_lines, recommend
    from xaihub.report.verdict import verdict_section

    names = list(names) if names is not None else [f"Image {i + 1}" for i in range(len(comparisons))]
    lines = [{**line, "image": f"{i}: {name}"} for i, (comparison, name) in enumerate(zip(comparisons, names))
             for line in comparison_lines(comparison)]
    methods = list(dict.fromkeys(m for comparison in comparisons for m in comparison.methods))
    stats = summarise(comparisons)
    found = recommend(lines, baselines(methods)) if stats else None
    head = verdict_section(found) if found is not None else ""
    head += criterion_cost_table(lines, methods, f"{len(comparisons)} images and their targets")
    if not stats:
        body = "<p>No metrics were computed (pass <code>metrics=[...]</code>).</p>"
    else:
        metrics = list(dict.fromkeys(k for per_method in stats.values() for k in per_method))
        references = baselines(list(stats))
        table = metric_table(list(stats), stats, metrics, references, section.metric_cells(stats, section.metric_values(
            comparisons)), heading=metric_heading)
        n = table_size(stats, lambda stat: stat.count)
        body = folded_table(f"Raw metric values: mean ± sd over n = {n} explanations (every image and target)",
                            table + baseline_note(references))
    return (f"<section class='summary'><h2>Summary over {len(comparisons)} images</h2>" + head + body
            + "</section>")


def colourbar_legend(scale: str = "map", limit: float = 1.0) -> str:
    """The vertical colour scale beside a gallery of maps: ``scale="map"`` in multiples of each map's maximum."""
    top = "+1 × map max" if scale == "map" else f"+{limit:.3g}"
    bottom = "−1 × map max" if scale == "map" else f"−{limit:.3g}"
    bar = render.colour_scale(180, 14).img("colour scale", "class='colourbar'")
    return (f"<div class='cbar'>{bar}<div class='ticks'><span>{e(top)}</span>"
            f"<span>0</span><span>{e(bottom)}</span></div></div>")


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
    items = ", ".join(f"{e(k)} {e(str(v))}" for k, v in sorted(versions.items()))
    return f"<h2>Library versions</h2><p class='note versions'>{items}</p>"
