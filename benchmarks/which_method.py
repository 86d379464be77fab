"""Which method? The table of docs/explanation/which-method.md: ``xaihub.benchmark`` on the shipped real model and photos.

EfficientNet-Lite0 (``xaihub.pretrained``, torch) explains its top class on ``--images`` photos (scikit-image's,
whole and cropped: the set of ``benchmarks/adaptive.py``), through ``xaihub.benchmark`` with its defaults: one
method per family, the baselines, SRG with pixel deletion and insertion beside it, and the randomisation
sanity check, at the benchmark's sample budgets. It writes the dataset report and prints a Markdown table:
per method, the mean SRG with its 95% bootstrap interval, MoRF and LeRF AUCs, pixel deletion and insertion,
how often the sanity check flags it, seconds per image, and the recommendation's verdict; then how many
methods beat ``baseline.noise`` on each metric (the metric's discrimination).

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
from xaihub.method_benchmark import BASELINES, CHOICES, SANITY_METRIC, can_explain, default_methods
from xaihub.registry.plugins import get_method
from xaihub.report.tables import beats_noise
from xaihub.run.run_directory import current_records, read_index

sys.path.insert(0, os.path.dirname(__file__))
from adaptive import photos  # noqa: E402  (benchmarks/, the script's folder)
from real_model import machine  # noqa: E402

METRICS = ("srg", "srg_morf", "srg_lerf", "deletion", "insertion")
FLAG = "sanity.randomization.flagged"


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


def rows(lines: list[dict], methods: list[str], recommendation: Recommendation | None
         ) -> list[str]:
    """The Markdown table, best SRG first, baselines last."""
    values = {metric: per_image(lines, metric) for metric in (*METRICS, FLAG)}
    seconds = seconds_per_image(lines)
    srg = {m: mean(values["srg"].get(m, {})) for m in methods}
    order = sorted(methods, key=lambda m: (m in BASELINES, -srg[m] if not math.isnan(srg[m]) else math.inf))
    sanity = bool(values[FLAG])  # without the sanity check the verdict is only the baselines'
    table = ["| method | family | SRG ↑ [95% CI] | MoRF ↓ | LeRF ↑ | deletion ↓ | insertion ↑ | "
             + ("sanity flagged | s / image | verdict |" if sanity else "s / image | on mean SRG |"),
             "|---|---|---|---|---|---|---|---|---|" + ("---|" if sanity else "")]
    for method in order:
        scores = list(values["srg"].get(method, {}).values())
        interval = bootstrap_interval(scores) if scores else None
        cells = [f"{interval.mean:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}]" if interval else "–"]
        cells += [f"{mean(values[k].get(method, {})):.3f}" if values[k].get(method) else "–" for k in METRICS[1:]]
        flagged = values[FLAG].get(method)
        if sanity:
            cells.append(f"{mean(flagged):.0%}" if flagged else "–")
        cells.append(f"{seconds[method]:.2f}" if method in seconds else "–")
        cells.append(verdict(method, recommendation, sanity))
        family = get_method(method).explainer.family or "–"
        table.append(f"| `{method}` | {family} | " + " | ".join(cells) + " |")
    table.append("| *beat `baseline.noise`* | | " + " | ".join(
        beaten(values[k], [m for m in methods if m not in BASELINES], k) for k in METRICS) + " | | |"
        + (" |" if sanity else ""))
    return table


def beaten(values: dict[str, dict[str, float]], methods: list[str], metric: str) -> str:
    """The reports' discrimination count (:func:`xaihub.report.tables.beats_noise`) over the images' means."""
    beating, compared = beats_noise(methods, {m: {metric: mean(v)} for m, v in values.items()}, metric)
    return f"{beating}/{compared}" if compared else "–"


def verdict(method: str, recommendation: Recommendation | None, sanity: bool) -> str:
    if recommendation is None:
        return "–"
    if method in BASELINES:
        return "baseline"
    if method in recommendation.recommended:
        return f"recommended #{recommendation.recommended.index(method) + 1}" if sanity else "beats the baselines"
    if method in recommendation.fails_sanity:
        return "fails sanity"
    if method in recommendation.below_baselines:
        return "≤ baseline"
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--implementations", action="store_true", help="every implementation of every family")
    parser.add_argument("--metrics", default="srg,deletion,insertion,sanity.randomization",
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
    methods = implementations(adapter, first) if args.implementations else default_methods(adapter, first)
    metrics = [m for m in args.metrics.split(",") if m and not (args.implementations and m == SANITY_METRIC)]
    result = xaihub.benchmark(pretrained.model, images, out=args.out, methods=methods, metrics=metrics,
                              preprocess=pretrained.preprocess, labels=pretrained.labels,
                              report=os.path.join(args.out, "report.html"), progress=True)
    lines = current_records(read_index(args.out))
    print(f"EfficientNet-Lite0 (torch), {len(images)} photos, {datetime.date.today()}, {machine('cpu')}\n")
    print("\n".join(rows(lines, methods, result.recommendation)))
    if args.implementations:
        print("\n" + "\n".join(per_second(lines, methods)))
    print("\n" + "\n".join(result.recommendation.lines() if result.recommendation else []))
    print(f"\nreport: {result.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
