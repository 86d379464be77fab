"""Every installed method on images that break samplers, regressions and kernels (xaihub.testing.zoo.IMAGE_CASES:
8 px noise to photo size, a flat image, one to three superpixels), and on the unseen small models of the zoo
on noise: it explains them or refuses upfront with its reason, never failing after it started."""

import numpy as np
import pytest

import xaihub
from xaihub import MethodUnavailableError
from xaihub.registry.plugins import list_methods
from xaihub.testing import ON_IMAGES, check_explainer, check_explainer_on_images, zoo

from cheap_params import CHEAP

EXPLAINERS = [registered.explainer for registered in list_methods()]
METHODS = [explainer.name for explainer in EXPLAINERS]
SUPERPIXEL_METHODS = [explainer.name for explainer in EXPLAINERS if "segments" in explainer.defaults]
SLOW = {"omnixai.ig", "omnixai.lime", "omnixai.shap", "shap.partition"}
"""Methods whose runs here take several seconds each (marked slow: `make test-slow` and CI run them)."""
QUICK_CASES = {"noise8"}
"""The case `make test` runs for methods without superpixels (the smallest image)."""
QUICK_SUPERPIXEL_CASES = {"noise8", "noise32", "flat48", "superpixels1", "superpixels2", "superpixels3"}
"""The cases `make test` runs for the superpixel methods, whose samplers and regressions these cases are about:
the tiny, noisy, flat and few-superpixel ones. CI (`make test-all`) runs every case for every method."""


def _marks(method: str, case: str) -> list:
    quick = method not in SLOW and case in (QUICK_SUPERPIXEL_CASES if method in SUPERPIXEL_METHODS else QUICK_CASES)
    return [] if quick else [pytest.mark.slow]


UNSEEN = [zoo.get("torch.depthwise_max"), zoo.get("torch.patch_attention")]
CASES = [pytest.param(explainer.name, case, id=f"{explainer.name}-{case.name}", marks=_marks(explainer.name, case.name))
         for explainer in EXPLAINERS for case in zoo.IMAGE_CASES
         if case.superpixels is None or "segments" in explainer.defaults]


@pytest.mark.parametrize("method, case", CASES)
def test_every_method_explains_or_refuses_upfront_every_image_case(method, case):
    check_explainer_on_images(method, cases=[case], params=CHEAP.get(method))


@pytest.mark.slow  # test_zoo holds every method to the contract on these architectures in make test
@pytest.mark.parametrize("method", METHODS)
def test_every_method_explains_or_refuses_upfront_the_unseen_small_models_on_noise(method):
    check_explainer(method, UNSEEN, image=zoo.noise(48), params=CHEAP.get(method), checks=ON_IMAGES)


@pytest.mark.parametrize("architecture", UNSEEN, ids=[a.name for a in UNSEEN])
def test_the_issue_superpixel_methods_on_a_small_cnn_and_attention_model_on_48_px_noise_fail_only_upfront(architecture):
    methods = SUPERPIXEL_METHODS
    result = xaihub.explain(architecture.build(), zoo.noise(48), methods, targets=[0, 1],
                            params={m: CHEAP[m] for m in methods if m in CHEAP}, progress=False)
    late = [f"{f.method}: {f.error}: {f.message}" for f in result.failures
            if f.error != "MethodUnavailableError" or result.forward_passes[f.method] > 1]
    assert not late
    assert set(methods) == {e.method for e in result.explanations}


@pytest.mark.parametrize("method, fewest", [("captum.kernel_shap", 2), ("xplique.kernelshap", 3)])
def test_kernel_shap_samplers_refuse_too_few_superpixels_before_any_forward_pass(method, fewest):
    image, segments = zoo.bands(fewest - 1)
    architecture = zoo.get("torch.depthwise_max")
    result = xaihub.explain(architecture.build(), image, [method], params={method: {**CHEAP[method],
                                                                                     "segments": segments}})
    [failure] = result.failures
    assert failure.error == MethodUnavailableError.__name__ and result.forward_passes[method] == 0
    assert f"needs at least {fewest} superpixels" in failure.message and f"gave {fewest - 1}" in failure.message
    image, segments = zoo.bands(fewest)
    result = xaihub.explain(architecture.build(), image, [method], targets=[0, 1],
                            params={method: {**CHEAP[method], "segments": segments}})
    assert not result.failures and all(e.segment_weights.shape == (fewest,) for e in result.explanations)


def test_kernel_shap_on_two_superpixels_adds_up_to_the_score_change():
    """captum's Kernel SHAP is fitted with the all-on and all-off coalitions: on two superpixels its values are
    the exact Shapley values, whose sum is p(image) − p(all black)."""
    image, segments = zoo.bands(2)
    model = zoo.get("torch.depthwise_max").build()
    result = xaihub.explain(model, image, ["captum.kernel_shap", "shap.kernel"], targets=[0, 1],
                            params={m: {"segments": segments} for m in ("captum.kernel_shap", "shap.kernel")})
    black = xaihub.explain(model, np.zeros_like(image), ["baseline.centre"]).probabilities
    for explanation in result.explanations:
        change = result.probabilities[explanation.target] - black[explanation.target]
        assert explanation.segment_weights.sum() == pytest.approx(change, abs=1e-4)
