"""Cross-library agreement: each family's implementations from different libraries, run through
:func:`xaihub.explain` with the same settings on one real model — EfficientNet-Lite0 in torch and its
Keras port (:mod:`xaihub.pretrained`, numerically the same network) — and compared by Spearman's ρ
over the image's pixels.

:data:`FAMILIES` is the one list of what is compared and with which settings: ``tests/test_cross_library.py``
holds every pair to :data:`AGREE` or to its documented difference, and ``benchmarks/cross_library.py``
prints the table of docs/explanation/cross-library.md from it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

AGREE = 0.9
"""Two implementations of one family agree when their maps' Spearman correlation reaches this."""
SEED = 3
SAMPLING_MARGIN = 0.1
"""A sampled family's two libraries may agree this much less than one of them does with itself across seeds."""
SEGMENTATION = {"n_segments": 12}
"""SLIC parameters of the superpixels every superpixel method gets (``segments``): few players, so that
a few hundred samples estimate each one's weight well (about 9 superpixels on the coffee photo)."""


@dataclass(frozen=True)
class Run:
    """One implementation of a family: a method on the ``"torch"`` model or its ``"keras"`` port."""

    method: str
    framework: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.method} ({self.framework})"


@dataclass(frozen=True)
class Family:
    """A family's implementations, with the same settings (baseline, steps, samples, window, superpixels).

    :param superpixels: every run gets the same ``segments`` (:func:`shared_segments`).
    :param sampled: a Monte-Carlo estimate (random noise, masks or baselines): each library draws its own
        samples, so two libraries agree at most as well as one library with two seeds.
    :param differences: ``{method: why}`` for an implementation that computes something else by definition;
        its pairs are held to that reason, not to :data:`AGREE`.
    """

    name: str
    runs: tuple[Run, ...]
    superpixels: bool = False
    sampled: bool = False
    differences: Mapping[str, str] = field(default_factory=dict)

    def differs(self, a: Run, b: Run) -> str | None:
        """The documented reason why ``a`` and ``b`` need not agree, if there is one."""
        return self.differences.get(a.method) or self.differences.get(b.method)


def _both(method: str, **params: Any) -> tuple[Run, Run]:
    return Run(method, "torch", params), Run(method, "keras", params)


IG_STEPS = 16
NOISE_SAMPLES = 16
SURROGATE_SAMPLES = 200
OCCLUSION = 100
"""Window and stride of both occlusions, in the photo's pixels: non-overlapping windows tiling the
400×600 coffee photo, where Xplique's sum over the windows covering a pixel equals captum's mean."""

FAMILIES: tuple[Family, ...] = (
    Family("saliency", (*_both("gradients.saliency"), Run("captum.saliency", "torch"), Run("xplique.saliency", "keras"))),
    Family("input_x_gradient", (Run("captum.input_x_gradient", "torch"),
                                Run("xplique.gradient_input", "keras", {"reducer": "sum"}))),
    Family("integrated_gradients", (
        *_both("gradients.integrated", steps=IG_STEPS),
        Run("captum.integrated_gradients", "torch", {"n_steps": IG_STEPS, "method": "riemann_middle"}),
        Run("xplique.integrated_gradients", "keras", {"steps": IG_STEPS, "reducer": "sum"}),
        Run("omnixai.ig", "torch", {"steps": IG_STEPS})),
        differences={"omnixai.ig": "OmniXAI averages IG over 10 random-noise baselines (not settable); the "
                                   "others integrate from a black image"}),
    Family("grad_cam", (*_both("gradients.gradcam"), Run("captum.gradcam", "torch"), Run("omnixai.gradcam", "torch"),
                        Run("xplique.gradcam", "keras"))),
    Family("grad_cam_pp", (*_both("gradients.gradcampp"), Run("omnixai.gradcampp", "torch"),
                           Run("xplique.gradcampp", "keras"))),
    Family("deconvolution", (Run("captum.deconvolution", "torch"), Run("xplique.deconvnet", "keras", {"reducer": "sum"}))),
    Family("guided_backprop", (Run("captum.guided_backprop", "torch"),
                               Run("xplique.guided_backprop", "keras", {"reducer": "sum"}),
                               Run("omnixai.guidedbp", "keras")),
           differences={"captum.guided_backprop": "at a ReLU6, captum (with xaihub's ReLU6 hooks) rectifies "
                                                  "ReLU6's own gradient, zero where the input exceeds 6; Xplique "
                                                  "and OmniXAI gate on input > 0 only, passing gradients there"}),
    Family("occlusion", (Run("captum.occlusion", "torch", {"window": OCCLUSION, "stride": OCCLUSION,
                                                           "score": "probability"}),
                         Run("xplique.occlusion", "keras", {"patch_size": OCCLUSION, "patch_stride": OCCLUSION}))),
    Family("smoothgrad", (Run("captum.smoothgrad", "torch", {"nt_samples": NOISE_SAMPLES, "noise_level": 0.15}),
                          Run("xplique.smoothgrad", "keras", {"nb_samples": NOISE_SAMPLES, "noise": 0.15,
                                                              "reducer": "sum"}),
                          Run("omnixai.smoothgrad", "torch", {"num_samples": NOISE_SAMPLES, "sigma": 0.15})),
           sampled=True,
           differences={"omnixai.smoothgrad": "OmniXAI adds the noise to the model input (224 px, after the "
                                              "resize); the others add it to the photo's pixels, and the resize "
                                              "averages much of it away: the same σ is more noise in OmniXAI"}),
    Family("expected_gradients", (
        Run("captum.gradient_shap", "torch", {"n_samples": 8, "baselines": "blur", "n_baselines": 4}),
        Run("shap.gradient", "torch", {"nsamples": 8, "background": "blur", "n_background": 4})), sampled=True),
    Family("lime", (Run("native.lime", "torch", {"num_samples": SURROGATE_SAMPLES}),
                    Run("captum.lime", "torch", {"n_samples": SURROGATE_SAMPLES}),
                    Run("lime.image", "torch", {"num_samples": SURROGATE_SAMPLES}),
                    Run("xplique.lime", "keras", {"nb_samples": SURROGATE_SAMPLES}),
                    Run("omnixai.lime", "torch", {"num_samples": SURROGATE_SAMPLES})),
           superpixels=True, sampled=True,
           differences={"omnixai.lime": "OmniXAI keeps only lime's top num_features (5) superpixels, as +1 "
                                        "(for the target) or −1 (against), on its own superpixels of the image "
                                        "shrunk to 256 px"}),
    Family("kernel_shap", (Run("native.kernelshap", "torch", {"num_samples": SURROGATE_SAMPLES}),
                           Run("captum.kernel_shap", "torch", {"n_samples": SURROGATE_SAMPLES}),
                           Run("shap.kernel", "torch", {"num_samples": SURROGATE_SAMPLES}),
                           Run("xplique.kernelshap", "keras", {"nb_samples": SURROGATE_SAMPLES})),
           superpixels=True, sampled=True,
           differences={"xplique.kernelshap": "Xplique fits an unconstrained linear regression to the coalitions; "
                                              "the others' values add up to p(image) − p(all filled) (native and "
                                              "shap solve under that constraint, captum weights the all-on and "
                                              "all-off coalitions so that they nearly do)"}),
)
"""Every family with implementations in two or more libraries that run on EfficientNet-Lite0. Not here:
``captum.deeplift_shap`` and ``omnixai.shap`` (refused on this model), ``vargrad``/``squaregrad`` (the
``smoothgrad`` noise with another statistic)."""


def family(name: str) -> Family:
    """The family called ``name`` in :data:`FAMILIES`."""
    return next(f for f in FAMILIES if f.name == name)


def shared_segments(image: np.ndarray) -> np.ndarray:
    """The superpixels every superpixel run gets (SLIC with :data:`SEGMENTATION`)."""
    from xaihub.core.superpixels import segment

    return segment(image, "slic", SEGMENTATION, 0)


def explain_run(run: Run, models: Mapping[str, Any], image: np.ndarray, *, seed: int = SEED,
                segments: np.ndarray | None = None) -> np.ndarray:
    """``run``'s map of ``image``'s top class, through :func:`xaihub.explain`; ``models`` maps a framework
    to its :class:`~xaihub.pretrained.PretrainedModel`. Raises when the method fails."""
    import xaihub

    params = dict(run.params)
    if segments is not None and run.method != "omnixai.lime":  # OmniXAI segments its own shrunk copy
        params["segments"] = segments
    pretrained = models[run.framework]
    result = xaihub.explain(pretrained.model, image, [run.method], preprocess=pretrained.preprocess,
                            params={run.method: params}, seed=seed)
    if not result.ok:
        raise AssertionError(f"{run.label} failed: {result.failures}")
    return result.get(run.method).attribution


def family_maps(fam: Family, models: Mapping[str, Any], image: np.ndarray, *, seed: int = SEED) -> dict[str, np.ndarray]:
    """``{run label: map}`` for every implementation of ``fam``, with its shared settings."""
    segments = shared_segments(image) if fam.superpixels else None
    return {run.label: explain_run(run, models, image, seed=seed, segments=segments) for run in fam.runs}


def pair_agreement(fam: Family, maps: Mapping[str, np.ndarray]) -> list[tuple[Run, Run, float]]:
    """Spearman's ρ of every pair of ``fam``'s implementations."""
    from xaihub.core.agreement import spearman

    return [(a, b, spearman(maps[a.label], maps[b.label])) for a, b in itertools.combinations(fam.runs, 2)]


def seed_agreement(run: Run, models: Mapping[str, Any], image: np.ndarray, first: np.ndarray, *,
                   superpixels: bool) -> float:
    """Spearman's ρ of ``run``'s map ``first`` (at :data:`SEED`) and its map at the next seed: how far a
    Monte-Carlo implementation agrees with itself."""
    from xaihub.core.agreement import spearman

    segments = shared_segments(image) if superpixels else None
    return spearman(first, explain_run(run, models, image, seed=SEED + 1, segments=segments))
