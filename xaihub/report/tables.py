"""Tables both reports share: the order of rows (``sort_by``) and metric tables with reference rows.

Cells are one line each: ``mean ± sd`` (just the mean when there is one value), the number of values stated once
per table (a cell over fewer values says so in a superscript), and a flag (a value with no better direction that
is only ever 0 or 1, e.g. ``sanity.randomization.flagged``) as a badge, ``flagged`` or ``3/14 flagged``.

Baselines (family ``"baseline"``, e.g. ``baseline.noise``) are pinned at the top of every metric table
as reference rows, and a method whose mean does not beat the better baseline's on a metric gets its
cell marked (▽), so a reader can tell a good score from one a map without information also reaches.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Callable, Iterable, Mapping, Sequence

from xaihub.core.errors import InputError
from xaihub.evaluation.ranking import MARGIN, better_first, is_better, lower_is_better, reference_value

SORT_KEYS = ("name", "seconds", "forward_passes")
"""``sort_by`` values besides a metric name: alphabetical, or cheapest first."""
BELOW_MARK = "▽"
BELOW_TITLE = "not better than the better baseline"
NOISE = "baseline.noise"
"""The baseline a metric's discrimination is counted against: a random map."""
_DISCRIMINATION_NOTE = (f" The last row counts the methods that beat {NOISE} on each metric: the metric's own "
                        "power to tell a map from noise.")
DISCRIMINATION_TITLE = ("how many methods beat the random map on this metric: a metric that few methods beat "
                        "noise on cannot tell a faithful map from a degenerate one")


def check_sort_by(sort_by: str | None, metrics: Iterable[str]) -> None:
    """Refuse a ``sort_by`` that is neither ``None``, one of :data:`SORT_KEYS` nor a computed, rankable metric."""
    metrics = [m for m in dict.fromkeys(metrics) if lower_is_better(m) is not None]
    if sort_by is None or sort_by in SORT_KEYS or sort_by in metrics:
        return
    raise InputError(f"sort_by must be None, one of {list(SORT_KEYS)} or a computed metric {metrics}, "
                     f"got {sort_by!r}")


def ordered(methods: Sequence[str], sort_by: str | None, costs: Mapping[str, Mapping[str, float]],
            means: Mapping[str, Mapping[str, float]]) -> list[str]:
    """``methods`` in table order: as given (``None``), by name, cheapest first (``"seconds"``,
    ``"forward_passes"``; ``costs[key][method]``) or best first on a metric (``means[method][metric]``).
    Methods without the value go last."""
    if sort_by is None:
        return list(methods)
    if sort_by == "name":
        return sorted(methods)
    if sort_by in costs:
        cost = costs[sort_by]
        return sorted(methods, key=lambda m: (m not in cost, cost.get(m, 0.0)))
    return better_first({m: means.get(m, {}).get(sort_by, math.nan) for m in methods}, sort_by)


def order_note(sort_by: str | None) -> str:
    """A sentence saying how a table's rows are ordered."""
    if sort_by is None:
        return "Rows in the order the methods were asked."
    if sort_by == "name":
        return "Rows by method name."
    if sort_by in SORT_KEYS:
        return f"Rows ordered by {sort_by.replace('_', ' ')} (cheapest first)."
    return f"Rows ordered by {escape(sort_by)} (best first)."


Cell = Callable[[str, str, Any, bool], str]
"""``cell(method, metric, stat, below_baseline) -> "<td>...</td>"``."""


def metric_table(methods: Sequence[str], stats: Mapping[str, Mapping[str, Any]], metrics: Sequence[str],
                 baselines: Sequence[str], cell: Cell, css: str = "metrics",
                 lead_headings: Sequence[str] = (), lead: Callable[[str], str] = lambda method: "",
                 heading: Callable[[str], str] = str) -> str:
    """A table of ``stats[method][metric]`` (objects with a ``mean``), reference rows first.

    :param cell: renders one cell; told whether the method does not beat the better baseline.
    :param lead_headings: extra columns after the method's name: their headings.
    :param lead: extra columns after the method's name: their cells per method.
    """
    means = {m: {k: s.mean for k, s in per.items()} for m, per in stats.items()}
    references = {k: reference_value({m: means.get(m, {}).get(k, math.nan) for m in baselines}, baselines, k)
                  for k in metrics}
    header = ("<tr><th>method</th>" + "".join(f"<th>{escape(h)}</th>" for h in lead_headings)
              + "".join(f"<th>{escape(heading(k))}</th>" for k in metrics) + "</tr>")
    rows = []
    for method in [m for m in baselines if m in stats] + [m for m in methods if m not in baselines]:
        reference = method in baselines
        cells = []
        for metric in metrics:
            stat = stats.get(method, {}).get(metric)
            limit = references[metric]
            below = (not reference and stat is not None and limit is not None
                     and not is_better(stat.mean, limit, metric))
            cells.append(cell(method, metric, stat, below))
        kind = " class='reference'" if reference else ""
        name = f"{escape(method)} <small>(reference)</small>" if reference else escape(method)
        rows.append(f"<tr data-method='{escape(method)}'{kind}><td>{name}</td>{lead(method)}{''.join(cells)}</tr>")
    rows.append(_discrimination_row([m for m in methods if m not in baselines], means, metrics, baselines,
                                    len(lead_headings)))
    return f"<div class='scroll'><table class='data {css}'>{header}{''.join(rows)}</table></div>"


def beats_noise(methods: Sequence[str], means: Mapping[str, Mapping[str, float]], metric: str) -> tuple[int, int]:
    """``(beating, compared)``: how many of ``methods`` with a mean of ``metric`` beat :data:`NOISE`'s mean —
    the metric's own discrimination (a metric that most methods cannot beat noise on tells them apart badly)."""
    noise = means.get(NOISE, {}).get(metric, math.nan)
    values = [means.get(m, {}).get(metric, math.nan) for m in methods]
    values = [v for v in values if not math.isnan(v)]
    if math.isnan(noise) or lower_is_better(metric) is None:
        return 0, 0
    return sum(is_better(v, noise, metric) for v in values), len(values)


def _discrimination_row(methods: Sequence[str], means: Mapping[str, Mapping[str, float]], metrics: Sequence[str],
                        baselines: Sequence[str], leads: int) -> str:
    if NOISE not in baselines or NOISE not in means:
        return ""
    cells = []
    for metric in metrics:
        beating, compared = beats_noise(methods, means, metric)
        cells.append(f"<td data-metric='{escape(metric)}' data-beating='{beating}' data-compared='{compared}'>"
                     f"{beating}/{compared}</td>" if compared else "<td></td>")
    return (f"<tr class='discrimination' title='{DISCRIMINATION_TITLE}'><td>beat {NOISE}</td>"
            + "<td></td>" * leads + "".join(cells) + "</tr>")


def mark(below: bool) -> str:
    """The marker of a value that does not beat the better baseline (empty otherwise)."""
    return f" <span class='below' title='{BELOW_TITLE}'>{BELOW_MARK}</span>" if below else ""


def baseline_note(baselines: Sequence[str]) -> str:
    """What the reference rows and marks mean, or how to get them when no baseline was run."""
    if baselines:
        return (f"<p class='note'>Reference rows ({escape(', '.join(baselines))}) come from maps that know nothing "
                f"about the model; {BELOW_MARK} marks a method that does not beat the better of them on a "
                f"metric (by more than {MARGIN}).{_DISCRIMINATION_NOTE if NOISE in baselines else ''}</p>")
    return ("<p class='note no-baseline'>No reference rows: add <code>baseline.noise</code> and "
            "<code>baseline.centre</code> (plugin xaihub-baseline) to <code>methods</code> to see what a map "
            "that knows nothing about the model scores; scattered noise, for one, often gets a good deletion "
            "AUC.</p>")


FLAG_WORDS = {"flagged": ("flagged", "not flagged", True), "passes": ("passes", "fails", False),
              "top1": ("kept", "lost", False)}
"""By the last word of a flag's name: what a 1 and a 0 say, and whether a 1 is the bad outcome."""


def is_flag(metric: str, values: Iterable[float]) -> bool:
    """Whether ``metric`` is shown as a flag: it has no better direction (its metric declares ``None``) and every
    value of it (NaN left out) is 0 or 1."""
    finite = [v for v in values if not math.isnan(v)]
    return lower_is_better(metric) is None and bool(finite) and all(v in (0.0, 1.0) for v in finite)


def flag_metrics(values: Mapping[str, Iterable[float]]) -> set[str]:
    """The flags among ``{metric: every value of it}`` (see :func:`is_flag`)."""
    return {metric for metric, found in values.items() if is_flag(metric, list(found))}


def number(value: float) -> str:
    """A table's number: three decimals, or two significant digits for one too small or large for that."""
    if math.isnan(value):
        return "n/a"
    if value == 0 or 0.01 <= abs(value) < 1e5:
        return f"{round(value, 3) + 0.0:.3f}"  # + 0.0: no "-0.000"
    return f"{value:.2g}"


def stat_text(mean: float, std: float, n: int, table_n: int) -> str:
    """One line of HTML: ``mean ± sd`` (``mean`` alone for one value), with a superscript when the cell holds
    fewer values than the table's ``table_n``."""
    text = number(mean) if n <= 1 else f"{number(mean)} ± {number(std)}"
    fewer = (f"<sup class='n' title='over {n} value(s), not {table_n}'>n={n}</sup>" if n < table_n else "")
    return f"<span class='num'>{escape(text)}</span>{fewer}"


def flag_text(metric: str, mean: float, n: int) -> str:
    """A flag's cell from the mean of its ``n`` values (each 0 or 1): a badge (``flagged`` / ``not flagged`` for
    one value, ``3/14 flagged`` for several), red when the bad outcome occurred, green when it did not."""
    if math.isnan(mean):
        return "<span class='badge'>n/a</span>"
    ones = round(mean * n)
    yes, no, one_is_bad = FLAG_WORDS.get(metric.replace("_", ".").rsplit(".", 1)[-1], ("yes", "no", None))
    text = (yes if ones else no) if n == 1 else f"{ones}/{n} {yes}"
    bad = None if one_is_bad is None else (ones > 0) if one_is_bad else (ones < n)
    kind = "" if bad is None else " fail" if bad else " pass"
    return f"<span class='badge{kind}' title='{ones} of {n} value(s) are 1'>{escape(text)}</span>"


def table_size(stats: Mapping[str, Mapping[str, Any]], count: Callable[[Any], int]) -> int:
    """The largest number of values in any cell of a table of ``stats[method][metric]``: the table's n."""
    return max((count(stat) for per in stats.values() for stat in per.values()), default=0)


def value_cell(attributes: str, metric: str, mean: float, std: float, n: int, table_n: int, flag: bool,
               below: bool = False) -> str:
    """A ``<td>`` (``attributes`` already escaped) of a metric table: a flag's badge (never marked against the
    baselines) or one line of ``mean ± sd`` with the baseline mark."""
    shown = flag_text(metric, mean, n) if flag else stat_text(mean, std, n, table_n) + mark(below)
    return f"<td {attributes}>{shown}</td>"


def folded_table(summary: str, body: str, css: str = "raw-metrics") -> str:
    """``body`` folded away under the one-line ``summary`` (HTML), closed."""
    return f"<details class='{css}'><summary>{summary}</summary>{body}</details>"
