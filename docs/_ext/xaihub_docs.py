"""Sphinx directives that render xaihub's registry at build time, so the reference never drifts from the code.

``.. xaihub-methods::`` is the table of every installed explanation method (name, plugin, family, what it needs
from the model, its one-line summary and default parameters), ``.. xaihub-metrics::`` the same for metrics; both
are read from :func:`xaihub.list_methods` and :func:`xaihub.list_metrics`.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


def _cell(value: str, literal: bool = False) -> nodes.entry:
    entry = nodes.entry()
    paragraph = nodes.paragraph()
    if value:
        paragraph += nodes.literal(value, value) if literal else nodes.Text(value)
    entry += paragraph
    return entry


def _table(headings: list[str], rows: list[list[tuple[str, bool]]], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["xaihub-registry"])
    group = nodes.tgroup(cols=len(headings))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    row = nodes.row()
    for heading in headings:
        row += _cell(heading)
    head += row
    group += head
    body = nodes.tbody()
    for cells in rows:
        row = nodes.row()
        for value, literal in cells:
            row += _cell(value, literal)
        body += row
    group += body
    return table


def _defaults(defaults: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in defaults.items())


class MethodsTable(SphinxDirective):
    """Every registered explanation method, one row each, from the registry."""

    def run(self) -> list[nodes.Node]:
        from xaihub.registry.plugins import list_methods

        rows = []
        for registered in list_methods():
            explainer = registered.explainer
            rows.append([(explainer.name, True), (registered.plugin, True), (explainer.family or "", False),
                         (explainer.requires.describe(), False), (explainer.summary, False),
                         (_defaults(explainer.defaults), True)])
        if not rows:
            raise self.error("no explanation method is registered: install xaihub's plugins (make install)")
        return [_table(["method", "plugin", "family", "needs", "what it is", "defaults"], rows,
                       [14, 8, 10, 12, 30, 26])]


class MetricsTable(SphinxDirective):
    """Every registered metric, one row each, from the registry."""

    def run(self) -> list[nodes.Node]:
        from xaihub.registry.plugins import list_metrics

        rows = []
        for registered in list_metrics():
            metric = registered.metric
            values = ", ".join(f"{name} ({'lower' if lower else 'higher' if lower is False else 'neither'} is better)"
                               for name, lower in metric.lower_is_better.items())
            rows.append([(metric.name, True), (registered.plugin, True), (values, False),
                         (metric.requires.describe(), False), (metric.summary, False),
                         (_defaults(metric.defaults), True)])
        return [_table(["metric", "plugin", "values", "needs", "what it is", "defaults"], rows,
                       [14, 8, 18, 12, 26, 22])]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("xaihub-methods", MethodsTable)
    app.add_directive("xaihub-metrics", MetricsTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
