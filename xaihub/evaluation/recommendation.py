"""Which methods to trust for one model, from a run over many images: a verdict on several criteria, each metric
held to its reliability on this model, each method held to controls, and a statement of what the verdict lacks.

The rules, in order (each method's value on an image is the mean over its explained targets):

1. **Degenerate maps are never ranked.** A method whose map is constant, all zero or not finite on an image
   (:func:`xaihub.core.maps.degenerate_reason`) has no metric value there, and the verdict names it.
2. **Unreliable metrics do not vote.** When a reliability check ran (:mod:`xaihub.evaluation.reliability`), a
   metric value that fails it is left out of every criterion, with the reason. **Nor do faithfulness metrics that
   cannot tell a map from noise on this model**: one on which the random map (:data:`RANDOM_CONTROL`) out-ranks
   most of the methods (pixel deletion's out-of-distribution artefact rewards scattered maps; so does the
   degradation test on digits). Reliability is not validity: such a metric is stable and reactive, and still
   measures the artefact. While no other faithfulness metric is left, it votes, and the verdict says what it lacks.
3. **Randomisation.** A method fails when its maps do not depend on the weights by any randomisation value of
   the run: its first value (:data:`xaihub.evaluation.criteria.CRITERIA`: eMPRT first, which smooth maps cannot
   fool) is no better than the best control's (a map that ignores the weights, e.g. the edge detector
   ``baseline.edges``), *and* MPRT's flag (Spearman > 0.5) is up on most of its images. eMPRT alone would fail
   superpixel maps, whose entropy hardly changes although the map changes completely.
4. **Faithfulness against the controls.** On each image the methods are ranked on every reliable faithfulness
   metric; a method must have a better mean rank than the best control. The paired tests (one-sided Wilcoxon,
   Holm-corrected over the methods) decide too once they can (:func:`xaihub.evaluation.ranking.decidable`: 6
   images or more, and enough for the number of methods); before that the means decide and the verdict says so.
5. **The survivors are ordered by the aggregated rank** over the ranked criteria (faithfulness, randomisation,
   robustness, localisation; :mod:`xaihub.evaluation.aggregation`), with bootstrap intervals over images;
   the criteria's agreement (Kendall's W) is shown beside it.

A gate that could not run (no control, no randomisation check on a predict function, no reliability check) is
named in :attr:`Recommendation.missing`; the methods that pass the others are then "best supported", never
"trusted".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from xaihub.evaluation.aggregation import Aggregation, aggregate, image_ranks
from xaihub.evaluation.criteria import BY_NAME, present
from xaihub.evaluation.dataset_statistics import per_image
from xaihub.evaluation.ranking import ALPHA, MARGIN, decidable, holm, is_better, lower_is_better, wilcoxon_p
from xaihub.run.run_directory import accuracy

if TYPE_CHECKING:
    from xaihub.core.comparison import Comparison
    from xaihub.evaluation.reliability import Reliability

SANITY_FLAG = "sanity.randomization.flagged"
MIN_TESTED = 6
"""Below this many paired images a two-sided Wilcoxon test cannot reach p < 0.05: the means decide alone."""
RANDOM_CONTROL = "baseline.noise"
"""The control a faithfulness metric must tell maps from: a map of uniform noise."""
MIN_DISCRIMINATED = 3
"""The discrimination gate needs at least this many methods besides the controls."""
EDGE_CONTROL = "baseline.edges"
"""The image-only control: a map of the image's edges, which knows nothing of the model."""


@dataclass(frozen=True)
class Recommendation:
    """The verdict on one model: which methods to trust, on which criteria, and what the verdict lacks."""

    metric: str
    """The faithfulness metric the controls are first compared on (the criterion's first reliable value)."""
    images: int
    """Images with a value of a ranked metric for at least one method."""
    recommended: list[str]
    """Best aggregated rank first: the methods that pass every gate that ran."""
    means: dict[str, float]
    """Every method's (and control's) mean of :attr:`metric`."""
    criteria: dict[str, list[str]] = field(default_factory=dict)
    """``{criterion: [metric values that voted]}``."""
    aggregation: Aggregation | None = None
    indistinguishable: list[tuple[str, str]] = field(default_factory=list)
    """Neighbours in :attr:`recommended` whose per-image faithfulness ranks a paired test does not separate."""
    fails_sanity: dict[str, str] = field(default_factory=dict)
    """Methods that fail the randomisation gate, with why."""
    below_baselines: list[str] = field(default_factory=list)
    """Methods (passing randomisation) that do not beat the best control on faithfulness."""
    baseline: str | None = None
    """The best control on faithfulness, the one every method is held to."""
    tested: bool = False
    """Whether there were enough images (:data:`MIN_TESTED`) for the tests to decide."""
    pointing: dict[str, float] = field(default_factory=dict)
    """Mean pointing game per method, when the run had object masks."""
    degenerate: dict[str, str] = field(default_factory=dict)
    """Methods with degenerate maps: ``{method: "a constant map on 3 of 8 images"}``."""
    unreliable: dict[str, str] = field(default_factory=dict)
    """Metric values left out because they failed the reliability check here, with why."""
    reliability: dict[str, "Reliability"] = field(default_factory=dict)
    uncovered: dict[str, str] = field(default_factory=dict)
    """Methods not compared (failed everywhere, no metric value, too few images), with why."""
    readings: dict[str, list[str]] = field(default_factory=dict)
    """``{"magnitude" | "signed": [methods]}``: how the metrics read each method's maps."""
    missing: list[str] = field(default_factory=list)
    """What the verdict could not check; while anything is missing nothing is called trusted."""
    notes: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)
    indiscriminate: dict[str, str] = field(default_factory=dict)
    """Faithfulness values left out because the random map out-ranks most methods on them, with the counts."""
    """The controls (maps that know nothing of the model) the run scored."""

    def lines(self) -> list[str]:
        """The verdict in sentences."""
        voted = "; ".join(f"{c} ({', '.join(v)})" for c, v in self.criteria.items())
        said = [f"For this model, over {self.images} image(s), on the criteria {voted or 'none'}:"]
        ranks = self.aggregation.overall if self.aggregation else {}
        order = ", then ".join(f"{m} (rank {ranks[m]})" if m in ranks else m for m in self.recommended)
        if self.recommended and not self.missing:
            said.append(f"trust {order}.")
        elif self.recommended:
            said.append(f"best supported: {order} — not yet a recommendation to trust, because "
                        f"{'; '.join(self.missing)}.")
        else:
            said.append("no method passes every check." + (f" Missing: {'; '.join(self.missing)}."
                                                          if self.missing else ""))
        said += [f"{a} and {b} are not distinguishable on these images (paired Wilcoxon on per-image faithfulness "
                 f"ranks, Holm-adjusted p ≥ {ALPHA})." for a, b in self.indistinguishable]
        said += [f"{m} fails the randomisation check: {why}." for m, why in self.fails_sanity.items()]
        if self.baseline is not None:
            said += [f"{m} does not beat the {self.baseline} control on faithfulness." for m in self.below_baselines]
        ranked = self.aggregation.overall if self.aggregation else {}
        said += [f"{m} {'is ranked on its other images only' if m in ranked else 'is not ranked'}: {why} "
                 "(a degenerate map gets no metric value)." for m, why in self.degenerate.items()]
        said += [f"{m} is not compared: {why}." for m, why in self.uncovered.items()]
        said += [f"{v} is left out: unreliable on this model ({why})." for v, why in self.unreliable.items()]
        said += [f"{v} is left out: it cannot tell a map from noise on this model ({why})."
                 for v, why in self.indiscriminate.items()]
        if self.aggregation is not None and self.aggregation.agreement is not None:
            said.append(f"The criteria agree with {self.aggregation.agreement} (Kendall's W: 1 = the same order).")
        if self.readings.get("magnitude"):
            said.append("Maps read by their magnitude |map| (pixel-level gradient and relevance maps): "
                        f"{', '.join(self.readings['magnitude'])}; the others signed.")
        if not self.tested:
            said.append(f"With {self.images} image(s) no difference between this many methods can be significant "
                        "(Holm-corrected one-sided Wilcoxon tests): the gates and the order are by the means alone; "
                        "run more images to test them.")
        if self.pointing:
            best = max(self.pointing, key=self.pointing.get)
            said.append(f"On the object masks, {best} points at the object most often ({self.pointing[best]:.0%}).")
        return said + self.notes

    def __str__(self) -> str:
        return " ".join(self.lines())


def recommend(lines: Sequence[dict[str, Any]], baselines: Sequence[str], metric: str | None = None,
              reliability: Mapping[str, "Reliability"] | None = None, notes: Sequence[str] = ()
              ) -> Recommendation | None:
    """The verdict from the current index records of a run (:func:`xaihub.run.run_directory.current_records`),
    ``baselines`` being the controls among them; ``None`` when no faithfulness metric was computed.

    :param metric: the faithfulness metric to compare with the controls first (default: the criterion's first
        reliable value the run has).
    :param reliability: per metric value, its :class:`~xaihub.evaluation.reliability.Reliability` on this model;
        unreliable values do not vote. ``None``: not checked (said in :attr:`Recommendation.missing`).
    :param notes: sentences to add (e.g. that the model is not deterministic).
    """
    lines = list(lines)
    names = {name for line in lines for name in (line.get("metrics") or {})}
    unreliable = {name: r.reason for name, r in (reliability or {}).items() if not r.reliable and name in names}
    criteria = {c: [v for v in vs if v not in unreliable] for c, vs in present(names).items()}
    criteria = {c: vs for c, vs in criteria.items() if vs}
    methods = list(dict.fromkeys(str(line.get("method")) for line in lines))
    controls = [b for b in baselines if b in methods]
    indiscriminate = _indiscriminate(lines, criteria.get("faithfulness", []), methods, controls)
    if indiscriminate and set(indiscriminate) != set(criteria.get("faithfulness", [])):
        criteria["faithfulness"] = [v for v in criteria["faithfulness"] if v not in indiscriminate]
    faithful = criteria.get("faithfulness", [])
    if metric is not None:
        faithful = [metric] + [v for v in faithful if v != metric]
        criteria["faithfulness"] = faithful
    if not faithful:
        return None
    metric = faithful[0]
    values = {name: per_image(lines, name) for vs in criteria.values() for name in vs}
    degenerate, uncovered = _degenerate(lines), _uncovered(lines, values)
    compared = [m for m in methods if m not in uncovered and any(m in v for v in values.values())]
    ranked = {c: vs for c, vs in criteria.items() if BY_NAME[c].ranked}
    aggregation = aggregate(values, ranked, compared)
    for name, left_out in aggregation.uncovered.items():
        for m in left_out:
            if m not in aggregation.overall:
                uncovered.setdefault(m, f"too few images with {name} ({len(values[name].get(m, {}))})")
    images = len({image for per in values[metric].values() for image in per})
    candidates = [m for m in aggregation.methods if m not in controls]
    tested = images >= MIN_TESTED and decidable(images, len(candidates))
    fails = _randomisation_failures(lines, criteria.get("randomisation", []), values, candidates, controls, tested)
    survivors = [m for m in candidates if m not in fails]
    faithfulness_ranks = _per_image_ranks(values, faithful, compared)
    best_control = _best_control(faithfulness_ranks, controls)
    beats = _beats(faithfulness_ranks, survivors, best_control, tested) if best_control else {}
    recommended = [m for m in survivors if beats.get(m, best_control is None)]
    missing = _missing(controls, best_control, criteria, reliability, lines)
    if indiscriminate and all(v in indiscriminate for v in faithful):
        missing.append(f"no faithfulness metric of the run tells a map from noise on this model "
                       f"({', '.join(faithful)}: the {RANDOM_CONTROL} control out-ranks most methods); add srg or "
                       "quantus.road")
    correct, labelled = accuracy(lines)
    if correct is not None:
        notes = [f"The model's top-1 accuracy on the {labelled} image(s) with a true label: {correct:.0%}.", *notes]
    means = {m: float(np.mean(list(v.values()))) for m, v in values[metric].items()}
    pointing = {m: float(np.mean(list(v.values()))) for m, v in
                (per_image(lines, "pointing_game") or per_image(lines, "quantus.pointing_game")).items()
                if m not in controls}
    return Recommendation(
        metric, images, recommended, means, criteria, aggregation,
        _indistinguishable(faithfulness_ranks, recommended) if tested else [], fails,
        [m for m in survivors if best_control and not beats.get(m)], best_control, tested, pointing, degenerate,
        unreliable, dict(reliability or {}), uncovered, _readings(lines), missing, list(notes), controls,
        {v: why for v, why in indiscriminate.items() if v not in faithful})


def comparison_lines(comparison: "Comparison") -> list[dict[str, Any]]:
    """The explanations and failures of one image (a :class:`~xaihub.Comparison`) as index-like records whose
    unit is the target (``"image"`` holds ``"target <k>"``), for :func:`recommend` on a single image."""
    lines: list[dict[str, Any]] = [
        {"image": f"target {e.target}", "method": e.method, "target": e.target, "status": "ok",
         "metrics": dict(e.metrics), "extras": dict(e.extras)} for e in comparison.explanations]
    lines += [{"image": f"target {f.target}", "method": f.method, "target": f.target, "status": "error",
               "error": f.error, "message": f.message} for f in comparison.failures]
    return lines


def _missing(controls: list[str], best_control: str | None, criteria: dict[str, list[str]],
             reliability: Mapping[str, Any] | None, lines: list[dict[str, Any]]) -> list[str]:
    missing = []
    if not controls or best_control is None:
        missing.append("no control map (a random map, a centred blob, the image's edges) was scored, so no "
                       "method is shown to beat a map that knows nothing about the model")
    if "randomisation" not in criteria and not per_image(lines, SANITY_FLAG):
        missing.append("no randomisation check ran (a predict function has no weights to randomise), so nothing "
                       "shows that the maps depend on the model")
    if reliability is None:
        missing.append("the metrics' reliability on this model was not checked")
    return missing


def _indiscriminate(lines: list[dict[str, Any]], faithful: list[str], methods: list[str], controls: list[str]
                    ) -> dict[str, str]:
    """``{value: why}``: the faithfulness values on which :data:`RANDOM_CONTROL`'s mean per-image rank beats
    more than half of the other methods' (at least :data:`MIN_DISCRIMINATED` of them)."""
    found = {}
    for name in faithful:
        _images, ranks, kept = image_ranks(per_image(lines, name), name, methods)
        if RANDOM_CONTROL not in kept or not len(ranks):
            continue
        mean = dict(zip(kept, ranks.mean(axis=0)))
        others = [m for m in kept if m not in controls]
        beaten = [m for m in others if mean[RANDOM_CONTROL] < mean[m]]
        if len(others) >= MIN_DISCRIMINATED and len(beaten) > len(others) / 2:
            found[name] = f"{RANDOM_CONTROL} out-ranks {len(beaten)} of {len(others)} methods on it"
    return found


def _degenerate(lines: list[dict[str, Any]]) -> dict[str, str]:
    """``{method: "a constant map on 2 of 5 images"}`` from the ``degenerate`` reason the runner records."""
    found: dict[str, dict[str, set[str]]] = {}
    images: dict[str, set[str]] = {}
    for line in lines:
        if line.get("status") != "ok":
            continue
        method, image = str(line.get("method")), str(line.get("image"))
        images.setdefault(method, set()).add(image)
        reason = (line.get("extras") or {}).get("degenerate")
        if isinstance(reason, str):  # "constant map (every pixel 0.5)": grouped by kind, not by value
            found.setdefault(method, {}).setdefault(reason.split(" (")[0], set()).add(image)
    return {m: "; ".join(f"{reason} on {len(on)} of {len(images[m])} image(s)" for reason, on in reasons.items())
            for m, reasons in found.items()}


def _uncovered(lines: list[dict[str, Any]], values: dict[str, dict[str, dict[str, float]]]) -> dict[str, str]:
    """Methods with no value of any voting metric, and why (their failures, their metrics' failures)."""
    why: dict[str, str] = {}
    has_value = {m for per in values.values() for m in per}
    for line in lines:
        method = str(line.get("method"))
        if method in has_value or method in why:
            continue
        if line.get("status") != "ok":
            why[method] = f"it failed ({line.get('error')}: {str(line.get('message'))[:120]})"
        else:
            failures = (line.get("extras") or {}).get("metric_failures")
            degenerate = (line.get("extras") or {}).get("degenerate")
            why[method] = ("its maps are degenerate" if degenerate else
                           f"its metrics failed ({'; '.join(f'{k}: {v}' for k, v in failures.items())})"
                           if isinstance(failures, dict) and failures else "no metric value (NaN or not computed)")
    return why


def _readings(lines: list[dict[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in lines:
        readings = (line.get("extras") or {}).get("metric_readings")
        if isinstance(readings, dict):
            for reading in set(readings.values()):
                if isinstance(reading, str) and str(line.get("method")) not in found.get(reading, []):
                    found.setdefault(reading, []).append(str(line.get("method")))
    return found


def _per_image_ranks(values: dict[str, dict[str, dict[str, float]]], metrics: list[str], methods: list[str]
                     ) -> dict[str, dict[str, float]]:
    """``{method: {image: mean rank over metrics}}``: each image's rank of each method (1 = best) among
    ``methods``, averaged over the ``metrics`` that rank it there."""
    collected: dict[str, dict[str, list[float]]] = {}
    for metric in metrics:
        shared, ranks, kept = image_ranks(values.get(metric, {}), metric, methods)
        for i, image in enumerate(shared):
            for j, method in enumerate(kept):
                collected.setdefault(method, {}).setdefault(image, []).append(float(ranks[i, j]))
    return {m: {image: float(np.mean(r)) for image, r in per.items()} for m, per in collected.items()}


def _best_control(ranks: dict[str, dict[str, float]], controls: list[str]) -> str | None:
    present_controls = [c for c in controls if ranks.get(c)]
    return min(present_controls, key=lambda c: np.mean(list(ranks[c].values()))) if present_controls else None


def _beats(ranks: dict[str, dict[str, float]], methods: list[str], control: str, tested: bool) -> dict[str, bool]:
    """Per method, whether its per-image faithfulness rank beats ``control``'s: by the mean, and (when
    ``tested``) by a Holm-corrected paired Wilcoxon test."""
    def mean(m: str) -> float:
        return float(np.mean(list(ranks[m].values()))) if ranks.get(m) else math.inf

    better = {m: mean(m) < mean(control) - MARGIN for m in methods}
    if not tested:
        return better
    adjusted = holm([_paired_p(ranks, m, control, "less") for m in methods])
    return {m: better[m] and bool(p < ALPHA) for m, p in zip(methods, adjusted)}


def _randomisation_failures(lines: list[dict[str, Any]], metrics: list[str],
                            values: dict[str, dict[str, dict[str, float]]], methods: list[str],
                            controls: list[str], tested: bool) -> dict[str, str]:
    """Methods whose maps do not depend on the weights by any randomisation value the run has, with why.

    A method passes when its first randomisation value (eMPRT where computed) beats the best control's — by the
    median, and with a Holm-corrected one-sided Wilcoxon test when ``tested`` — or when MPRT does not flag it on
    most of its images. Both are needed: eMPRT, which smooth maps cannot fool, stays near 0 for superpixel maps
    (LIME, Kernel SHAP) whose Spearman shows they changed completely.
    """
    name = metrics[0] if metrics else SANITY_FLAG
    per = values.get(name, {})
    reference = [c for c in controls if per.get(c)]
    flagged = per_image(list(lines), SANITY_FLAG)
    if not (metrics and reference) and not flagged:
        return {}
    lower = bool(lower_is_better(name))
    best = min(reference, key=lambda c: (1 if lower else -1) * float(np.median(list(per[c].values())))) \
        if metrics and reference else None
    checked = [m for m in methods if per.get(m)] if best else []
    alternative = "less" if lower else "greater"
    p_values = dict(zip(checked, holm([_paired_p(per, m, best, alternative) for m in checked]))) if tested else {}
    fails: dict[str, str] = {}
    for m in methods:
        said = []
        if m in checked:
            value, control = float(np.median(list(per[m].values()))), float(np.median(list(per[best].values())))
            if is_better(value, control, name) and (not tested or p_values[m] < ALPHA):
                continue
            said.append(f"its {name} (median {value:.3f}) is no better than the {best} control's ({control:.3f})")
        shares = list(flagged.get(m, {}).values())
        if shares and sum(shares) / len(shares) <= 0.5:
            continue
        if shares:
            said.append(f"MPRT flags it on {sum(shares) / len(shares):.0%} of its images (its map hardly changes "
                        "when the weights are randomised)")
        if said:
            fails[m] = "; ".join(said) + ": its map shows the image, not the model"
    return fails


def _indistinguishable(ranks: dict[str, dict[str, float]], ranked: list[str]) -> list[tuple[str, str]]:
    pairs = list(zip(ranked, ranked[1:]))
    adjusted = holm([_paired_p(ranks, a, b) for a, b in pairs])
    return [pair for pair, p in zip(pairs, adjusted) if math.isnan(p) or p >= ALPHA]


def _paired_p(values: Mapping[str, Mapping[str, float]], first: str, second: str,
              alternative: str = "two-sided") -> float:
    shared = [image for image in values.get(first, {}) if image in values.get(second, {})]
    return wilcoxon_p([values[first][i] for i in shared], [values[second][i] for i in shared], alternative)

