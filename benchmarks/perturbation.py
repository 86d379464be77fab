"""Perturbation methods against the forward-pass bound: native LIME, lime, shap Partition.

For N perturbed images a perturbation method costs at least N × the batched forward
time; everything else is overhead. In one process, on the same model and image, this
times for each N:

* ``bound``        the model's forward over N ready images on the device, batched, in the
                   faster channels-last layout;
* ``native.lime``  xaihub's LIME end to end, segmentation included (fresh run cache);
* ``lime(b=...)``  lime's LimeImageExplainer with each batch size;
* ``shap.partition`` shap.Explainer with the blur Image masker, max_evals=N;
* ``native.lime+kernelshap`` and ``native.lime top-5``: the shared-budget claims.

    python benchmarks/perturbation.py [--models small-cnn,resnet18] [--devices cpu,cuda]
                                      [--samples 150,500,1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import xaihub  # noqa: E402
from xaihub.ground_truth import demo  # noqa: E402


def build_model(name: str, device: str) -> tuple[Any, np.ndarray]:
    """The model on ``device`` and an image of the size it expects."""
    import torch
    from skimage import data
    from skimage.transform import resize

    torch.manual_seed(0)
    if name == "tiny-cnn":  # so cheap that lime's per-sample overhead dominates
        from torch import nn

        model, size = nn.Sequential(
            nn.Conv2d(3, 8, 5, stride=4, padding=2), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
        ), 224
    elif name == "small-cnn":
        model, size = demo.train_torch_model(seed=0, n=300, epochs=1), 224
    else:
        from resnet import resnet

        model, size = resnet({"resnet18": 18, "resnet50": 50}[name]), 224
    image = (resize(data.coffee(), (size, size), anti_aliasing=True) * 255).astype(np.uint8)
    return model.to(device).eval(), image


def timed(fn: Callable[[], Any], device: str) -> float:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def forward_bound(model: Any, image: np.ndarray, n: int, batch: int, device: str, autocast: str | None) -> float:
    import torch

    x = torch.from_numpy(image).to(device).float().div(255)
    # N×H×W×C seen as N×C×H×W (channels-last strides): the layout xaihub feeds, and the faster one
    images = (x.unsqueeze(0).repeat(n, 1, 1, 1) * torch.rand(n, 1, 1, 1, device=device)).permute(0, 3, 1, 2)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(autocast or "")
    context = torch.autocast(device, dtype=dtype) if dtype else torch.autocast(device, enabled=False)

    def run() -> None:
        with torch.no_grad(), context:
            for chunk in images.split(batch):
                model(chunk)

    run()
    return timed(run, device)


def native(model: Any, image: np.ndarray, n: int, batch: int, device: str, methods: list[str], targets: str,
           autocast: str | None = None) -> tuple[float, int]:
    def run(samples: int) -> xaihub.Comparison:
        params = {m: {"num_samples": samples, "autocast": autocast} for m in methods}
        return xaihub.explain(model, image, methods=methods, targets=targets, params=params, batch_size=batch)

    run(min(n, 32))  # warm-up: kernels, solver libraries
    result: dict[str, Any] = {}
    seconds = timed(lambda: result.setdefault("r", run(n)), device)
    assert result["r"].ok, result["r"].failures
    comparison = result["r"]  # passes spent in the call: each method's cost alone less what it reused
    return seconds, sum(comparison.forward_passes.values()) - sum(comparison.reused_forward_passes.values())


def torch_classifier(model: Any, device: str) -> Callable[[np.ndarray], np.ndarray]:
    import torch

    def classify(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.asarray(images, np.float32)).to(device).permute(0, 3, 1, 2)
        with torch.no_grad():
            return torch.softmax(model(x), 1).cpu().numpy()

    return classify


def lime_run(model: Any, image: np.ndarray, n: int, batch: int, device: str, target: int) -> float:
    from lime.lime_image import LimeImageExplainer

    explainer = LimeImageExplainer(random_state=0)
    classify = torch_classifier(model, device)
    run = lambda: explainer.explain_instance(image / 255.0, classify, labels=(target,), top_labels=None,
                                             hide_color=0, num_samples=n, batch_size=batch)
    return timed(run, device)


def shap_run(model: Any, image: np.ndarray, n: int, batch: int, device: str, target: int) -> float:
    import shap

    classify = torch_classifier(model, device)
    masker = shap.maskers.Image("blur(16,16)", image.shape)
    explainer = shap.Explainer(lambda x: classify(x / 255.0), masker)
    run = lambda: explainer(image[None].astype(np.float32), max_evals=n, batch_size=batch, outputs=[target],
                            silent=True)
    return timed(run, device)


def benchmark(model_name: str, device: str, samples: list[int], lime_batches: list[int], batch: int,
              autocast: str | None) -> list[dict[str, Any]]:
    model, image = build_model(model_name, device)
    target = int(xaihub.explain(model, image, methods=["native.lime"], params={"native.lime": {"num_samples": 2}}
                                ).targets[0])
    lime_run(model, image, 20, 10, device, target)  # warm-up: imports, kernels
    rows = []
    for n in samples:
        bound = forward_bound(model, image, n, batch, device, None)
        found: dict[str, tuple[float, int]] = {"bound": (bound, n)}
        found["native.lime"] = native(model, image, n, batch, device, ["native.lime"], "top-1")
        if autocast:
            found[f"bound {autocast}"] = (forward_bound(model, image, n, batch, device, autocast), n)
            found[f"native.lime {autocast}"] = native(model, image, n, batch, device, ["native.lime"], "top-1",
                                                      autocast)
        found["native.lime top-5"] = native(model, image, n, batch, device, ["native.lime"], "top-5")
        found["native.lime+kernelshap"] = native(model, image, n, batch, device,
                                                 ["native.lime", "native.kernelshap"], "top-1")
        for b in lime_batches:
            found[f"lime(b={b})"] = (lime_run(model, image, n, b, device, target), n)
        found["shap.partition"] = (shap_run(model, image, n, batch, device, target), n)
        best_lime = min(v[0] for k, v in found.items() if k.startswith("lime("))
        for method, (seconds, passes) in found.items():
            reference = found[f"bound {autocast}"][0] if autocast and autocast in method else bound
            rows.append({
                "model": model_name, "device": device, "n": n, "method": method, "seconds": seconds,
                "forward_passes": passes, "x_bound": seconds / reference, "speedup_vs_lime": best_lime / seconds,
            })
    return rows


def machine(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'model':<10} {'device':<6} {'N':>5}  {'method':<24} {'seconds':>8} {'× bound':>8} {'vs lime':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:<10} {r['device']:<6} {r['n']:>5}  {r['method']:<24} {r['seconds']:>8.3f} "
              f"{r['x_bound']:>8.2f} {r['speedup_vs_lime']:>7.1f}×")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="tiny-cnn,resnet18", help="tiny-cnn, small-cnn, resnet18, resnet50")
    parser.add_argument("--devices", default="cpu,cuda", help="cuda rows are skipped without a GPU")
    parser.add_argument("--samples", default="150,500,1000")
    parser.add_argument("--lime-batch-sizes", default="10,256")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size of xaihub, the bound and shap")
    parser.add_argument("--autocast", choices=["bf16", "fp16"], help="also time native LIME under autocast")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--json-out", help="also write the JSON to this file")
    args = parser.parse_args(argv)

    import torch

    devices = [d for d in args.devices.split(",") if d != "cuda" or torch.cuda.is_available()]
    rows = []
    for device in devices:
        for model_name in args.models.split(","):
            rows += benchmark(model_name, device, [int(n) for n in args.samples.split(",")],
                              [int(b) for b in args.lime_batch_sizes.split(",")], args.batch_size,
                              args.autocast if device == "cuda" else None)
    report = json.dumps({"machines": {d: machine(d) for d in devices}, "rows": rows}, indent=1)
    if args.json_out:
        with open(args.json_out, "w") as fh:
            fh.write(report)
    if args.json:
        print(report)
    else:
        for device in devices:
            print(f"# {device}: {machine(device)}")
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
