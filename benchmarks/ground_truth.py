"""Ground truth: where each method's map points, on models whose evidence is known exactly.

Trains the two models of :mod:`xaihub.ground_truth` (seconds each) — the ``object`` model, whose class
is the object's, and the ``shortcut`` model, whose class is a corner watermark's — and explains ``--n``
held-out 224×224 images of each task (object and watermark of different classes) for their true class
with every method that runs on a torch model (reduced budgets: ``BUDGETS``). Each map is scored with
Quantus' pointing game (its maximum on the evidence's mask) and relevance mass accuracy (the share of
its positive part inside the mask); the table gives, per method and task, the mean over images with a
bootstrap 95% interval (``xaihub.evaluation.ranking.bootstrap_interval``), the noise and centre baselines as
reference rows, and ▽ where a method's mean does not beat the better baseline's.

    python benchmarks/ground_truth.py [--n 8] [--methods a,b,...] [--architecture cnn|vit] [--json results.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from typing import Any

import numpy as np

import xaihub
from xaihub import ground_truth, method_benchmark
from xaihub.evaluation.ranking import bootstrap_interval, is_better, reference_value
from xaihub.method_benchmark import BASELINES

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
from demo import runnable_methods  # noqa: E402
from real_model import machine  # noqa: E402  (benchmarks/, the script's folder)

METRICS = ("quantus.pointing_game", "quantus.relevance_mass_accuracy")
SHORT = {"quantus.pointing_game": "pointing", "quantus.relevance_mass_accuracy": "mass"}
# The benchmark's budgets (minutes on two CPU cores), with a few changed for these 224-px images: native LIME and
# Kernel SHAP at one fixed count share their predictions; a 64-px model makes occlusion windows of 32 px natural.
BUDGETS = {
    **method_benchmark.BUDGETS,
    "native.lime": {"num_samples": 200},
    "native.kernelshap": {"num_samples": 200},
    "omnixai.smoothgrad": {"num_samples": 20},
    "shap.partition": {"max_evals": 100},
    "captum.occlusion": {"window": 32, "stride": 16},
    "captum.shapley_value_sampling": {"n_samples": 1},
}
TASK_SEED = 1


def run_task(kind: str, methods: list[str], n: int, seed: int, architecture: str = "cnn") -> dict[str, Any]:
    """Train ``kind``'s model (``architecture``: ``"cnn"`` or ``"vit"``), explain ``n`` images of its task;
    per method and metric, the values per image."""
    start = time.perf_counter()
    model, preprocess, labels = ground_truth.train_model(kind, seed=seed, architecture=architecture)
    trained = time.perf_counter() - start
    cues = cue_accuracy(kind, model, preprocess)
    task = ground_truth.task(kind, n=n, seed=TASK_SEED)
    values: dict[str, dict[str, list[float]]] = {m: {metric: [] for metric in METRICS} for m in methods}
    seconds: dict[str, float] = dict.fromkeys(methods, 0.0)
    constant: dict[str, int] = dict.fromkeys(methods, 0)
    failures: dict[str, list[str]] = {}
    correct = 0
    for i, (image, label, mask) in enumerate(zip(task.images, task.labels, task.masks)):
        result = xaihub.explain(model, image, methods=methods, targets=int(label), preprocess=preprocess,
                                labels=labels, seed=seed, params={m: p for m, p in BUDGETS.items() if m in methods},
                                metrics={metric: {"mask": mask} for metric in METRICS})
        correct += int(np.argmax(result.probabilities)) == int(label)
        flat = set()
        for explanation in result.explanations:
            seconds[explanation.method] += explanation.seconds
            if np.ptp(explanation.attribution) == 0:
                flat.add(explanation.method)
                constant[explanation.method] += 1
            for metric in METRICS:
                values[explanation.method][metric].append(score(explanation, metric))
        for failure in result.failures:
            if not (failure.method in flat and failure.message.startswith("metric ")):  # see score()
                failures.setdefault(failure.method, []).append(failure.message)
        print(f"{kind} {i + 1}/{n}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return {"values": values, "seconds": seconds, "constant": constant, "failures": failures,
            "accuracy": correct / n, "train_seconds": trained, "cues": cues}


CUE_IMAGES, CUE_SEED = 200, 5


def cue_accuracy(kind: str, model: Any, preprocess: xaihub.Preprocess) -> dict[str, float]:
    """How often the model gives its cue's class on :data:`CUE_IMAGES` held-out images: as they are, on
    backgrounds from other photos, without the object, without the watermark; and how often it follows the
    object in the shortcut task (README's accuracy table)."""
    import torch

    task = ground_truth.task("object", n=CUE_IMAGES, seed=CUE_SEED)
    scenes = task.scenes
    elsewhere = ground_truth.task("object", n=CUE_IMAGES, seed=CUE_SEED + 1).scenes.backgrounds
    truth = scenes.objects if kind == "object" else scenes.marks

    def predicted(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            pixels = torch.from_numpy(images).permute(0, 3, 1, 2).float()
            return np.concatenate([model(preprocess.torch(batch)).argmax(1).numpy() for batch in pixels.split(50)])

    variants = {"held-out": task.images, "other backgrounds": scenes.render(backgrounds=elsewhere),
                "object removed": scenes.render(objects=False), "watermark removed": scenes.render(marks=False)}
    accuracy = {name: float((predicted(images) == truth).mean()) for name, images in variants.items()}
    accuracy["follows the object"] = float((predicted(task.images) == scenes.objects).mean())
    return accuracy


def score(explanation: xaihub.Explanation, metric: str) -> float:
    """The metric's value; 0 for a map without a maximum or positive mass (Quantus refuses constant maps,
    such as a Grad-CAM that is zero everywhere: it points at nothing, and a method must not gain by it)."""
    attribution = explanation.attribution
    if np.ptp(attribution) == 0 or (metric == "quantus.relevance_mass_accuracy" and not (attribution > 0).any()):
        return 0.0
    return explanation.metrics.get(metric, float("nan"))


def cell(values: list[float], reference: float | None, metric: str) -> str:
    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        return "–"
    interval = bootstrap_interval(finite)
    mark = " ▽" if reference is not None and not is_better(interval.mean, reference, metric) else ""
    return f"{interval}{mark}"


def table(results: dict[str, dict[str, Any]], methods: list[str]) -> str:
    kinds = list(results)
    means = {(kind, metric): {m: float(np.nanmean(v[metric])) if v[metric] else np.nan
                              for m, v in results[kind]["values"].items()}
             for kind in kinds for metric in METRICS}
    references = {key: reference_value(value, BASELINES, key[1]) for key, value in means.items()}

    def overall(method: str) -> float:
        scores = [means[key][method] for key in means]
        return float(np.nanmean(scores)) if not np.isnan(scores).all() else -np.inf

    ranked = sorted((m for m in methods if m not in BASELINES), key=lambda m: -overall(m))
    header = ["method", *(f"{kind}: {SHORT[metric]}" for kind in kinds for metric in METRICS), "constant maps",
              "s / image"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in [*ranked, *(b for b in BASELINES if b in methods)]:
        name = f"*{method}* (reference)" if method in BASELINES else f"`{method}`"
        cells = [cell(results[kind]["values"][method][metric], None if method in BASELINES else references[kind, metric],
                      metric) for kind in kinds for metric in METRICS]
        images = sum(len(results[kind]["values"][method][METRICS[0]]) for kind in kinds)
        seconds = sum(results[kind]["seconds"][method] for kind in kinds)
        flat = sum(results[kind]["constant"][method] for kind in kinds)
        lines.append("| " + " | ".join([name, *cells, str(flat) if flat else "", f"{seconds / images:.2f}" if images
                                        else "–"]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=8, help="images per task")
    parser.add_argument("--methods", help="comma-separated methods (default: every one that runs on a torch model)")
    parser.add_argument("--seed", type=int, default=0, help="the models' training seed and the methods' seed")
    parser.add_argument("--tasks", default=",".join(ground_truth.KINDS), help="comma-separated: object,shortcut")
    parser.add_argument("--architecture", choices=ground_truth.ARCHITECTURES, default="cnn",
                        help="the models: the CNNs (README's table) or the vision transformers "
                             "(docs/explanation/ground_truth_transformer.md)")
    parser.add_argument("--json", help="also write the values per image to this file")
    args = parser.parse_args(argv)

    methods = args.methods.split(",") if args.methods else runnable_methods("torch")
    start = time.perf_counter()
    results = {kind: run_task(kind, methods, args.n, args.seed, args.architecture) for kind in args.tasks.split(",")}
    elapsed = time.perf_counter() - start
    print(table(results, methods))
    print()
    for kind, result in results.items():
        print(f"- {kind} model on {CUE_IMAGES} held-out images: " + ", ".join(f"{name} {value:.3f}" for name, value
                                                                           in result["cues"].items()))
    for kind, result in results.items():
        print(f"- {kind} model: accuracy {result['accuracy']:.2f} on the {args.n} images, trained in "
              f"{result['train_seconds']:.0f} s")
    for kind, result in results.items():
        for method, messages in sorted(result["failures"].items()):
            print(f"- failed on {kind} ({len(messages)}×): {method}: {messages[0]}")
    print(f"- {len(methods)} methods, {args.n} images per task: {elapsed / 60:.0f} min ({time.process_time() / 60:.0f} min "
          f"of CPU) on {machine('cpu')}, load average {os.getloadavg()[1]:.1f}, {datetime.date.today()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
