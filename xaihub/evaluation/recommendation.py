"""Which methods to trust for one model, from a run over many images: ranked by a faithfulness metric, held to
the randomisation sanity check and to the baselines, with the statistics that back each claim.

The rules (each method's value on an image is the mean over its explained targets):

* the **ranking metric** is the first of :data:`RANKING_METRICS` the run computed (or the one asked for);
* a method **fails the sanity check** when ``sanity.randomization.flagged`` is 1 on more than half of its
  images: its map hardly changes when the model's weights are randomised (Adebayo et al. 2018);
* a method **beats the baselines** when its mean is better than the better baseline's (by more than
  :data:`xaihub.evaluation.ranking.MARGIN`) and, with enough images for the test to decide (:data:`MIN_TESTED`), a paired
  Wilcoxon signed-rank test against that baseline, Holm-corrected over the methods, says so at
  :data:`xaihub.evaluation.ranking.ALPHA`;
* the **recommended** methods are those that pass both, best mean first; two neighbours whose paired test
  does not separate them are reported as indistinguishable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from xaihub.evaluation.dataset_statistics import per_image
from xaihub.evaluation.ranking import ALPHA, MARGIN, better_first, holm, is_better, lower_is_better, wilcoxon_p

RANKING_METRICS = ("srg", "deletion", "insertion")
"""The metrics a recommendation ranks by, in order of preference."""
SANITY_FLAG = "sanity.randomization.flagged"
MIN_TESTED = 6
"""Below this many paired images a two-sided Wilcoxon test cannot reach p < 0.05: the means decide alone."""
POINTING = "quantus.pointing_game"


@dataclass(frozen=True)
class Recommendation:
    """The methods to trust on one model, and why the others were left out."""

    metric: str
    images: int
    """Images with a value of :attr:`metric` for at least one method."""
    recommended: list[str]
    """Best first: methods that beat the baselines and pass the sanity check."""
    means: dict[str, float]
    """Every ranked method's (and baseline's) mean of :attr:`metric`."""
    indistinguishable: list[tuple[str, str]] = field(default_factory=list)
    """Neighbours in :attr:`recommended` that the paired test does not separate."""
    fails_sanity: dict[str, float] = field(default_factory=dict)
    """Methods that fail the sanity check, with the share of their images flagged."""
    below_baselines: list[str] = field(default_factory=list)
    """Methods (passing the sanity check) that do not beat the better baseline."""
    baseline: str | None = None
    """The better baseline on :attr:`metric`, the one every method is held to."""
    tested: bool = False
    """Whether there were enough images (:data:`MIN_TESTED`) for the tests to decide."""
    pointing: dict[str, float] = field(default_factory=dict)
    """Mean pointing game per method, when the run had object masks."""

    def lines(self) -> list[str]:
        """The recommendation in sentences."""
        direction = "lower" if lower_is_better(self.metric) else "higher"
        said = [f"For this model, ranked by {self.metric} ({direction} is better) over {self.images} image(s):"]
        if self.recommended:
            order = ", then ".join(f"{m} ({self.means[m]:.3f})" for m in self.recommended)
            said.append(f"trust {order}.")
        else:
            said.append("no method both beats the baselines and passes the sanity check.")
        said += [f"{a} and {b} are not distinguishable on these images (paired Wilcoxon, Holm-adjusted "
                 f"p ≥ {ALPHA})." for a, b in self.indistinguishable]
        said += [f"{m} fails the sanity check: its map hardly changes when the model's weights are randomised "
                 f"(flagged on {share:.0%} of its images)." for m, share in self.fails_sanity.items()]
        if self.baseline is not None:
            said += [f"{m} does not beat the {self.baseline} baseline ({self.means[m]:.3f} against "
                     f"{self.means[self.baseline]:.3f})." for m in self.below_baselines]
        if not self.tested:
            said.append(f"With fewer than {MIN_TESTED} images no difference can be significant: the order is by "
                        "the means alone; run more images to test it.")
        if self.pointing:
            best = max(self.pointing, key=self.pointing.get)
            said.append(f"On the object masks, {best} points at the object most often ({self.pointing[best]:.0%}).")
        return said

    def __str__(self) -> str:
        return " ".join(self.lines())


def recommend(lines: Sequence[dict[str, Any]], baselines: Sequence[str], metric: str | None = None
              ) -> Recommendation | None:
    """The recommendation from the current index records of a run (:func:`xaihub.run.run_directory.current_records`),
    ``baselines`` being the reference methods among them; ``None`` when no ranking metric was computed."""
    metric = metric or next((m for m in RANKING_METRICS if per_image(lines, m)), None)
    if metric is None:
        return None
    values = per_image(lines, metric)
    means = {m: sum(v.values()) / len(v) for m, v in values.items()}
    images = len({image for per in values.values() for image in per})
    present = [b for b in baselines if b in means]
    baseline = better_first({b: means[b] for b in present}, metric)[0] if present else None
    flagged = per_image(lines, SANITY_FLAG)
    fails = {m: sum(v.values()) / len(v) for m, v in flagged.items()
             if m not in baselines and sum(v.values()) / len(v) > 0.5}
    candidates = [m for m in better_first(means, metric) if m not in baselines and m not in fails]
    tested = images >= MIN_TESTED
    beats = _beats(values, candidates, baseline, metric, tested) if baseline else dict.fromkeys(candidates, True)
    recommended = [m for m in candidates if beats[m]]
    pointing = {m: sum(v.values()) / len(v) for m, v in per_image(lines, POINTING).items() if m not in baselines}
    indistinguishable = _indistinguishable(values, recommended) if tested else []
    return Recommendation(metric, images, recommended, means, indistinguishable, fails,
                          [m for m in candidates if not beats[m]], baseline, tested, pointing)


def _beats(values: dict[str, dict[str, float]], methods: list[str], baseline: str, metric: str,
           tested: bool) -> dict[str, bool]:
    """Per method, whether it beats ``baseline``: by its mean, and (when ``tested``) by a Holm-corrected test."""
    means = {m: sum(v.values()) / len(v) for m, v in values.items()}
    better = {m: is_better(means[m], means[baseline], metric, MARGIN) for m in methods}
    if not tested:
        return better
    adjusted = holm([_paired_p(values, m, baseline) for m in methods])
    return {m: better[m] and bool(p < ALPHA) for m, p in zip(methods, adjusted)}


def _indistinguishable(values: dict[str, dict[str, float]], ranked: list[str]) -> list[tuple[str, str]]:
    pairs = list(zip(ranked, ranked[1:]))
    adjusted = holm([_paired_p(values, a, b) for a, b in pairs])
    return [pair for pair, p in zip(pairs, adjusted) if math.isnan(p) or p >= ALPHA]


def _paired_p(values: dict[str, dict[str, float]], first: str, second: str) -> float:
    shared = [image for image in values[first] if image in values[second]]
    return wilcoxon_p([values[first][i] for i in shared], [values[second][i] for i in shared])
