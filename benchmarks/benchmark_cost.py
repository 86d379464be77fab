"""What a trustworthy answer costs: ``xaihub.benchmark`` with its defaults on ``--images`` photos of EfficientNet-Lite0.

Issue 28's target: the default methods and criteria on 10 photos in at most 15 minutes on 2 CPU cores. The script
runs :func:`xaihub.benchmark` as a user would (default methods, metrics, controls, reliability check and report) on
scikit-image's photos (the set of ``benchmarks/adaptive.py``), times the call, and splits the time with what the
run directory records: each method's own seconds, each metric's seconds (``extras["metric_costs"]``, grouped by the
verdict's criteria), and the rest (reliability check, statistics, report, bookkeeping). It prints Markdown tables
and whether the target was met.

    python benchmarks/benchmark_cost.py [--images 10] [--out runs/benchmark-cost] [--minutes 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(__file__))
from real_model import machine  # noqa: E402  (benchmarks/, the script's folder)
from which_method import chosen_photos  # noqa: E402

TARGET_MINUTES = 15.0


def split(lines: list[dict]) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, int]]:
    """Per method: its seconds and its metrics' seconds, per explanation; per metric: its forward passes."""
    methods: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    metrics: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    passes: dict[str, int] = defaultdict(int)
    seen = set()
    for line in lines:
        if line.get("status") != "ok":
            continue
        key = (line.get("image"), line.get("method"))
        if key not in seen:  # a method's seconds cover all targets of an image
            seen.add(key)
            methods[line["method"]][0] += float(line.get("seconds") or 0.0)
        for metric, cost in ((line.get("extras") or {}).get("metric_costs") or {}).items():
            seconds = float(cost.get("seconds") or 0.0)
            methods[line["method"]][1] += seconds
            metrics[metric][0] += seconds
            metrics[metric][1] += 1
            passes[metric] += int(cost.get("forward_passes") or 0)
    return methods, metrics, passes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=TARGET_MINUTES, help="the target, in minutes")
    parser.add_argument("--out", default=None, help="run directory (default: a temporary one, removed)")
    args = parser.parse_args(argv)

    import xaihub
    from xaihub.evaluation.criteria import criterion_of_metric
    from xaihub.pretrained import imagenet_model
    from xaihub.run.run_directory import current_records, read_index

    pretrained = imagenet_model("torch")
    images = chosen_photos(args.images)
    out = args.out or tempfile.mkdtemp(prefix="xaihub-benchmark-cost-")
    try:
        start = time.perf_counter()
        result = xaihub.benchmark(pretrained.model, images, out=out, preprocess=pretrained.preprocess,
                                  labels=pretrained.labels, report=os.path.join(out, "report.html"),
                                  progress=False)
        total = time.perf_counter() - start
        lines = [line for line in current_records(read_index(out)) if line.get("image") in set(images)]
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    methods, metrics, passes = split(lines)
    explained = sum(v[0] for v in methods.values())
    measured = sum(v[0] for v in metrics.values())

    print(f"# xaihub benchmark, defaults, EfficientNet-Lite0, {len(images)} photos — {machine('cpu')}\n")
    print(f"Total: **{total / 60:.1f} min** (target ≤ {args.minutes:g} min: "
          f"{'met' if total <= args.minutes * 60 else 'NOT met'}); methods {explained:.0f} s, metrics "
          f"{measured:.0f} s, the rest (reliability check, statistics, report) {total - explained - measured:.0f} s."
          f"\n\n{result.summary}\n")
    print("| method | explaining s | its metrics s |\n|---|---:|---:|")
    for method, (own, scored) in sorted(methods.items(), key=lambda kv: -sum(kv[1])):
        print(f"| `{method}` | {own:.1f} | {scored:.1f} |")
    by_criterion: dict[str, float] = defaultdict(float)
    print("\n| metric | criterion | s | s per explanation | forward passes per explanation |\n|---|---|---:|---:|---:|")
    for metric, (seconds, count) in sorted(metrics.items(), key=lambda kv: -kv[1][0]):
        criterion = criterion_of_metric(metric) or "other"
        by_criterion[criterion] += seconds
        print(f"| `{metric}` | {criterion} | {seconds:.1f} | {seconds / count:.2f} | {passes[metric] / count:.0f} |")
    print("\n| criterion | s |\n|---|---:|")
    for criterion, seconds in sorted(by_criterion.items(), key=lambda kv: -kv[1]):
        print(f"| {criterion} | {seconds:.1f} |")
    print("\n" + ("\n".join(result.recommendation.lines()) if result.recommendation else "No verdict."))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
