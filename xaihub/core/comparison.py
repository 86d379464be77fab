"""`Comparison`: everything one `explain` call produced, failures included.

A comparison is data: its views (:meth:`Comparison.report`, :meth:`~Comparison.figure`,
:meth:`~Comparison.save_figures`, the notebook display) are functions of :mod:`xaihub.report`, which
hands them to this module with :func:`provide_views` when it is imported (``import xaihub`` imports it),
so that data never imports a view.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from xaihub.core.agreement import Agreement, agreement
from xaihub.core.errors import XaihubError
from xaihub.core.explanation import Explanation

if TYPE_CHECKING:
    from matplotlib.figure import Figure


UNAVAILABLE = "unavailable for this model"
"""How reports name a method that refused to run (:attr:`MethodFailure.unavailable`)."""


@dataclass(frozen=True)
class MethodFailure:
    """A method (or one of its targets) that produced no explanation, and why."""

    method: str
    error: str
    """Exception class name, e.g. ``"ValidationError"``."""
    message: str
    target: int | None = None
    """The target it failed for, or ``None`` when the whole method failed."""

    @property
    def unavailable(self) -> bool:
        """Whether the method refused to run (``MethodUnavailableError``: a library is missing, or it cannot
        explain this model, as it said upfront) rather than failed."""
        return self.error == "MethodUnavailableError"

    @property
    def status(self) -> str:
        """``"unavailable for this model"`` or ``"failed"``, as reports show it."""
        return UNAVAILABLE if self.unavailable else "failed"

    def __str__(self) -> str:
        where = self.method if self.target is None else f"{self.method} (target {self.target})"
        return f"{where}: {self.error}: {self.message}"


@dataclass
class Comparison:
    """Explanations per method × target for one image, in the order asked."""

    image: np.ndarray
    probabilities: np.ndarray
    """The model's probabilities for the image, shape ``K``."""
    targets: list[int]
    labels: dict[int, str | None]
    """Class names of the targets and of the top-5 classes, where the model has labels."""
    methods: list[str]
    explanations: list[Explanation] = field(default_factory=list)
    failures: list[MethodFailure] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    """Wall seconds per method as if it ran alone (the same whatever the order of ``methods``), failed
    methods included: its own time plus the recorded cost of the shared work it reused."""
    forward_passes: dict[str, int] = field(default_factory=dict)
    """Model evaluations per method as if it ran alone, failed methods included; metric evaluations are
    not counted."""
    reused_seconds: dict[str, float] = field(default_factory=dict)
    """Per method, the part of ``timings`` that an earlier method of this call had already spent on
    shared work (superpixels, perturbations): what sharing saved. Seconds spent = timings − reused."""
    reused_forward_passes: dict[str, int] = field(default_factory=dict)
    """Per method, the part of ``forward_passes`` an earlier method of this call had already spent."""
    seed: int | None = None
    notes: list[str] = field(default_factory=list)
    """What xaihub decided about the model that the reader should know (which output was read, ...)."""

    def __iter__(self) -> Iterator[Explanation]:
        return iter(self.explanations)

    def __len__(self) -> int:
        return len(self.explanations)

    @property
    def ok(self) -> bool:
        """True when every method gave an explanation for every target."""
        return not self.failures

    def get(self, method: str, target: int | None = None) -> Explanation:
        """The explanation of ``method`` for ``target`` (default: the first target)."""
        target = self.targets[0] if target is None else target
        for explanation in self.explanations:
            if explanation.method == method and explanation.target == target:
                return explanation
        failure = next((f for f in self.failures if f.method == method), None)
        reason = f": {failure}" if failure else ""
        raise KeyError(f"no explanation for method {method!r}, target {target}{reason}")

    def by_method(self, method: str) -> list[Explanation]:
        return [e for e in self.explanations if e.method == method]

    def failure(self, method: str) -> MethodFailure | None:
        return next((f for f in self.failures if f.method == method), None)

    def save(self, directory: str | os.PathLike) -> list[str]:
        """Save each explanation as ``<method>__<target>.npz`` under ``directory``; return the paths."""
        os.makedirs(directory, exist_ok=True)
        paths = []
        for explanation in self.explanations:
            path = os.path.join(directory, f"{_safe(explanation.method)}__{explanation.target}.npz")
            explanation.save(path)
            paths.append(path)
        return paths

    def agreement(self) -> Agreement:
        """Spearman rank correlation between every pair of methods' maps, averaged over targets.

        Returns ``(matrix, methods)``; see :func:`xaihub.core.agreement.agreement`.
        """
        return agreement(self)

    def report(self, path: str | os.PathLike, title: str = "xaihub comparison", **options: Any) -> str:
        """Write a self-contained HTML report (images embedded, no network needed) and return its path.

        ``options`` are those of :func:`xaihub.report_many`, checked alike (an unknown one is an ``InputError``
        that lists them): ``scale="map"`` colours each map by its own range, ``"row"`` shares one range per
        target; ``coverage`` is the fraction of superpixels the superpixel view shows; ``map_size`` the width of
        a map card and ``large_maps`` the width of the large view (``None``: none); ``sort_by`` orders the cost and
        metric tables (``"seconds"``, ``"forward_passes"``, ``"name"`` or a metric); ``chart_metric`` and
        ``chart_cost`` choose the axes of the faithfulness-vs-cost chart.
        """
        return _view("report")([self], path, title=title, **options)

    def figure(self, scale: str = "map", target: int | None = None) -> "Figure":
        """The report's maps as a matplotlib ``Figure`` (``fig.savefig`` exports PNG, SVG, PDF): for ``target``,
        or one block per target; the input then the methods grouped by family, wrapped into rows."""
        return _view("figure")(self, scale=scale, target=target)

    def save_figures(self, directory: str | os.PathLike, format: str = "png", scale: str = "map") -> list[str]:
        """Write :meth:`figure` once per target as ``maps-target-<t>.<format>`` (``png``, ``svg`` or ``pdf``)
        under ``directory``; return the paths."""
        return _view("save_figures")(self, directory, format=format, scale=scale)

    def _repr_html_(self) -> str:
        return _view("notebook_html")(self)

    def summary(self) -> str:
        """A plain-text table of methods, targets, scores, costs alone (and the part reused from another
        method) and failures; an explanation's :attr:`~xaihub.Explanation.cautions` (a degenerate map, an unmet
        stopping rule, an unsettled top-k, skipped metrics) in its status, and :meth:`cautions` below."""
        rows = [("method", "target", "label", "score", "seconds", "forward passes", "reused", "status")]
        for method in self.methods:
            reused = self._reused(method)
            for explanation in self.by_method(method):
                rows.append((
                    method, str(explanation.target), explanation.label or "", f"{explanation.score:.3f}",
                    f"{explanation.seconds:.3f}", str(explanation.forward_passes), reused,
                    "; ".join([_status(explanation), *explanation.cautions]),
                ))
            for failure in (f for f in self.failures if f.method == method):
                target = "" if failure.target is None else str(failure.target)
                rows.append((method, target, "", "", f"{self.timings.get(method, 0.0):.3f}", "", reused,
                             f"{failure.status.upper()}: {failure.message}" if failure.unavailable
                             else f"FAILED {failure.error}: {failure.message}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows]
        notes = [f"note: {note}" for note in [*self.notes, *self.cautions()]]
        return "\n".join([*(line.rstrip() for line in lines), *notes])

    def cautions(self) -> list[str]:
        """One sentence per method whose explanations a reader should not take at face value: degenerate maps
        (metrics not computed on them), unmet stopping rules, unsettled top-k, and targets the method refused."""
        found = []
        for method in self.methods:
            said: dict[str, list[int]] = {}
            for explanation in self.by_method(method):
                for caution in explanation.cautions:
                    said.setdefault(caution, []).append(explanation.target)
            found += [f"{method}: {caution} (target{'s' if len(t) > 1 else ''} {', '.join(map(str, t))})"
                      for caution, t in said.items()]
            refused = [f for f in self.failures if f.method == method and f.unavailable]
            if refused and self.by_method(method):
                found.append(f"{method} refused part of the targets: {refused[0].message}")
        return found


    def _reused(self, method: str) -> str:
        seconds, passes = self.reused_seconds.get(method, 0.0), self.reused_forward_passes.get(method, 0)
        return f"{seconds:.3f} s, {passes} passes" if seconds or passes else ""


def _status(explanation: Explanation) -> str:
    failed = explanation.extras.get("metric_failures")
    if not isinstance(failed, dict) or not failed:
        return "ok"
    return "ok; " + "; ".join(f"metric {name} FAILED: {reason}" for name, reason in failed.items())


_VIEWS: dict[str, Callable[..., Any]] = {}
VIEWS = ("report", "figure", "save_figures", "notebook_html")
"""The views :mod:`xaihub.report` provides: ``report(comparisons, path, title, **options)`` (the HTML page),
``figure(comparison, scale, target)``, ``save_figures(comparison, directory, format, scale)`` and
``notebook_html(comparison)``."""


def provide_views(**views: Callable[..., Any]) -> None:
    """Called by :mod:`xaihub.report` with every view of :data:`VIEWS`, by name."""
    unknown = sorted(set(views) - set(VIEWS))
    if unknown:
        raise XaihubError(f"unknown comparison view(s) {unknown}; the views are {list(VIEWS)}")
    _VIEWS.update(views)


def _view(name: str) -> Callable[..., Any]:
    try:
        return _VIEWS[name]
    except KeyError:
        raise XaihubError(f"no {name} view: xaihub.report provides it when imported (import xaihub)") from None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
