"""The randomisation checks measured on known cases, to set their thresholds with evidence.

Runs ``sanity.randomization`` (MPRT's Spearman and eMPRT), ``sanity.smooth_randomization`` (sMPRT) and
``sanity.cascading`` for gradients.saliency, gradients.gradcam, native.lime and the three controls
(baseline.noise, baseline.centre, baseline.edges) on EfficientNet-Lite0 (``xaihub.pretrained``, its three
photos, top class) and on the ground-truth ``object`` model (``xaihub.ground_truth``, ``--n`` task images,
true class), and prints one row per model × method: the per-image values and their mean.

    python benchmarks/randomisation_thresholds.py [--n 3] [--json out.json] [--models imagenet,object]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import xaihub
from xaihub import ground_truth

METHODS = ("gradients.saliency", "gradients.gradcam", "native.lime", "baseline.noise", "baseline.centre",
           "baseline.edges")
PARAMS = {"native.lime": {"num_samples": 200}}
METRICS = {"sanity.randomization": {}, "sanity.smooth_randomization": {}, "sanity.cascading": {}}
SHOWN = ("sanity.randomization.spearman", "sanity.randomization.emprt", "sanity.smooth_randomization.spearman",
         "sanity.cascading.auc")


def cases(models: list[str], n: int):
    """``(model name, model, preprocess, labels, [(image name, image, target)])``."""
    if "imagenet" in models:
        from xaihub.pretrained import PHOTOS, imagenet_model, photo

        pm = imagenet_model("torch")
        yield "efficientnet-lite0", pm.model, pm.preprocess, pm.labels, [(p, photo(p), None) for p in PHOTOS]
    if "object" in models:
        trained = ground_truth.train_model("object", seed=0)
        task = ground_truth.task("object", n=n, seed=1)
        yield ("ground-truth object", trained.model, trained.preprocess, trained.labels,
               [(str(i), task.images[i], int(task.labels[i])) for i in range(n)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3, help="ground-truth task images")
    parser.add_argument("--models", default="imagenet,object")
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    for name, model, preprocess, labels, images in cases(args.models.split(","), args.n):
        values: dict[str, dict[str, list[float]]] = {m: {k: [] for k in SHOWN} for m in METHODS}
        skipped: dict[str, list[str]] = {m: [] for m in METHODS}
        for image_name, image, target in images:
            start = time.perf_counter()
            result = xaihub.explain(model, image, list(METHODS), targets=target, preprocess=preprocess,
                                    labels=labels, metrics=METRICS, params=PARAMS, seed=0)
            for failure in result.failures:
                print("FAILED", image_name, failure)
            for explanation in result:
                for key in SHOWN:
                    values[explanation.method][key].append(explanation.metrics.get(key, float("nan")))
                skipped[explanation.method] += [f"{image_name}: {v}" for v in
                                                explanation.extras.get("metric_skipped", {}).values()]
            print(f"{name} {image_name}: {time.perf_counter() - start:.0f} s", flush=True)
        for method in METHODS:
            row = {"model": name, "method": method, **values[method], "skipped": skipped[method]}
            rows.append(row)
            cells = "  ".join(f"{key.split('sanity.')[1]}={np.nanmean(v) if v else float('nan'):+.3f} "
                              f"[{', '.join(f'{x:+.2f}' for x in v)}]" for key, v in values[method].items())
            print(f"{name:20s} {method:20s} {cells}" + (f"  skipped: {skipped[method]}" if skipped[method] else ""))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
