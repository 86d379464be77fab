"""The main demo: explain a published ImageNet classifier on real photos with every installed method.

The model is EfficientNet-Lite0 with its released ImageNet weights (``xaihub.pretrained``, installed
by ``make demo``; nothing is downloaded). It sees scikit-image's coffee photo (espresso) and cat
photo (Egyptian Mau) through its own preprocessing (resize to 224×224, scale to [-1, 1]), and every
method that can run on a torch model explains the top class of each, with deletion and insertion
scores and the noise / centre baselines as reference rows. ``--model shapes`` explains the small
CNN xaihub trains in seconds on its shapes problem instead, where the right answer (a coloured
object) is known.

    python examples/demo.py --out demo-output [--model imagenet|shapes] [--framework torch|keras]
"""

from __future__ import annotations

import argparse
import os
import sys

import xaihub
from xaihub import demo

# Sample budgets that keep the demo to minutes on two CPU cores; each method's defaults are larger.
BUDGETS = {
    "native.lime": {"max_samples": 300},
    "native.kernelshap": {"max_samples": 300},
    "lime.image": {"num_samples": 200},
    "omnixai.lime": {"num_samples": 200},
    "omnixai.ig": {"steps": 16},
    "shap.kernel": {"num_samples": 200},
    "shap.partition": {"max_evals": 200},
    "shap.gradient": {"nsamples": 30},
    "captum.integrated_gradients": {"n_steps": 20},
    "captum.kernel_shap": {"n_samples": 200},
    "captum.lime": {"n_samples": 200},
    "captum.occlusion": {"window": 64, "stride": 32},
    "captum.shapley_value_sampling": {"n_samples": 2},
    "xplique.hsic": {"nb_design": 150},
    "xplique.kernelshap": {"nb_samples": 200},
    "xplique.rise": {"nb_samples": 200},
    "xplique.sobol": {"nb_design": 4},
}
PHOTOS = ("coffee", "chelsea")


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


def budgets(methods: list[str]) -> dict[str, dict]:
    """The demo's budgets for the methods that take them."""
    return {method: params for method, params in BUDGETS.items() if method in methods}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo-output", help="folder for explanations and the report")
    parser.add_argument("--model", choices=["imagenet", "shapes"], default="imagenet")
    parser.add_argument("--framework", choices=["torch", "keras"], default="torch")
    parser.add_argument("--methods", help="comma-separated methods (default: every runnable one)")
    parser.add_argument("--top-k", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    methods = args.methods.split(",") if args.methods else runnable_methods(args.framework)
    options = {"methods": methods, "targets": f"top-{args.top_k}", "seed": args.seed, "params": budgets(methods),
               "metrics": ["deletion", "insertion"], "progress": True}
    if args.model == "imagenet":
        from xaihub.pretrained import imagenet_model, photo

        pretrained = imagenet_model(args.framework)
        model, names = pretrained.model, list(PHOTOS)
        images = [photo(name) for name in PHOTOS]
        options.update(preprocess=pretrained.preprocess, labels=pretrained.labels)
        print(f"{pretrained.name} ({args.framework}), ImageNet weights; {len(methods)} methods", flush=True)
    else:
        print(f"training the demo {args.framework} model (seconds)...", flush=True)
        model = demo.train_torch_model(args.seed) if args.framework == "torch" else demo.train_keras_model(args.seed)
        names, images = ["cat with a green disc"], [demo.demo_image()[0]]
        options.update(labels=demo.CLASS_NAMES)

    results = []
    for name, image in zip(names, images):
        result = xaihub.explain(model, image, **options)
        print(f"\n{name}: {result.labels[result.targets[0]]} "
              f"(p = {result.probabilities[result.targets[0]]:.2f})\n{result.summary()}", flush=True)
        results.append(result)
        saved = result.save(os.path.join(args.out, "explanations", name.replace(" ", "-")))
        print(f"saved {len(saved)} explanations", flush=True)
    os.makedirs(args.out, exist_ok=True)
    path = xaihub.report_many(results, os.path.join(args.out, "report.html"), names=names)
    figures = [f for i, r in enumerate(results)
               for f in r.save_figures(os.path.join(args.out, f"maps-{names[i].replace(' ', '-')}"))]
    print(f"\nreport: {path}\nmaps: {', '.join(figures)}")
    return 0 if all(r.explanations for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
