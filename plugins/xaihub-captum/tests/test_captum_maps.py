"""captum.* maps are right: they find the object, add up where the method promises it, recover a linear
model's contributions, cost what captum documents, agree with xaihub's own implementations of the same
methods, and leave the user's model as it was."""

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from scipy.stats import spearmanr

import xaihub
from xaihub import list_methods
from xaihub.models.torch_state import ModuleState

TARGETS = [1, 0]  # the object's class, then another
PARAMS = {
    "captum.integrated_gradients": {"n_steps": 8},
    "captum.gradient_shap": {"n_samples": 4, "n_baselines": 3},
    "captum.deeplift_shap": {"n_baselines": 3},
    "captum.occlusion": {"window": 24, "stride": 12},
    "captum.shapley_value_sampling": {"n_samples": 2},
    "captum.lime": {"n_samples": 50},
    "captum.kernel_shap": {"n_samples": 50},
    "captum.smoothgrad": {"nt_samples": 3},
    "captum.vargrad": {"nt_samples": 3},
    "captum.smoothgrad_sq": {"nt_samples": 3},
}
NOT_LOCALISING = {"captum.deconvolution"}  # deconvolution ignores the forward pass's ReLU masks: not class-discriminative


def captum_methods() -> list[str]:
    return sorted(m.explainer.name for m in list_methods() if m.explainer.name.startswith("captum."))


def expected_forward_passes(method: str, explanation: xaihub.Explanation) -> int:
    """What captum documents for each method, for len(TARGETS) targets; + 1 for the architecture trace
    (DeepLift, guided methods) or for finding the last convolution (CAMs)."""
    t, p, extras = len(TARGETS), {**xaihub.registry.plugins.get_method(method).explainer.defaults, **PARAMS.get(method, {})}, \
        explanation.extras
    return {
        "captum.saliency": t, "captum.input_x_gradient": t,
        "captum.integrated_gradients": t * (p.get("n_steps", 0) + 2),
        "captum.gradient_shap": t * p.get("n_samples", 0),
        "captum.deeplift": 4 * t + 1,
        "captum.deeplift_shap": 2 * t * p.get("n_baselines", 0) + 1,
        "captum.guided_backprop": t + 1, "captum.deconvolution": t + 1,
        "captum.guided_gradcam": 2 * t + 2, "captum.gradcam": t + 1,
        "captum.occlusion": extras.get("windows", 0) + 1,
        "captum.feature_ablation": extras.get("n_segments", 0) + 1,
        "captum.shapley_value_sampling": p.get("n_samples", 0) * extras.get("n_segments", 0) + 1,
        "captum.lime": p.get("n_samples", 0), "captum.kernel_shap": p.get("n_samples", 0),
        "captum.smoothgrad": t * p.get("nt_samples", 0), "captum.vargrad": t * p.get("nt_samples", 0),
        "captum.smoothgrad_sq": t * p.get("nt_samples", 0),
    }[method]


@dataclass
class DemoRun:
    """Every captum method on a copy of the demo CNN, in train mode with a hook of its own, and that
    copy's state before the call."""

    model: Any
    before: ModuleState
    weights: dict
    attributes: list
    result: xaihub.Comparison


@pytest.fixture(scope="module")
def demo_run(torch_model, object_image):
    model = copy.deepcopy(torch_model).train()
    model[0].register_forward_hook(lambda module, args, output: None)
    before, attributes = ModuleState.capture(model), [sorted(vars(m)) for m in model.modules()]
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    result = xaihub.explain(model, object_image[0], methods=captum_methods(), targets=TARGETS, params=PARAMS,
                            progress=False)
    return DemoRun(model, before, weights, attributes, result)


@pytest.fixture(scope="module")
def demo_result(demo_run):
    return demo_run.result


def test_every_method_runs_and_costs_what_captum_documents(demo_result, object_image):
    image = object_image[0]
    assert demo_result.failures == []
    assert {e.method for e in demo_result} == set(captum_methods()) and len(captum_methods()) == 18
    for explanation in demo_result:
        method = explanation.method
        assert explanation.attribution.shape == image.shape[:2] and np.isfinite(explanation.attribution).all()
        assert np.abs(explanation.attribution).max() > 0, method
        assert explanation.forward_passes == expected_forward_passes(method, explanation), method
    occlusion = demo_result.get("captum.occlusion", 1).extras
    assert (occlusion["window"], occlusion["stride"]) == (24, 12)
    assert occlusion["windows"] == (math.ceil((128 - 24) / 12) + 1) ** 2


def test_the_users_model_is_left_as_it_was(demo_run):
    import torch

    model = demo_run.model
    assert demo_run.result.failures == []
    assert demo_run.before.changes(model) == []  # hooks, train/eval modes, .grad
    assert model.training and all(p.grad is None for p in model.parameters())
    assert [sorted(vars(m)) for m in model.modules()] == demo_run.attributes  # no attribute left by DeepLift
    for key, value in model.state_dict().items():
        assert torch.equal(value, demo_run.weights[key]), key


def test_maps_put_their_mass_on_the_object(demo_result, object_image):
    _, mask, label = object_image
    for method in sorted(set(captum_methods()) - NOT_LOCALISING):
        positive = np.maximum(demo_result.get(method, label).attribution, 0)
        assert positive[mask].mean() > 2 * positive[~mask].mean(), method


def test_superpixel_methods_paint_the_shared_superpixels(demo_result):
    segments = demo_result.get("captum.feature_ablation", 1).segments
    for method in ("captum.feature_ablation", "captum.shapley_value_sampling", "captum.lime", "captum.kernel_shap"):
        for target in TARGETS:
            explanation = demo_result.get(method, target)
            np.testing.assert_array_equal(explanation.segments, segments)
            np.testing.assert_array_equal(explanation.attribution, explanation.segment_weights[segments])
    assert demo_result.get("captum.lime", 1).extras["score"] == "probability"
    assert demo_result.get("captum.feature_ablation", 1).extras["score"] == "logit"


def test_additive_maps_sum_their_channels(demo_result):
    for method in ("captum.input_x_gradient", "captum.integrated_gradients", "captum.deeplift", "captum.deeplift_shap",
                   "captum.gradient_shap", "captum.guided_backprop", "captum.smoothgrad"):
        explanation = demo_result.get(method, 1)
        np.testing.assert_allclose(explanation.channels.sum(axis=2), explanation.attribution, rtol=1e-5, atol=1e-5)
    saliency = demo_result.get("captum.saliency", 1)
    np.testing.assert_allclose(np.abs(saliency.channels).max(axis=2), saliency.attribution, rtol=1e-6)


def logits(model, images):
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(np.asarray(images, np.float32)).permute(0, 3, 1, 2) / 255).numpy()


@pytest.mark.parametrize("method", ["captum.integrated_gradients", "captum.deeplift"])
def test_completeness_the_map_adds_up_to_the_score_difference(method, torch_model, object_image):
    image, _, label = object_image
    params = {"n_steps": 64} if method == "captum.integrated_gradients" else {}
    result = xaihub.explain(torch_model, image, methods=[method], targets=[label, 2], params={method: params})
    scores = logits(torch_model, [image, np.zeros_like(image)])
    for target in (label, 2):
        explanation = result.get(method, target)
        difference = float(scores[0, target] - scores[1, target])
        assert abs(difference) > 1
        assert explanation.attribution.sum() == pytest.approx(difference, rel=0.02)
        assert abs(explanation.extras["convergence_delta"]) < 0.02 * abs(difference)
        assert explanation.extras["convergence_delta"] == pytest.approx(explanation.attribution.sum() - difference,
                                                                         abs=1e-3 * abs(difference))


def test_saliency_equals_xaihubs_own(torch_model, object_image):
    image, _, label = object_image
    result = xaihub.explain(torch_model, image, methods=["captum.saliency", "gradients.saliency"], targets=[label, 0])
    for target in (label, 0):
        ours, theirs = result.get("gradients.saliency", target), result.get("captum.saliency", target)
        np.testing.assert_allclose(theirs.channels, ours.channels, rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(theirs.attribution, ours.attribution, rtol=1e-5, atol=1e-8)


def test_integrated_gradients_agree_with_xaihubs_own(torch_model, object_image):
    image, _, label = object_image
    midpoint = {"n_steps": 32, "method": "riemann_middle", "baseline": "black"}
    result = xaihub.explain(torch_model, image, methods=["captum.integrated_gradients", "gradients.integrated"],
                            targets=[label, 0], params={"captum.integrated_gradients": midpoint,
                                                        "gradients.integrated": {"steps": 32, "baseline": "black"}})
    default = xaihub.explain(torch_model, image, methods=["captum.integrated_gradients"], targets=[label, 0])
    for target in (label, 0):
        ours = result.get("gradients.integrated", target).attribution
        same_rule = result.get("captum.integrated_gradients", target).attribution
        np.testing.assert_allclose(same_rule, ours, rtol=1e-3, atol=1e-4 * np.abs(ours).max())
        assert spearmanr(same_rule.ravel(), ours.ravel())[0] >= 0.9
        assert spearmanr(default.get("captum.integrated_gradients", target).attribution.ravel(), ours.ravel())[0] >= 0.9


def test_gradcam_equals_xaihubs_own(torch_model, object_image):
    image, _, label = object_image
    result = xaihub.explain(torch_model, image, methods=["captum.gradcam", "gradients.gradcam"], targets=[label, 0])
    for target in (label, 0):
        captum_map = result.get("captum.gradcam", target)
        np.testing.assert_allclose(captum_map.attribution, result.get("gradients.gradcam", target).attribution,
                                   rtol=1e-4, atol=1e-6)
        assert captum_map.extras["layer"] == "6"


def test_perturbation_methods_recover_a_linear_models_contributions():
    """On a model linear in its pixels, with black fills, every method's value for a 4×4 block is exactly that
    block's share of the logit: Σ weight × pixel / 255."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 3)).eval()
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    blocks = (np.arange(16)[:, None] // 4 * 4 + np.arange(16)[None] // 4).astype(np.int32)
    with torch.no_grad():
        weights = model[1].weight.numpy().reshape(3, 3, 16, 16)  # class, channel, row, column
    pixels = image.transpose(2, 0, 1).astype(np.float64) / 255
    shares = {c: np.bincount(blocks.ravel(), (weights[c] * pixels).sum(axis=0).ravel()) for c in (0, 1)}
    common = {"segments": blocks, "score": "logit"}
    params = {"captum.feature_ablation": common, "captum.shapley_value_sampling": {**common, "n_samples": 1},
              "captum.lime": {**common, "n_samples": 200, "alpha": 1e-9},
              "captum.kernel_shap": {**common, "n_samples": 200}, "captum.occlusion": {"window": 4, "stride": 4}}
    result = xaihub.explain(model, image, methods=list(params), targets=[0, 1], params=params, output="logits")
    assert result.failures == []
    for target in (0, 1):
        for method in ("captum.feature_ablation", "captum.shapley_value_sampling", "captum.lime", "captum.kernel_shap"):
            np.testing.assert_allclose(result.get(method, target).segment_weights, shares[target], rtol=1e-3,
                                       atol=1e-4, err_msg=method)
        np.testing.assert_allclose(result.get("captum.occlusion", target).attribution, shares[target][blocks],
                                   rtol=1e-3, atol=1e-4)


def test_occlusion_sizes_its_window_to_the_image():
    import torch

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 56 * 84, 2)).eval()
    image = np.random.default_rng(0).integers(0, 256, (56, 84, 3), dtype=np.uint8)
    result = xaihub.explain(model, image, methods=["captum.occlusion"], targets=[0], output="logits")
    extras = result.get("captum.occlusion", 0).extras
    assert (extras["window"], extras["stride"]) == (4, 2)  # 56 / 14 px, and half of it
    assert extras["windows"] == (math.ceil((56 - 4) / 2) + 1) * (math.ceil((84 - 4) / 2) + 1)
    assert result.forward_passes["captum.occlusion"] == extras["windows"] + 1
