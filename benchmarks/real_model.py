"""Performance on a real model: EfficientNet-Lite0 (ImageNet weights) with its real preprocessing.

In one process, on the coffee photo resized to the model's 224×224, this prints:

1. **the forward bound and native LIME** at ``--samples`` (500): the model's batched forward over N
   ready images (fp32 NCHW, fp32 channels-last, bf16 autocast where the CPU or GPU runs it natively),
   ``native.lime`` end to end with the declared ``xaihub.Preprocess`` (the fast path, ``autocast="auto"``)
   and with the same preprocessing as a function (the host path), and lime's ``LimeImageExplainer`` at
   the same N; ratios to the fastest bound and to lime;
2. with ``--methods all``: every method that runs on the model, with its seconds, forward passes,
   seconds per pass and that cost against the adapter's batched per-image cost (``predict``);
3. **peak memory** (a fresh process each, maximum resident set) of ``native.lime`` at N = 500 and
   N = 50,000 and on a 4096×4096 image, on a tiny CNN (the perturbation's memory does not depend on
   the model; the real one would take an hour for 50,000 passes on two cores).

    python benchmarks/real_model.py [--device cpu|cuda] [--samples 500] [--methods all] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np

import xaihub

BATCH = 64
MEMORY_CASES = {"N=500": (500, 224), "N=50,000": (50_000, 224), "4096×4096 image": (500, 4096)}


def timed(fn: Callable[[], Any], device: str) -> tuple[float, Any]:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    value = fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, value


def forward_bound(model: Any, preprocess: xaihub.Preprocess, image: np.ndarray, n: int, device: str,
                  layout: str, autocast: str | None) -> float:
    """Seconds for the model's forward over ``n`` ready, preprocessed images, in batches of ``BATCH``."""
    import torch

    x = torch.from_numpy(image).float().to(device).permute(2, 0, 1)[None]
    inputs = preprocess.torch(x).repeat(n, 1, 1, 1) * (0.5 + 0.5 * torch.rand(n, 1, 1, 1, device=device))
    if layout == "channels-last":
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    context = torch.autocast(device, dtype=torch.bfloat16) if autocast else torch.autocast(device, enabled=False)

    def run() -> None:
        with torch.no_grad(), context:
            for chunk in inputs.split(BATCH):
                model(chunk)

    run()
    return timed(run, device)[0]


def native_lime(model: Any, image: np.ndarray, n: int, device: str, preprocess: Any) -> tuple[float, xaihub.Comparison]:
    params = {"native.lime": {"num_samples": n}}
    xaihub.explain(model, image, methods=["native.lime"], preprocess=preprocess, device=device,
                   params={"native.lime": {"num_samples": 32}})  # warm-up
    return timed(lambda: xaihub.explain(model, image, methods=["native.lime"], preprocess=preprocess, device=device,
                                        params=params, batch_size=BATCH), device)


def lime_library(model: Any, preprocess: xaihub.Preprocess, image: np.ndarray, n: int, device: str,
                 target: int) -> float:
    """lime's LimeImageExplainer as a user would call it, with the model's preprocessing in torch."""
    import torch
    from lime.lime_image import LimeImageExplainer

    def classify(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.asarray(images, np.float32)).to(device).permute(0, 3, 1, 2)
        with torch.no_grad():
            return torch.softmax(model(preprocess.torch(x)), 1).cpu().numpy()

    explainer = LimeImageExplainer(random_state=0)
    return timed(lambda: explainer.explain_instance(image.astype(np.float64), classify, labels=(target,),
                                                    top_labels=None, hide_color=0, num_samples=n,
                                                    batch_size=BATCH), device)[0]


def model_sized(image: np.ndarray, size: int) -> np.ndarray:
    """The photo resized to the model's input, as uint8, so no method pays the resizing."""
    resized = xaihub.Preprocess(size=size, scale=1.0, offset=0.0).numpy(image[None])[0]
    return np.rint(resized).clip(0, 255).astype(np.uint8)


def what_ran(explanation: xaihub.Explanation) -> dict[str, Any]:
    """Where the perturbations were scored, under which autocast, and what the guard found."""
    return {k: explanation.extras.get(k) for k in ("perturbed_on", "autocast", "autocast_guard")}


def bound_rows(device: str, n: int) -> list[dict[str, Any]]:
    from xaihub.pretrained import imagenet_model, photo

    pretrained = imagenet_model("torch")
    model = pretrained.model.to(device)
    preprocess = pretrained.preprocess
    image, chelsea = (model_sized(photo(name), preprocess.size) for name in ("coffee", "chelsea"))
    rows: list[tuple[str, float, int, dict[str, Any]]] = []
    bound = forward_bound(model, preprocess, image, n, device, "nchw", None)
    rows.append(("forward bound, fp32 NCHW", bound, n, {}))
    rows.append(("forward bound, fp32 channels-last",
                 forward_bound(model, preprocess, image, n, device, "channels-last", None), n, {}))
    if _native_bf16(device):
        rows.append(("forward bound, bf16 autocast, channels-last",
                     forward_bound(model, preprocess, image, n, device, "channels-last", "bf16"), n, {}))
    seconds, result = native_lime(model, image, n, device, preprocess)
    explanation = result.get("native.lime")
    rows.append(("native.lime, declared Preprocess (autocast auto)", seconds, explanation.forward_passes,
                 what_ran(explanation)))
    # On coffee the bf16 guard refuses (its 5th and 6th classes swap); chelsea shows the path the guard admits.
    seconds, other = native_lime(model, chelsea, n, device, preprocess)
    explanation = other.get("native.lime")
    rows.append(("native.lime, chelsea instead (autocast auto)", seconds, explanation.forward_passes,
                 what_ran(explanation)))
    seconds, result = native_lime(model, image, n, device, preprocess.numpy)
    rows.append(("native.lime, preprocess as a function", seconds, result.get("native.lime").forward_passes, {}))
    target = int(result.targets[0])
    rows.append((f"lime LimeImageExplainer, batch {BATCH}", lime_library(model, preprocess, image, n, device, target),
                 n, {}))
    fastest = min(seconds for label, seconds, _, _ in rows if label.startswith("forward bound"))
    lime_seconds = rows[-1][1]
    return [{"what": label, "seconds": seconds, "forward_passes": passes, "x_bound": seconds / fastest,
             "vs_lime": lime_seconds / seconds, **facts} for label, seconds, passes, facts in rows]


def method_rows(device: str) -> list[dict[str, Any]]:
    """Every method on the real model (coffee at its own 400×600 size, top-1, default parameters)."""
    from xaihub.pretrained import imagenet_model, photo

    pretrained = imagenet_model("torch")
    model, image = pretrained.model.to(device), photo("coffee")
    methods = [r.explainer.name for r in xaihub.list_methods()
               if r.explainer.requires.kind == xaihub.BLACK_BOX or "torch" in r.explainer.requires.frameworks]
    from xaihub.models import ModelOptions
    from xaihub.registry.plugins import adapt

    adapter = adapt(model, ModelOptions(preprocess=pretrained.preprocess, device=device))
    batch = np.repeat(image[None], BATCH, 0)
    adapter.predict(batch[:2])
    per_image = timed(lambda: adapter.predict(batch), device)[0] / BATCH
    rows = []
    for method in methods:
        seconds, result = timed(lambda method=method: xaihub.explain(model, image, methods=[method], device=device,
                                                                     preprocess=pretrained.preprocess), device)
        passes = result.forward_passes.get(method, 0)
        failure = result.failure(method)
        rows.append({"method": method, "seconds": result.timings.get(method, seconds), "forward_passes": passes,
                     "seconds_per_pass": result.timings.get(method, seconds) / passes if passes else None,
                     "x_adapter": (result.timings.get(method, seconds) / passes / per_image) if passes else None,
                     "status": "ok" if failure is None else f"{failure.error}: {failure.message[:80]}"})
    return [{"adapter_seconds_per_image": per_image, "rows": rows}]


def memory_case(name: str) -> int:
    """Run one memory case in this process; return the peak resident set in MiB."""
    import torch
    from torch import nn

    n, size = MEMORY_CASES[name]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 5, stride=4, padding=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 10)).eval()
    image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    result = xaihub.explain(model, image, methods=["native.lime"], params={"native.lime": {"num_samples": n}})
    assert result.ok, result.failures
    return peak_resident_mib()


def peak_resident_mib() -> int:
    """This process's peak resident set. Linux's ``ru_maxrss`` survives ``exec`` (a child started by a big
    parent reports the parent's peak), so read the address space's own high-water mark where there is one."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def memory_rows() -> list[dict[str, Any]]:
    rows = []
    for name in MEMORY_CASES:
        out = subprocess.run([sys.executable, __file__, "--memory-case", name], capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        rows.append({"case": name, "peak_mib": int(out)})
    return rows


def _native_bf16(device: str) -> bool:
    import torch

    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def machine(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores"


def print_tables(report: dict[str, Any]) -> None:
    print(f"# {report['machine']}, torch threads: {report['threads']}\n")
    print(f"{'what (N = ' + str(report['samples']) + ')':<52} {'seconds':>8} {'passes':>7} {'× bound':>8} {'vs lime':>8}")
    for r in report["bound"]:
        ran = f"  ran {r['autocast'] or 'fp32'} on {r['perturbed_on']}, guard {r['autocast_guard']}" if "autocast" in r else ""
        print(f"{r['what']:<52} {r['seconds']:>8.2f} {r['forward_passes']:>7} {r['x_bound']:>8.2f} {r['vs_lime']:>7.2f}×"
              f"{ran}")
    if report.get("methods"):
        block = report["methods"][0]
        print(f"\nevery method on coffee (400×600), top-1, defaults; adapter: "
              f"{block['adapter_seconds_per_image'] * 1000:.1f} ms per image")
        print(f"{'method':<28} {'seconds':>8} {'passes':>7} {'s/pass':>8} {'× adapter':>9}  status")
        for r in block["rows"]:
            per = f"{r['seconds_per_pass']:.3f}" if r["seconds_per_pass"] else "-"
            ratio = f"{r['x_adapter']:.2f}" if r["x_adapter"] else "-"
            print(f"{r['method']:<28} {r['seconds']:>8.2f} {r['forward_passes']:>7} {per:>8} {ratio:>9}  {r['status']}")
    print("\npeak memory of native.lime (tiny CNN, fresh process each)")
    for r in report["memory"]:
        print(f"  {r['case']:<20} {r['peak_mib']:>6} MiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--methods", choices=["native", "all"], default="native")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--memory-case", choices=list(MEMORY_CASES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_case:
        print(memory_case(args.memory_case))
        return 0
    import torch

    report = {"machine": machine(args.device), "threads": torch.get_num_threads(), "samples": args.samples,
              "bound": bound_rows(args.device, args.samples),
              "methods": method_rows(args.device) if args.methods == "all" else [],
              "memory": memory_rows()}
    print(json.dumps(report, indent=1) if args.json else "", end="")
    if not args.json:
        print_tables(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
