"""What the default metrics cost per explanation, before and after issue 28 ("every metric's forward passes
batched like the methods'").

For each model, on ``--images`` photos at 224×224 and ``--maps`` maps per photo (smoothed random maps, each a
different "method" of the same photo, scored in turn as the runner scores them, through
:func:`xaihub.run.measure.measure` on one adapter and one run cache per photo), prints per metric the seconds
and forward passes per explanation, before and after, and the largest difference of the metric's value:

* ``srg``, ``deletion``, ``insertion``: before = the curves as they were (eight images a call, every point
  predicted, kept below as :func:`old_switching_curve`); after = the adapter's batches, each photo's endpoints
  scored once (:func:`xaihub.metrics.faithfulness.whole_image_scores`);
* ``quantus.road``: before = Quantus' own ``noisy_linear_imputation`` and one model call per percentage; after =
  :func:`xaihub_quantus.repairs.noisy_linear_imputation` and one batched call;
* ``quantus.irof``: before = Quantus calling the model once per segment; after = the adapter's batches
  (:class:`xaihub_quantus.metrics.RecordedMetric`).

``--bf16`` adds, on models with a declared preprocessing, how far the curve metrics move when their images are
scored by ``predict_pixels`` under bf16 autocast instead of fp32 ``predict`` (why the metrics stay in fp32).

    python benchmarks/metric_cost.py [--models cnn,efficientnet] [--images 2] [--maps 3] [--bf16]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import Any, Iterator

import numpy as np

CURVES = ("srg", "deletion", "insertion")
QUANTUS = ("quantus.road", "quantus.irof")


def old_switching_curve(model: Any, start: np.ndarray, end: np.ndarray, rank: np.ndarray, counts: np.ndarray,
                        target: int) -> np.ndarray:
    """``switching_curve`` before issue 28: eight images a call, the endpoints predicted like every point."""
    curve = []
    for chunk in np.array_split(counts, -(-len(counts) // 8)):
        switched = rank[None] < chunk[:, None, None]
        curve.append(model.predict(np.where(switched[..., None], end[None], start[None]))[:, target])
    return np.concatenate(curve)


@contextlib.contextmanager
def before() -> Iterator[None]:
    """The metrics' code paths as they were before issue 28."""
    from quantus.functions.perturb_func import noisy_linear_imputation

    from xaihub.metrics import faithfulness, regions
    from xaihub_quantus import repairs
    from xaihub_quantus.metrics import Irof, QuantusMetric, Road

    saved = (faithfulness.switching_curve, regions.switching_curve, repairs.noisy_linear_imputation)
    faithfulness.switching_curve = regions.switching_curve = old_switching_curve
    repairs.noisy_linear_imputation = lambda arr, pixels, noise: noisy_linear_imputation(arr=arr, indices=pixels,
                                                                                         noise=noise)
    Road.compute = Irof.compute = QuantusMetric.compute  # Quantus calls the model once per image
    try:
        yield
    finally:
        faithfulness.switching_curve, regions.switching_curve, repairs.noisy_linear_imputation = saved
        del Road.compute, Irof.compute


def models(names: list[str]) -> dict[str, tuple[Any, Any, list[np.ndarray]]]:
    """``{name: (model, preprocess, photos)}``, photos 224×224."""
    from skimage.transform import resize

    from xaihub.testing import zoo

    out = {}
    photos = []
    for name in ("coffee", "chelsea", "astronaut"):
        from skimage import data

        photo = getattr(data, name)()
        side = min(photo.shape[:2])
        photo = photo[:side, :side]
        photos.append((resize(photo, (224, 224), anti_aliasing=True) * 255).round().astype(np.uint8))
    if "cnn" in names:
        architecture = zoo.get("torch.cnn")
        out["zoo torch.cnn"] = (architecture.factory(), architecture.preprocess, photos)
    if "efficientnet" in names:
        from xaihub.pretrained import imagenet_model

        pretrained = imagenet_model()
        out["EfficientNet-Lite0"] = (pretrained.model, pretrained.preprocess, photos)
    return out


def smooth_map(seed: int, size: int = 224) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(np.random.default_rng(seed).normal(size=(size, size)), 12)


def run(model: Any, preprocess: Any, photos: list[np.ndarray], maps: int, metrics: list[str]) -> dict[str, Any]:
    """Per metric: total seconds, total forward passes, explanations, values (in order)."""
    from xaihub import Explanation
    from xaihub.core.cache import RunCache
    from xaihub.models import ModelOptions
    from xaihub.registry.plugins import adapt
    from xaihub.run.measure import check_metrics, measure

    requests = check_metrics(metrics)
    totals: dict[str, dict[str, Any]] = {name: {"seconds": 0.0, "passes": 0, "n": 0, "values": []} for name in metrics}
    for photo in photos:
        adapter = adapt(model, ModelOptions(preprocess=preprocess))
        adapter.cache = RunCache(lambda adapter=adapter: adapter.forward_passes)  # one explain call per photo
        target = int(adapter.predict(photo[None])[0].argmax())
        for seed in range(maps):
            explanation = Explanation(target=target, attribution=smooth_map(seed), image=photo, method="test.map")
            for result in measure(requests, adapter, explanation, seed=0):
                if result.error is not None:
                    raise result.error
                row = totals[result.metric]
                row["seconds"] += result.seconds
                row["passes"] += result.forward_passes
                row["n"] += 1
                row["values"].append(next(iter(result.values.values())))
    return totals


def bf16_shift(model: Any, preprocess: Any, photos: list[np.ndarray], maps: int) -> dict[str, float]:
    """The largest change of each curve metric when its images go through ``predict_pixels`` under bf16."""
    import torch

    from xaihub.metrics.faithfulness import deletion_auc, insertion_auc
    from xaihub.metrics.regions import srg
    from xaihub.models import ModelOptions
    from xaihub.registry.plugins import adapt

    class Bf16:
        def __init__(self, adapter: Any) -> None:
            self.adapter = adapter

        def predict(self, images: np.ndarray) -> np.ndarray:
            pixels = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
            return self.adapter.predict_pixels(pixels, "bf16").cpu().numpy()

        def __getattr__(self, name: str) -> Any:
            return getattr(self.adapter, name)

    shift = {name: 0.0 for name in CURVES}
    for photo in photos:
        for seed in range(maps):
            values = []
            for fast in (False, True):
                adapter = adapt(model, ModelOptions(preprocess=preprocess))
                target = int(adapter.predict(photo[None])[0].argmax())
                scorer = Bf16(adapter) if fast else adapter
                attribution = smooth_map(seed)
                values.append({"srg": srg(scorer, photo, attribution, target),
                               "deletion": deletion_auc(scorer, photo, attribution, target),
                               "insertion": insertion_auc(scorer, photo, attribution, target)})
            for name in CURVES:
                shift[name] = max(shift[name], abs(values[0][name] - values[1][name]))
    return shift


def imputation_seconds(maps: int) -> tuple[float, float, float]:
    """Seconds of Quantus' and of xaihub's noisy linear imputation for ROAD's nine percentages of a 224×224
    image (the top pixels of :func:`smooth_map`), per map, and their largest difference at noise 0."""
    from quantus.functions.perturb_func import noisy_linear_imputation

    from xaihub_quantus import repairs

    image = np.random.default_rng(0).random((3, 224, 224)).astype(np.float32)
    seconds = [0.0, 0.0]
    difference = 0.0
    for seed in range(maps):
        order = np.argsort(-smooth_map(seed).ravel(), kind="stable")
        for percentage in range(10, 100, 10):
            pixels = np.sort(order[: 224 * 224 * percentage // 100])
            start = time.perf_counter()
            theirs = noisy_linear_imputation(arr=image, indices=pixels, noise=0.0)
            seconds[0] += time.perf_counter() - start
            start = time.perf_counter()
            ours = repairs.noisy_linear_imputation(image, pixels, 0.0)
            seconds[1] += time.perf_counter() - start
            difference = max(difference, float(np.abs(ours - theirs).max()))
    return seconds[0] / maps, seconds[1] / maps, difference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="cnn,efficientnet")
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--maps", type=int, default=3)
    parser.add_argument("--metrics", default=",".join(CURVES + QUANTUS))
    parser.add_argument("--bf16", action="store_true")
    args = parser.parse_args()
    import torch

    metrics = args.metrics.split(",")
    print("| model | metric | s/expl. before | s/expl. after | × faster | passes before | passes after | "
          "max value difference |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, (model, preprocess, photos) in models(args.models.split(",")).items():
        photos = photos[: args.images]
        run(model, preprocess, photos[:1], 1, metrics)  # warm up: imports, first calls
        with before():
            old = run(model, preprocess, photos, args.maps, metrics)
        new = run(model, preprocess, photos, args.maps, metrics)
        for metric in metrics:
            o, n = old[metric], new[metric]
            difference = float(np.max(np.abs(np.subtract(o["values"], n["values"]))))
            print(f"| {name} | `{metric}` | {o['seconds'] / o['n']:.3f} | {n['seconds'] / n['n']:.3f} | "
                  f"{o['seconds'] / max(n['seconds'], 1e-9):.1f} | {o['passes'] / o['n']:.1f} | "
                  f"{n['passes'] / n['n']:.1f} | {difference:.1e} |", flush=True)
        if args.bf16:
            for metric, shift in bf16_shift(model, preprocess, photos, args.maps).items():
                print(f"| {name} | `{metric}` under bf16 | | | | | | {shift:.1e} |", flush=True)
    if "quantus.road" in metrics:
        theirs, ours, difference = imputation_seconds(args.maps)
        print(f"| – | ROAD's imputation alone (9 percentages) | {theirs:.3f} | {ours:.3f} | {theirs / ours:.1f} | "
              f"| | {difference:.1e} |", flush=True)
    print(f"\n{args.images} photos × {args.maps} maps per model; {time.strftime('%Y-%m-%d')}, torch threads "
          f"{torch.get_num_threads()}")


if __name__ == "__main__":
    main()
