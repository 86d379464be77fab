"""Cross-library agreement on a real model: the table of docs/explanation/cross-library.md.

For every family of ``xaihub.testing.cross_library.FAMILIES``, its implementations run with the same
settings on EfficientNet-Lite0 (torch) and its Keras port, on one photo; this prints, per family, the
lowest Spearman ρ over the pairs that should agree, the ρ of pairs with a documented definitional
difference, and for Monte-Carlo families each implementation's agreement with itself across two seeds.
``tests/test_cross_library.py`` asserts the same numbers.

    python benchmarks/cross_library.py [--photo coffee] [--family NAME ...]
"""

from __future__ import annotations

import argparse
import time

from xaihub.pretrained import imagenet_model, photo
from xaihub.testing.cross_library import FAMILIES, family_maps, pair_agreement, seed_agreement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default="coffee")
    parser.add_argument("--family", nargs="*", help="only these families (default: all)")
    args = parser.parse_args()
    image = photo(args.photo)
    models = {framework: imagenet_model(framework) for framework in ("torch", "keras")}
    print(f"EfficientNet-Lite0 (torch and its Keras port), photo {args.photo!r}\n")
    print("| family | implementations (same settings) | lowest ρ, same definition | ρ, definitional difference "
          "| ρ, same implementation, two seeds | seconds |")
    print("|---|---|---|---|---|---|")
    for fam in FAMILIES:
        if args.family and fam.name not in args.family:
            continue
        start = time.perf_counter()
        maps = family_maps(fam, models, image)
        pairs = pair_agreement(fam, maps)
        same = [rho for a, b, rho in pairs if not fam.differs(a, b)]
        different = [rho for a, b, rho in pairs if fam.differs(a, b)]
        selves = ([f"{run.method} {seed_agreement(run, models, image, maps[run.label], superpixels=fam.superpixels):+.2f}"
                   for run in fam.runs if run.method not in fam.differences] if fam.sampled else [])
        spread = f"{min(different):+.2f} … {max(different):+.2f}" if different else ""
        print(f"| {fam.name} | {', '.join(run.label for run in fam.runs)} | {min(same):+.3f} | {spread} "
              f"| {', '.join(selves)} | {time.perf_counter() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
