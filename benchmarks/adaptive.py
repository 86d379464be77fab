"""Adaptive sample counts: does ``num_samples="auto"`` find the explanation N = 2000 finds, for less?

On 24 real photos (scikit-image's astronaut, chelsea, coffee, rocket, camera and retina: whole, two
crops and a half-size copy, each at most 320 pixels a side), ``native.lime`` explains
EfficientNet-Lite0's top class with N = 2000 perturbations and with ``num_samples="auto"``
(``max_samples`` 800, the same seed, superpixels and autocast). It prints, per photo and in total,
whether the top-4 superpixels by weight (those ``masked_image(4)`` shows) and by ``|weight|`` agree,
and the share of forward passes ``"auto"`` used. The reference is itself an estimate: its column
``ref boot`` is the share of bootstrap refits of the N = 2000 fit that keep its top superpixels, and
the summary also counts agreement on the photos where that share is at least 0.9 (a settled reference).

    python benchmarks/adaptive.py [--reference 2000] [--max-samples 800] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import xaihub

BASES = ("astronaut", "chelsea", "coffee", "rocket", "camera", "retina")
LONGEST_SIDE = 320
TOP = 4


def photos() -> dict[str, np.ndarray]:
    """Crops and rescalings of scikit-image's photos, RGB uint8, at most ``LONGEST_SIDE`` a side."""
    from skimage import data
    from skimage.color import gray2rgb
    from skimage.transform import rescale

    found = {}
    for name in BASES:
        photo = getattr(data, name)()
        photo = gray2rgb(photo) if photo.ndim == 2 else photo[..., :3]
        height, width = photo.shape[:2]
        variants = {"whole": photo, "centre": photo[height // 6: -height // 6, width // 6: -width // 6],
                    "top-left": photo[: 2 * height // 3, : 2 * width // 3],
                    "half": rescale(photo, 0.5, channel_axis=-1, anti_aliasing=True, preserve_range=True)}
        for variant, image in variants.items():
            scale = min(1.0, LONGEST_SIDE / max(image.shape[:2]))
            small = rescale(image, scale, channel_axis=-1, anti_aliasing=True, preserve_range=True)
            found[f"{name}/{variant}"] = np.rint(small).clip(0, 255).astype(np.uint8)
    return found


def top(weights: np.ndarray, by_magnitude: bool) -> frozenset[int]:
    values = np.abs(weights) if by_magnitude else weights
    return frozenset(np.argsort(-values, kind="stable")[:TOP].tolist())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=int, default=2000)
    parser.add_argument("--max-samples", type=int, default=800)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    from xaihub.pretrained import imagenet_model

    pretrained = imagenet_model("torch")
    model = pretrained.model.to(args.device)
    same_signed = same_magnitude = 0
    used = []
    settled = settled_same = 0
    print(f"{'photo':<22} {'class':<22} {'auto N':>7} {'rule met':>8} {'top-4 =':>8} {'|top-4| =':>9} "
          f"{'bootstrap':>9} {'ref boot':>8}")
    images = photos()
    for name, image in images.items():
        def run(params: dict, image: np.ndarray = image) -> xaihub.Explanation:
            result = xaihub.explain(model, image, methods=["native.lime"], preprocess=pretrained.preprocess,
                                    labels=pretrained.labels, device=args.device, params={"native.lime": params})
            return result.get("native.lime")

        reference = run({"num_samples": args.reference})
        auto = run({"num_samples": "auto", "max_samples": args.max_samples})
        signed = top(auto.segment_weights, False) == top(reference.segment_weights, False)
        magnitude = top(auto.segment_weights, True) == top(reference.segment_weights, True)
        same_signed += signed
        same_magnitude += magnitude
        n = auto.extras["num_samples"]
        used.append(n)
        stability = auto.extras["stability"]
        reference_agreement = reference.extras["stability"]["bootstrap_top_agreement"][0]
        if reference_agreement >= 0.9:
            settled += 1
            settled_same += signed
        print(f"{name:<22} {str(auto.label)[:22]:<22} {n:>7} {str(stability['rule_met']):>8} {str(signed):>8} "
              f"{str(magnitude):>9} {stability['bootstrap_top_agreement'][0]:>9.2f} {reference_agreement:>8.2f}",
              flush=True)
    count = len(images)
    print(f"\n{count} photos: top-4 by weight as N={args.reference} in {same_signed}/{count} "
          f"({100 * same_signed / count:.0f}%), by |weight| in {same_magnitude}/{count} "
          f"({100 * same_magnitude / count:.0f}%); forward passes {100 * np.mean(used) / args.reference:.0f}% of "
          f"N={args.reference} on average (median {np.median(used):.0f}, max {max(used)}); where the reference is "
          f"settled (ref boot ≥ 0.9): top-4 by weight in {settled_same}/{settled}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
