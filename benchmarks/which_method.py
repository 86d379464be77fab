"""Which method? The verdict table of docs/explanation/which-method.md: ``xaihub.benchmark`` on the shipped real model.

EfficientNet-Lite0 (``xaihub.pretrained``, torch) explains its top class on ``--images`` photos (scikit-image's,
whole and cropped: the set of ``benchmarks/adaptive.py``), through ``xaihub.benchmark``: one method per family, the
controls (``baseline.noise``, ``baseline.centre``, ``baseline.edges`` when installed), the metrics of ``--metrics``
and the reliability check on three of the photos, at the benchmark's sample budgets. It writes the dataset report and
prints the verdict as Markdown: per method, its aggregated rank over the criteria with the bootstrap interval, its
chance of being best, its rank on each criterion, SRG with its interval, seconds per image and the gate it stopped
at; then each metric's resilience and reactivity on the model, and the verdict's sentences.

``--implementations`` runs every installed implementation of each family instead and adds SRG per second, the
measure :data:`xaihub.method_benchmark.CHOICES` orders each family's implementations by.

    python benchmarks/which_method.py [--images 8] [--implementations] [--out runs/which-method]
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys

import xaihub
from xaihub.evaluation.dataset_statistics import per_image
from xaihub.evaluation.ranking import bootstrap_interval
from xaihub.evaluation.recommendation import Recommendation
from xaihub.method_benchmark import BASELINES, CHOICES, DEFAULT_FAMILIES, SANITY_METRIC, can_explain, default_methods
from xaihub.registry.plugins import get_method
from xaihub.run.run_directory import current_records, read_index

sys.path.insert(0, os.path.dirname(__file__))
from adaptive import photos  # noqa: E402  (benchmarks/, the script's folder)
from real_model import machine  # noqa: E402

FAMILIES = DEFAULT_FAMILIES
"""The families the table compares by default: the benchmark's (``--families all`` runs every family: hours)."""


def chosen_photos(count: int) -> dict[str, object]:
    """``count`` photos, whole ones first, then centre crops, then the rest of the set."""
    every = photos()
    order = sorted(every, key=lambda name: (["whole", "centre", "top-left", "half"].index(name.split("/")[1]),
                                            name))
    return {name.replace("/", "-"): every[name] for name in order[:count]}


def mean(values: dict[str, float]) -> float:
    return sum(values.values()) / len(values) if values else math.nan


def seconds_per_image(lines: list[dict]) -> dict[str, float]:
    """Each method's mean seconds over its explanations (one per image: the top class)."""
    seconds: dict[str, list[float]] = {}
    for line in lines:
        if line.get("status") == "ok" and isinstance(line.get("seconds"), (int, float)):
            seconds.setdefault(str(line["method"]), []).append(float(line["seconds"]))
    return {method: sum(spent) / len(spent) for method, spent in seconds.items()}


def rows(lines: list[dict], methods: list[str], recommendation: Recommendation | None) -> list[str]:
    """The Markdown scorecard: per method, its aggregated rank with the bootstrap interval, its chance of being
    best, its rank on each criterion, SRG (the primary faithfulness value) with its interval, seconds per image and
    the gate the verdict stopped it at; ranked methods first, best first."""
    if recommendation is None or recommendation.aggregation is None:
        return ["No verdict: no faithfulness metric was computed."]
    aggregation = recommendation.aggregation
    criteria = list(aggregation.criterion_ranks)
    srg = per_image(lines, "srg")
    seconds = seconds_per_image(lines)
    order = list(aggregation.overall) + [m for m in methods if m not in aggregation.overall]
    table = ["| method | family | aggregated rank [95% CI] | P(best) | "
             + " | ".join(f"{c} rank" for c in criteria) + " | SRG ↑ [95% CI] | s / image | verdict |",
             "|---|---|---|---|" + "---|" * len(criteria) + "---|---|---|"]
    for method in order:
        rank = aggregation.overall.get(method)
        cells = [str(rank) if rank else "–", f"{rank.p_best:.0%}" if rank and not math.isnan(rank.p_best) else "–"]
        cells += [f"{aggregation.criterion_ranks[c][method]:.2f}" if method in aggregation.criterion_ranks[c]
                  else "–" for c in criteria]
        scores = list(srg.get(method, {}).values())
        interval = bootstrap_interval(scores) if scores else None
        cells.append(f"{interval.mean:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}]" if interval else "–")
        cells.append(f"{seconds[method]:.2f}" if method in seconds else "–")
        cells.append(verdict(method, recommendation))
        family = get_method(method).explainer.family or "–"
        table.append(f"| `{method}` | {family} | " + " | ".join(cells) + " |")
    return table


def reliability_rows(recommendation: Recommendation | None) -> list[str]:
    """Each checked metric value's resilience and reactivity on the model, as a Markdown table."""
    if recommendation is None or not recommendation.reliability:
        return []
    table = ["| metric | resilience | reactivity | reliable here |", "|---|---|---|---|"]
    for name, found in recommendation.reliability.items():
        table.append(f"| `{name}` | {found.resilience:.2f} | {found.reactivity:.2f} | "
                     f"{'yes' if found.reliable else 'no: ' + found.reason} |")
    return table


def verdict(method: str, recommendation: Recommendation) -> str:
    if method in recommendation.controls:
        return "control"
    if method in recommendation.recommended:
        word = "best supported" if recommendation.missing else "recommended"
        return f"{word} #{recommendation.recommended.index(method) + 1}"
    if method in recommendation.fails_sanity:
        return "fails randomisation"
    if method in recommendation.below_baselines:
        return f"≤ {recommendation.baseline}"
    if method in recommendation.degenerate:
        return "degenerate: " + recommendation.degenerate[method]
    if method in recommendation.uncovered:
        return "not compared"
    return "–"


def implementations(model: object, image: object) -> list[str]:
    """Every installed implementation of every family in CHOICES that can explain the model, and the baselines."""
    registered = {r.explainer.name: r.explainer for r in xaihub.list_methods()}
    names = [m for family in CHOICES.values() for m in family if m in registered]
    return [m for m in names if can_explain(registered[m], model, image)] + list(BASELINES)


def per_second(lines: list[dict], methods: list[str]) -> list[str]:
    """Per family: its implementations by SRG per second (the better first)."""
    srg = per_image(lines, "srg")
    seconds = seconds_per_image(lines)
    table = ["| family | implementation | SRG | s / image | SRG per s |", "|---|---|---|---|---|"]
    for family, names in CHOICES.items():
        present = [m for m in names if m in methods and m in srg and seconds.get(m)]

        def rate(m: str) -> float:
            return mean(srg[m]) / seconds[m]

        for m in sorted(present, key=rate, reverse=True):
            table.append(f"| {family} | `{m}` | {mean(srg[m]):+.3f} | {seconds[m]:.2f} | {rate(m):+.3f} |")
    return table


def reliability(spec: str) -> dict[str, int] | bool:
    """``"images,draws"`` as benchmark's ``reliability=``; ``"0"``: no check."""
    numbers = [int(part) for part in spec.split(",") if part]
    if not numbers or numbers[0] == 0:
        return False
    return {"images": numbers[0], **({"draws": numbers[1]} if len(numbers) > 1 else {})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--implementations", action="store_true", help="every implementation of every family")
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help="comma-separated families of xaihub.method_benchmark.CHOICES, one method each "
                             "(default: %(default)s); 'all' for every family")
    parser.add_argument("--reliability", default="2,1", help="images,draws of the metrics' reliability check "
                        "(default: %(default)s; 0 skips it)")
    parser.add_argument("--metrics", default="srg,quantus.road,deletion,sanity.randomization",
                        help="comma-separated metrics (default: %(default)s; --implementations leaves out the sanity "
                             "check)")
    parser.add_argument("--out", default="runs/which-method")
    args = parser.parse_args(argv)
    from xaihub.models import ModelOptions
    from xaihub.pretrained import imagenet_model
    from xaihub.registry.plugins import adapt

    pretrained = imagenet_model("torch")
    images = chosen_photos(args.images)
    adapter = adapt(pretrained.model, ModelOptions(preprocess=pretrained.preprocess, labels=pretrained.labels))
    first = next(iter(images.values()))
    adapter.predict(first[None])
    families = None if args.families == "all" else [f for f in args.families.split(",") if f]
    methods = (implementations(adapter, first) if args.implementations
               else default_methods(adapter, first, families=families, controls=True))
    metrics = [m for m in args.metrics.split(",") if m and not (args.implementations and m == SANITY_METRIC)]
    result = xaihub.benchmark(pretrained.model, images, out=args.out, methods=methods, metrics=metrics,
                              preprocess=pretrained.preprocess, labels=pretrained.labels,
                              report=os.path.join(args.out, "report.html"), progress=True,
                              reliability=reliability(args.reliability))
    lines = current_records(read_index(args.out))
    print(f"EfficientNet-Lite0 (torch), {len(images)} photos, {datetime.date.today()}, {machine('cpu')}\n")
    print("\n".join(rows(lines, methods, result.recommendation)))
    print("\n" + "\n".join(reliability_rows(result.recommendation)))
    if args.implementations:
        print("\n" + "\n".join(per_second(lines, methods)))
    print("\n" + "\n".join(result.recommendation.lines() if result.recommendation else []))
    print(f"\nreport: {result.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
