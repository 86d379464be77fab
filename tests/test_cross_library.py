"""Cross-library agreement on the real model (:mod:`xaihub.testing.cross_library`): the implementations of
one family, run with the same settings on EfficientNet-Lite0 and its Keras port, give the same maps
(Spearman ρ ≥ 0.9), or their difference is the one docs/explanation/cross-library.md names and is checked here.

Every test here runs EfficientNet-Lite0 in torch and Keras through several libraries, so the module is marked
``slow`` (`make test-slow` and CI run it); the Monte-Carlo families (LIME, Kernel SHAP, SmoothGrad, expected
gradients) take hundreds of forward passes per implementation and seed."""

import numpy as np
import pytest

from xaihub.core.agreement import spearman
from xaihub.testing.cross_library import (
    AGREE,
    FAMILIES,
    SAMPLING_MARGIN,
    SEED,
    Run,
    explain_run,
    family,
    family_maps,
    pair_agreement,
    seed_agreement,
    shared_segments,
)

pytestmark = pytest.mark.slow  # every test here runs the real model in both frameworks: `make test-slow`, CI

EXACT = [f.name for f in FAMILIES if not f.sampled]
SAMPLED = [f.name for f in FAMILIES if f.sampled]


@pytest.fixture(scope="module")
def models(imagenet_torch, imagenet_keras):
    return {"torch": imagenet_torch, "keras": imagenet_keras}


@pytest.fixture(scope="module")
def maps_of(models, coffee):
    """``maps_of(family)``: the family's maps on the coffee photo, computed once per module."""
    computed = {}

    def maps(name):
        if name not in computed:
            computed[name] = family_maps(family(name), models, coffee)
        return computed[name]

    return maps


@pytest.mark.parametrize("name", EXACT)
def test_implementations_of_one_definition_give_the_same_map(name, maps_of):
    fam = family(name)
    pairs = [(a.label, b.label, rho) for a, b, rho in pair_agreement(fam, maps_of(name)) if not fam.differs(a, b)]
    assert pairs, name
    assert [pair for pair in pairs if not pair[2] >= AGREE] == []


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLED)
def test_monte_carlo_implementations_agree_as_well_as_each_agrees_with_itself(name, maps_of, models, coffee):
    fam = family(name)
    maps = maps_of(name)
    selves = {}

    def itself(run):
        if run.label not in selves:
            selves[run.label] = seed_agreement(run, models, coffee, maps[run.label], superpixels=fam.superpixels)
        return selves[run.label]

    apart = [(a.label, b.label, rho, itself(a), itself(b)) for a, b, rho in pair_agreement(fam, maps)
             if not fam.differs(a, b) and rho < AGREE and rho < min(itself(a), itself(b)) - SAMPLING_MARGIN]
    assert apart == []


@pytest.mark.slow
def test_omnixai_ig_draws_its_baselines_at_random_where_the_others_start_from_black(models, coffee, maps_of):
    fam = family("integrated_gradients")
    omnixai = next(run for run in fam.runs if run.method == "omnixai.ig")
    black = next(run for run in fam.runs if run.method == "gradients.integrated")
    maps = maps_of("integrated_gradients")
    assert spearman(maps[omnixai.label], maps[black.label]) < AGREE
    few_steps = Run(omnixai.method, omnixai.framework, {"steps": 2})  # the baselines, not the steps, follow the seed
    assert not np.allclose(explain_run(few_steps, models, coffee, seed=SEED + 1), explain_run(few_steps, models, coffee))
    np.testing.assert_array_equal(explain_run(black, models, coffee, seed=SEED + 1), maps[black.label])


def test_guided_backprop_libraries_differ_only_where_a_relu6_saturates(imagenet_torch, coffee, maps_of):
    """The rectified gradient itself is the same in captum and Xplique (deconvolution, which has no gate,
    agrees), the two Keras implementations agree, and this photo drives ReLU6 inputs above 6, where the
    gates differ."""
    import torch
    from torch import nn

    fam = family("guided_backprop")
    rho = {(a.method, b.method): r for a, b, r in pair_agreement(fam, maps_of("guided_backprop"))}
    assert rho[("xplique.guided_backprop", "omnixai.guidedbp")] >= AGREE
    assert rho[("captum.guided_backprop", "xplique.guided_backprop")] < AGREE
    assert min(r for _, _, r in pair_agreement(family("deconvolution"), maps_of("deconvolution"))) >= AGREE
    saturated = []
    hooks = [module.register_forward_hook(lambda _m, inputs, _out: saturated.append(float((inputs[0] > 6).float().mean())))
             for module in imagenet_torch.model.modules() if isinstance(module, nn.ReLU6)]
    try:
        with torch.no_grad():
            imagenet_torch.model(imagenet_torch.preprocess.torch(torch.from_numpy(coffee[None]).permute(0, 3, 1, 2).float()))
    finally:
        for hook in hooks:
            hook.remove()
    assert saturated and max(saturated) > 0.01


@pytest.mark.slow
def test_omnixai_lime_keeps_only_the_top_superpixels_as_plus_or_minus_one(maps_of):
    fam = family("lime")
    omnixai = next(run for run in fam.runs if run.method == "omnixai.lime")
    values = maps_of("lime")[omnixai.label]  # ±1 and 0 on OmniXAI's 256 px copy, resized bilinearly to the photo
    assert values.min() >= -1 - 1e-6 and values.max() > 1 - 1e-6
    assert np.isclose(values[..., None], [-1.0, 0.0, 1.0], atol=1e-6).any(axis=-1).mean() > 0.9


def test_the_shared_superpixels_are_few_enough_for_the_sample_budgets(coffee):
    segments = shared_segments(coffee)
    assert 4 <= segments.max() + 1 <= 16


@pytest.mark.slow
def test_kernel_shap_adds_up_to_the_probability_drop_except_xpliques_unconstrained_fit(
        maps_of, imagenet_torch, coffee):
    import torch

    fam = family("kernel_shap")
    segments = shared_segments(coffee)
    first_pixel = np.unique(segments.ravel(), return_index=True)[1]
    images = torch.from_numpy(np.stack([coffee, np.zeros_like(coffee)])).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        p = torch.softmax(imagenet_torch.model(imagenet_torch.preprocess.torch(images)), dim=1).numpy()
    target = int(p[0].argmax())
    difference = p[0, target] - p[1, target]
    gaps = {run.method: float(maps_of("kernel_shap")[run.label].ravel()[first_pixel].sum() - difference)
            for run in fam.runs}
    assert all(abs(gap) < 1e-3 for method, gap in gaps.items() if method not in fam.differences), gaps
    assert abs(gaps["xplique.kernelshap"]) > 0.01, gaps
