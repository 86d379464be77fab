"""The main demo: explain a published ImageNet classifier on real photos, eight families' best methods, in minutes.

The model is EfficientNet-Lite0 with its released ImageNet weights (``xaihub.pretrained``, installed
by ``make demo``; nothing is downloaded). It sees scikit-image's coffee photo (espresso) and cat
photo (Egyptian Mau) through its own preprocessing (resize to 224×224, scale to [-1, 1]). By default
one method for each of eight families (:data:`FAMILIES`) explains the top class of each (the implementation
``xaihub.benchmark`` picks for the model: ``xaihub.method_benchmark.CHOICES``), with the faithfulness metrics, the randomisation
sanity check and the noise / centre baselines as reference rows, on the benchmark's sample budgets.
``--all`` runs every method that can run on a torch model instead (``make demo-all``). ``--model shapes``
explains the small CNN xaihub trains in seconds on its shapes problem, where the right answer (a
coloured object) is known.

    python examples/demo.py --out demo-output [--all] [--model imagenet|shapes] [--framework torch|keras]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import xaihub
from xaihub.ground_truth import demo
from xaihub.method_benchmark import BUDGETS, FAITHFULNESS_METRICS, SANITY_METRIC, default_methods
from xaihub.models import ModelOptions

PHOTOS = ("coffee", "chelsea")
FAMILIES = ("saliency", "expected_gradients", "grad_cam", "grad_cam_pp", "layer_cam", "lime", "kernel_shap", "rise")
"""The demo's families: gradients, CAMs and perturbations whose chosen implementation (``CHOICES``) beats the
baselines on SRG in the benchmark (docs/explanation/which-method.md) in seconds, LIME and Kernel SHAP among them; they come
from captum, OmniXAI, lime, Xplique and xaihub's own plugins. Left out for time: the families that take longer
than a minute per photo with the sanity check here (DeepLIFT SHAP's rerun on the randomised model alone takes two),
and those that do not beat the baselines. ``--all`` runs every method."""
DEMO_BUDGETS = {"lime.image": {"num_samples": 100}, "native.kernelshap": {"max_samples": 150},
                "xplique.rise": {"nb_samples": 100}}
"""Half the benchmark's budgets for the three perturbation methods, so that the demo explains in about three
minutes on two CPU cores; ``--all`` and the benchmark keep :data:`~xaihub.method_benchmark.BUDGETS`."""
METRICS = (*FAITHFULNESS_METRICS, SANITY_METRIC)
"""The benchmark's faithfulness metrics (SRG first, pixel deletion and insertion beside it) and the sanity check."""


def runnable_methods(framework: str) -> list[str]:
    """Every registered method that can run here on a model of ``framework``."""
    names = []
    for registered in xaihub.list_methods():
        explainer = registered.explainer
        try:
            explainer.check_available()
        except xaihub.XaihubError:
            continue
        if explainer.requires.kind == xaihub.BLACK_BOX or framework in explainer.requires.frameworks:
            names.append(explainer.name)
    return sorted(names, key=lambda name: (not name.startswith("native."), name))  # xaihub's own first


def budgets(methods: list[str], demo: bool) -> dict[str, dict]:
    """The benchmark's budgets for the methods that take them, under :data:`DEMO_BUDGETS` for the default demo."""
    chosen = {**BUDGETS, **DEMO_BUDGETS} if demo else BUDGETS
    return {method: params for method, params in chosen.items() if method in methods}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo-output", help="folder for explanations and the report")
    parser.add_argument("--model", choices=["imagenet", "shapes"], default="imagenet")
    parser.add_argument("--framework", choices=["torch", "keras"], default="torch")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--all", action="store_true", help="every method that can run on the model (slow)")
    chosen.add_argument("--methods", help="comma-separated methods (default: one per family)")
    parser.add_argument("--metrics", default=",".join(METRICS), help="comma-separated metrics (default: %(default)s)")
    parser.add_argument("--top-k", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.model == "imagenet":
        from xaihub.pretrained import imagenet_model, photo

        pretrained = imagenet_model(args.framework)
        model, names, labels = pretrained.model, list(PHOTOS), pretrained.labels
        images, preprocess = [photo(name) for name in PHOTOS], pretrained.preprocess
        described = f"{pretrained.name} ({args.framework}), ImageNet weights"
    else:
        print(f"training the demo {args.framework} model (seconds)...", flush=True)
        model = demo.train_torch_model(args.seed) if args.framework == "torch" else demo.train_keras_model(args.seed)
        names, images, labels, preprocess = ["cat with a green disc"], [demo.demo_image()[0]], demo.CLASS_NAMES, None
        described = f"the shapes {args.framework} CNN"
    if args.methods:
        methods = args.methods.split(",")
    elif args.all:
        methods = runnable_methods(args.framework)
    else:
        methods = default_methods(xaihub.adapt(model, ModelOptions(preprocess=preprocess)), images[0], FAMILIES)
    demo_default = not (args.all or args.methods)
    options = {"methods": methods, "targets": f"top-{args.top_k}", "seed": args.seed,
               "params": budgets(methods, demo_default),
               "metrics": [m for m in args.metrics.split(",") if m], "progress": True, "preprocess": preprocess,
               "labels": labels}
    print(f"{described}; {len(methods)} methods on {len(images)} photo(s): {', '.join(methods)}", flush=True)

    results, start = [], time.perf_counter()
    for position, (name, image) in enumerate(zip(names, images)):
        began = time.perf_counter()
        result = xaihub.explain(model, image, **options)
        took = time.perf_counter() - began
        left = len(images) - position - 1
        estimate = f"; about {_duration(took * left)} for the {left} left" if left else ""
        print(f"\n{name}: {result.labels[result.targets[0]]} (p = {result.probabilities[result.targets[0]]:.2f}), "
              f"explained in {_duration(took)}{estimate}\n{result.summary()}", flush=True)
        results.append(result)
        result.save(os.path.join(args.out, "explanations", name.replace(" ", "-")))
    explaining = time.perf_counter() - start
    os.makedirs(args.out, exist_ok=True)
    report = xaihub.report_many(results, os.path.join(args.out, "report.html"), names=names)
    figures = [f for i, r in enumerate(results)
               for f in r.save_figures(os.path.join(args.out, f"maps-{names[i].replace(' ', '-')}"))]
    print(f"\nExplaining took {_duration(explaining)} ({len(methods)} methods × {len(images)} photo(s), metrics "
          f"included).\nReport: {report} ({os.path.getsize(report) / 1e6:.1f} MB; open it in a browser: "
          f"file://{os.path.abspath(report)})\nExplanations: {os.path.join(args.out, 'explanations')} "
          f"(xaihub.Explanation.load reads them)\nFigures: {', '.join(figures)}")
    return 0 if all(r.explanations for r in results) else 1


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


if __name__ == "__main__":
    sys.exit(main())
