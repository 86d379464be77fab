"""Is a metric reliable *on this model*? A MetaQuantus-style check (Hedström et al., TMLR 2023), on a few images.

A metric is worth believing when it ranks the methods the same way under a perturbation that should not matter,
and differently under one that should:

* **resilience** (MetaQuantus' IEC under minor noise): the methods' maps are kept and the image gets a small
  Gaussian noise (``noise`` × 255, well below what changes the model's prediction), each draw with a new seed
  for the metric's own random choices; the agreement (Kendall's τ, negative counted as 0) between the methods'
  ranking on the image before and after. A metric whose values are noise keeps the order by chance only (τ ≈ 0).
* **reactivity** (IEC under a disruptive perturbation): each map is replaced by a random permutation of its
  pixels, which destroys whatever it said; 1 − τ between the ranking before and after. A metric that does not
  look at the map (or gives every map the same value) keeps the order: reactivity 0.

Kendall's τ rather than MetaQuantus' share of methods keeping their exact rank: among a dozen methods whose values
are close, a small noise swaps neighbours without reordering the ranking, and the exact-rank share called SRG and
deletion unreliable on EfficientNet-Lite0 (0.27 and 0.58) where τ does not.

A metric value is **reliable** when both shares reach :data:`THRESHOLD`. The check needs at least
:data:`MIN_METHODS` non-degenerate methods on an image; metrics that run the method again (the randomisation
checks) are not checked here: they cost a method run per draw.

MetaQuantus itself needs its own explanation function per perturbed model and runs for hours; this check
reuses the maps a run saved and costs ``images × methods × (2 × draws + 1)`` metric evaluations.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from xaihub.core.errors import XaihubError
from xaihub.core.maps import degenerate_reason
from xaihub.evaluation.ranking import lower_is_better

if TYPE_CHECKING:
    from xaihub.core.explanation import Explanation
    from xaihub.models import ModelAdapter
    from xaihub.run.measure import MetricRequests

FILE_NAME = "reliability.json"
"""Where :func:`save_reliability` keeps a run's check, beside its index."""
THRESHOLD = 0.6
"""Resilience and reactivity must both reach this for a metric to be called reliable (ours)."""
NOISE = 0.01
"""The minor perturbation's standard deviation, as a share of the pixel range (2.55 of 255)."""
DRAWS = 1
IMAGES = 2
MIN_METHODS = 4


@dataclass(frozen=True)
class Reliability:
    """One metric value's resilience and reactivity on this model."""

    value: str
    resilience: float
    reactivity: float
    images: int
    methods: int

    @property
    def reliable(self) -> bool:
        return self.resilience >= THRESHOLD and self.reactivity >= THRESHOLD

    @property
    def reason(self) -> str:
        """Why the metric is unreliable here ("" when it is reliable)."""
        why = []
        if self.resilience < THRESHOLD:
            why.append(f"a small input noise reorders the methods (Kendall's τ {self.resilience:.2f})")
        if self.reactivity < THRESHOLD:
            why.append(f"shuffled maps hardly reorder the methods (1 − τ = {self.reactivity:.2f})")
        return "; ".join(why)

    def __str__(self) -> str:
        verdict = "reliable" if self.reliable else f"unreliable: {self.reason}"
        return (f"{self.value}: resilience {self.resilience:.2f}, reactivity {self.reactivity:.2f} "
                f"({self.images} images × {self.methods} methods) — {verdict}")


def check_reliability(model: "ModelAdapter", explanations: Mapping[str, Sequence["Explanation"]],
                      metrics: "MetricRequests", seed: int = 0, draws: int = DRAWS,
                      noise: float = NOISE) -> dict[str, Reliability]:
    """The reliability of every value of ``metrics`` (``{name: params}``) that ranks methods, on ``explanations``
    (``{image id: one explanation per method, each carrying its image}``, a few images).

    Metrics that run the method again, and values that are not scores (flags, facts), are left out; so are images
    with fewer than :data:`MIN_METHODS` non-degenerate maps. A metric that fails on a perturbed input counts as
    keeping no rank there.
    """
    from xaihub.registry.plugins import get_metric
    from xaihub.run.measure import measure

    requests = {name: params for name, params in metrics.items() if not get_metric(name).metric.reruns_method}
    kept: dict[str, float] = {}
    moved: dict[str, float] = {}
    counted: dict[str, int] = {}
    used: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    rng = np.random.default_rng(seed)
    for image_id, group in explanations.items():
        group = [e for e in group if e.image is not None and degenerate_reason(e.attribution) is None]
        if len(group) < MIN_METHODS:
            continue

        def scores(items: Sequence["Explanation"], metric_seed: int) -> dict[str, np.ndarray]:
            table: dict[str, list[float]] = {}
            for i, explanation in enumerate(items):
                for result in measure(requests, model, explanation, metric_seed):
                    for name, value in result.values.items():
                        table.setdefault(name, [math.nan] * len(items))[i] = value
            return {name: np.asarray(values) for name, values in table.items() if lower_is_better(name) is not None}

        reference = _recorded(group, _value_names(requests)) or scores(group, seed)
        for draw in range(draws):
            noisy = _with_noise(group[0].image, noise, rng)
            minor = scores([dataclasses.replace(e, image=noisy, extras=dict(e.extras)) for e in group], seed + draw + 1)
            disruptive = scores([dataclasses.replace(e, attribution=_shuffled(e.attribution, rng),
                                                     extras=dict(e.extras)) for e in group], seed)
            for name, values in reference.items():
                if name not in _value_names(requests):
                    continue
                base = _ranks(values, name)
                kept[name] = kept.get(name, 0.0) + max(0.0, _tau(base, _ranks(minor.get(name), name, len(group))))
                moved[name] = moved.get(name, 0.0) + 1.0 - max(
                    0.0, _tau(base, _ranks(disruptive.get(name), name, len(group))))
                counted[name] = counted.get(name, 0) + 1
                used.setdefault(name, set()).add(image_id)
                sizes[name] = max(sizes.get(name, 0), len(group))
    return {name: Reliability(name, kept[name] / counted[name], moved[name] / counted[name], len(used[name]),
                              sizes[name]) for name in counted}


def _tau(first: np.ndarray, second: np.ndarray) -> float:
    """Kendall's τ between two rankings; 1 for two identical rankings, ties everywhere included (a constant
    metric's), 0 when a value is missing from either."""
    from scipy.stats import kendalltau

    if np.any(np.isnan(first)) or np.any(np.isnan(second)):
        return 0.0
    if np.array_equal(first, second):
        return 1.0
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return 0.0
    return float(kendalltau(first, second).statistic)


def _recorded(items: Sequence["Explanation"], names: set[str]) -> dict[str, np.ndarray] | None:
    """The values the run already computed on ``items`` (same metrics, seed and reading), when every map has every
    rankable one of ``names``; ``None`` otherwise (then they are computed again)."""
    table = {}
    for name in names:
        if lower_is_better(name) is None:
            continue
        column = [e.metrics.get(name) for e in items]
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in column):
            return None
        table[name] = np.asarray(column, np.float64)
    return table or None


def _value_names(requests: "MetricRequests") -> set[str]:
    from xaihub.registry.plugins import get_metric

    return {value for name in requests for value in get_metric(name).metric.lower_is_better}


def _ranks(values: np.ndarray | None, name: str, size: int | None = None) -> np.ndarray:
    """Ranks (1 = best, ties share the mean) of ``values``; a missing or non-finite value ranks as NaN, which
    equals no rank."""
    from scipy.stats import rankdata

    if values is None:
        return np.full(size or 0, np.nan)
    sign = 1.0 if lower_is_better(name) else -1.0
    finite = np.isfinite(values)
    ranks = rankdata(np.where(finite, sign * np.where(finite, values, 0.0), np.inf)).astype(np.float64)
    ranks[~finite] = np.nan
    return ranks


def _with_noise(image: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    noisy = image.astype(np.float64) + rng.normal(0.0, noise * 255.0, image.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(image.dtype)


def _shuffled(attribution: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    flat = np.asarray(attribution).reshape(-1).copy()
    rng.shuffle(flat)
    return flat.reshape(np.shape(attribution))


def reliability_of_run(model: "ModelAdapter", out: str | os.PathLike, lines: Sequence[dict[str, Any]],
                       metrics: "MetricRequests", seed: int = 0, images: int = IMAGES, draws: int = DRAWS,
                       noise: float = NOISE) -> dict[str, Reliability]:
    """:func:`check_reliability` on the first ``images`` images of a run directory (its saved maps, the first
    target of each method), for the ``metrics`` that take no per-image parameter (an object mask)."""
    from xaihub.run.measure import metrics_taking
    from xaihub.run.run_directory import load_explanation

    requests = {name: params for name, params in metrics.items() if name not in metrics_taking(metrics, "mask")}
    chosen: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line.get("status") == "ok" and isinstance(line.get("file"), str):
            group = chosen.setdefault(str(line.get("image")), {})
            group.setdefault(str(line.get("method")), line)
    picked = {image: group for image, group in list(chosen.items())[:images]}
    explanations = {image: [_with_recorded_metrics(load_explanation(out, line), line) for line in group.values()]
                    for image, group in picked.items()}
    return check_reliability(model, explanations, requests, seed, draws, noise) if requests else {}


def _with_recorded_metrics(explanation: "Explanation", line: Mapping[str, Any]) -> "Explanation":
    recorded = line.get("metrics")
    if isinstance(recorded, Mapping):
        explanation.metrics.update({k: v for k, v in recorded.items() if k not in explanation.metrics})
    return explanation


def save_reliability(out: str | os.PathLike, found: Mapping[str, Reliability]) -> None:
    """Keep a run's reliability check in ``out/`` (:data:`FILE_NAME`), for reports made later from the run."""
    from xaihub.core.files import atomic_output

    with atomic_output(os.path.join(out, FILE_NAME)) as temporary:
        with open(temporary, "w", encoding="utf-8") as fh:
            json.dump({name: dataclasses.asdict(r) for name, r in found.items()}, fh, indent=1)


def load_reliability(out: str | os.PathLike) -> dict[str, Reliability] | None:
    """The reliability check kept in run directory ``out``, or ``None`` when none was (or it is unreadable)."""
    from xaihub.core import contained

    if not os.path.lexists(os.path.join(out, FILE_NAME)):
        return None
    try:
        with contained.open_for_reading(out, FILE_NAME) as fh:
            data = json.loads(fh.read(1 << 20))
        return {name: Reliability(name, float(r["resilience"]), float(r["reactivity"]), int(r["images"]),
                                  int(r["methods"])) for name, r in data.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, XaihubError):
        return None
