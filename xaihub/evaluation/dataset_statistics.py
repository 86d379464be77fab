"""Dataset-level statistics of an `explain_many` run, read from its ``index.jsonl``.

For the report and ``xaihub compare --images``: ``dataset_statistics(out).table()`` and
``.timing_table()`` give plain-text tables; ``.methods`` gives the numbers.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from xaihub.core.errors import InputError
from xaihub.run.run_directory import INDEX_NAME, current_records, scan_index, select_records


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (0 for a single value) of ``n`` values."""

    n: int
    mean: float
    std: float

    @classmethod
    def of(cls, values: list[float]) -> "Stat":
        array = np.asarray(values, dtype=np.float64)
        return cls(len(array), float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0)

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.std:.2g}"


@dataclass
class MethodStatistics:
    """One method over a dataset."""

    explanations: int = 0
    failures: int = 0
    images: int = 0
    """Images with at least one explanation from this method."""
    quantities: dict[str, Stat] = field(default_factory=dict)
    """``score``, ``forward_passes`` (per explanation), ``seconds`` and ``reused_seconds`` (per image; the
    method's cost alone, and the part of it reused from another method), and every numeric
    ``metrics.<name>`` and ``extras.<name>`` found in the index."""


@dataclass
class DatasetStatistics:
    """Per-method statistics of one run directory (the latest attempt of each image × method)."""

    path: str
    methods: dict[str, MethodStatistics]
    damaged_lines: int = 0
    """Index lines that could not be used (cut short, not JSON, a field of the wrong type, a file
    outside the run directory); they are left out of every statistic."""
    damage: list[str] = field(default_factory=list)
    """``"line N: why"`` for the first damaged lines."""

    def table(self) -> str:
        """Long-format text table: method, quantity, n, mean ± std."""
        rows = [("method", "quantity", "n", "mean ± std")]
        for method, stats in self.methods.items():
            rows += [(method, name, str(stat.n), str(stat)) for name, stat in stats.quantities.items()]
        return _format(rows)

    def timing_table(self) -> str:
        """Text table: method, images, explanations, failures, seconds per image, forward passes, images/s."""
        rows = [("method", "images", "explanations", "failures", "seconds / image", "forward passes", "images / s")]
        for method, stats in self.methods.items():
            seconds = stats.quantities.get("seconds")
            passes = stats.quantities.get("forward_passes")
            rate = 1 / seconds.mean if seconds and seconds.mean > 0 else math.nan
            rows.append((method, str(stats.images), str(stats.explanations), str(stats.failures),
                         str(seconds) if seconds else "", f"{passes.mean:.0f}" if passes else "", f"{rate:.3g}"))
        return _format(rows)


def dataset_statistics(out: str | os.PathLike, images: Iterable[str] | None = None,
                       methods: Iterable[str] | None = None) -> DatasetStatistics:
    """Read ``out/index.jsonl`` (written by :func:`xaihub.explain_many`) and summarise it per method.

    Damaged lines are skipped and counted (:attr:`DatasetStatistics.damaged_lines`), never fatal.

    :param images: only these image ids (default: all); :param methods: only these methods (default: all) —
        what one call asked for, in a run directory that holds more.
    """
    if not os.path.lexists(os.path.join(out, INDEX_NAME)):
        raise InputError(f"{os.fspath(out)!r} has no {INDEX_NAME}; run xaihub.explain_many(..., out=...) first")
    scan = scan_index(out)
    chosen = select_records(current_records(scan.records), images, methods)
    per_method: dict[str, MethodStatistics] = {}
    values: dict[str, dict[str, list[float]]] = {}
    seconds: dict[tuple[str, str], tuple[float, float]] = {}
    for line in chosen:
        image, method = line.get("image"), line.get("method")
        stats = per_method.setdefault(method, MethodStatistics())
        if line.get("status") != "ok":
            stats.failures += 1
            continue
        stats.explanations += 1
        columns = values.setdefault(method, {})
        for name in ("score", "forward_passes"):
            _add(columns, name, line.get(name))
        for group in ("metrics", "extras"):
            for name, value in (line.get(group) or {}).items():
                _add(columns, f"{group}.{name}", value)
        seconds[(image, method)] = line.get("seconds"), line.get("reused_seconds")
    for (_image, method), (alone, reused) in seconds.items():
        per_method[method].images += 1
        _add(values[method], "seconds", alone)
        _add(values[method], "reused_seconds", reused)
    for method, columns in values.items():
        order = sorted(columns, key=lambda n: (n.count("."), n not in ("score", "seconds"), n))
        per_method[method].quantities = {name: Stat.of(columns[name]) for name in order}
    return DatasetStatistics(os.fspath(out), per_method, scan.damaged, scan.problems)


def per_image(lines: list[dict[str, Any]], metric: str) -> dict[str, dict[str, float]]:
    """``{method: {image: value}}``: each image's mean of ``metric`` over its explained targets."""
    values: dict[str, dict[str, list[float]]] = {}
    for line in lines:
        value = (line.get("metrics") or {}).get(metric)
        if line.get("status") == "ok" and is_number(value):
            values.setdefault(str(line.get("method")), {}).setdefault(str(line.get("image")), []).append(value)
    return {m: {image: sum(v) / len(v) for image, v in per.items()} for m, per in values.items()}


def is_number(value: Any) -> bool:
    """Whether an index field holds a finite number (not a bool, not NaN, not an integer too large for a
    float: JSON allows any number of digits, and such a value is treated as missing, never raises)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _add(columns: dict[str, list[float]], name: str, value: Any) -> None:
    if is_number(value):
        columns.setdefault(name, []).append(float(value))


def _format(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)
