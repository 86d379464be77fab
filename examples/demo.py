"""The main demo: explain a small CNN on a real photo with every installed method.

The model is trained here in seconds on xaihub's shapes problem (photo crops with one
coloured object; the class is the object), then explained on the cat photo from
``skimage.data.chelsea()`` with a green disc pasted on it. A correct explanation
lights up the disc.

    python examples/demo.py --out demo-output [--framework keras] [--methods native.lime,...]
"""

from __future__ import annotations

import argparse
import os
import sys

import xaihub
from xaihub import demo


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo-output", help="folder for explanations and the report")
    parser.add_argument("--framework", choices=["torch", "keras"], default="torch")
    parser.add_argument("--methods", help="comma-separated methods (default: every runnable one)")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print(f"training the demo {args.framework} model (seconds)...", flush=True)
    model = demo.train_torch_model(args.seed) if args.framework == "torch" else demo.train_keras_model(args.seed)
    image, _ = demo.demo_image()
    methods = args.methods.split(",") if args.methods else runnable_methods(args.framework)
    result = xaihub.explain(model, image, methods=methods, targets=f"top-{args.top_k}",
                            labels=demo.CLASS_NAMES, seed=args.seed, metrics=["deletion", "insertion", "degradation"])
    print(result.summary())
    os.makedirs(args.out, exist_ok=True)
    saved = result.save(os.path.join(args.out, "explanations"))
    print(f"\nsaved {len(saved)} explanations under {os.path.join(args.out, 'explanations')}")
    path = result.report(os.path.join(args.out, "report.html"))
    result.figure().savefig(os.path.join(args.out, "report.png"), dpi=100)
    print(f"report: {path} (maps also in {os.path.join(args.out, 'report.png')})")
    return 0 if result.explanations else 1


if __name__ == "__main__":
    sys.exit(main())
