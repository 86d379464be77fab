"""How captum.* methods run: seeded (leaving the caller's random state as it was), sharing work between
targets, on any preprocessing, with checked parameters, and on the real EfficientNet-Lite0."""

import numpy as np
import pytest

import xaihub
from xaihub import adapt
from xaihub.models import ModelOptions

RANDOM = {
    "captum.gradient_shap": {"n_samples": 4, "n_baselines": 2, "stdevs": 5.0},
    "captum.deeplift_shap": {"n_baselines": 2, "baselines": "uniform"},
    "captum.smoothgrad": {"nt_samples": 3}, "captum.vargrad": {"nt_samples": 3}, "captum.smoothgrad_sq": {"nt_samples": 3},
    "captum.lime": {"n_samples": 30}, "captum.kernel_shap": {"n_samples": 30},
    "captum.shapley_value_sampling": {"n_samples": 1},
}
CHEAP = {  # every captum method, cheaply, for the real model on the 400×600 coffee photo
    "captum.integrated_gradients": {"n_steps": 4}, "captum.gradient_shap": {"n_samples": 2, "n_baselines": 2},
    "captum.deeplift_shap": {"n_baselines": 2}, "captum.occlusion": {"window": 100, "stride": 100},
    "captum.shapley_value_sampling": {"n_samples": 1}, "captum.lime": {"n_samples": 20},
    "captum.kernel_shap": {"n_samples": 20}, "captum.smoothgrad": {"nt_samples": 2}, "captum.vargrad": {"nt_samples": 2},
    "captum.smoothgrad_sq": {"nt_samples": 2},
}
GRID = {"segments": (np.arange(400)[:, None] // 100 * 6 + np.arange(600)[None] // 100).astype(np.int32)}


def captum_methods() -> list[str]:
    return sorted(m.explainer.name for m in xaihub.registry.plugins.list_methods() if m.explainer.name.startswith("captum."))


def test_equal_seeds_give_equal_maps_and_leave_the_callers_random_state(torch_model, object_image):
    import torch

    image = object_image[0]
    methods = list(RANDOM)
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    first = xaihub.explain(torch_model, image, methods=methods, targets=[1, 0], params=RANDOM, seed=7)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state))
    again = xaihub.explain(torch_model, image, methods=methods, targets=[1, 0], params=RANDOM, seed=7)
    other = xaihub.explain(torch_model, image, methods=methods, targets=[1, 0], params=RANDOM, seed=8)
    assert first.failures == again.failures == other.failures == []
    for method in methods:
        for target in (1, 0):
            np.testing.assert_array_equal(first.get(method, target).attribution, again.get(method, target).attribution)
            assert not np.array_equal(first.get(method, target).attribution, other.get(method, target).attribution), method


@pytest.mark.parametrize("method", ["captum.occlusion", "captum.feature_ablation", "captum.shapley_value_sampling",
                                    "captum.lime", "captum.kernel_shap"])
def test_targets_share_the_perturbed_images_and_get_their_own_maps(method, torch_model, object_image):
    image = object_image[0]
    params = {method: {**RANDOM.get(method, {}), **({"window": 32, "stride": 16} if method == "captum.occlusion" else {})}}
    both = xaihub.explain(torch_model, image, methods=[method], targets=[1, 0], params=params)
    for target in (1, 0):
        alone = xaihub.explain(torch_model, image, methods=[method], targets=[target], params=params)
        np.testing.assert_allclose(both.get(method, target).attribution, alone.get(method, target).attribution,
                                   rtol=1e-4, atol=1e-6)
        assert both.forward_passes[method] == alone.forward_passes[method]
    assert not np.allclose(both.get(method, 1).attribution, both.get(method, 0).attribution)


def test_a_preprocess_function_puts_gradients_on_the_model_input_and_perturbations_on_the_pixels(torch_model,
                                                                                                   object_image):
    image, mask, label = object_image

    def preprocess(batch):
        return (batch / 255.0)[:, ::2, ::2].astype(np.float32)  # halves the resolution

    methods = ["captum.integrated_gradients", "captum.occlusion", "captum.feature_ablation", "captum.gradcam"]
    result = xaihub.explain(torch_model, image, methods=methods, targets=[label], preprocess=preprocess,
                            params={"captum.occlusion": {"window": 16, "stride": 16}})
    assert result.failures == []
    ig = result.get("captum.integrated_gradients", label)
    assert ig.extras["input_space"] == "model" and ig.channels.shape == image.shape
    for method in methods:
        positive = np.maximum(result.get(method, label).attribution, 0)
        assert positive.shape == image.shape[:2] and positive[mask].mean() > 2 * positive[~mask].mean(), method
    assert result.forward_passes["captum.occlusion"] == 8 * 8 + 1


@pytest.mark.slow
def test_every_method_runs_on_efficientnet_lite0_or_is_refused_upfront(imagenet_torch, coffee):
    params = {m: {**CHEAP.get(m, {}), **(GRID if m in SUPERPIXEL else {})} for m in captum_methods()}
    result = xaihub.explain(imagenet_torch.model, coffee, preprocess=imagenet_torch.preprocess, methods=captum_methods(),
                            params=params, progress=False)
    refused = {f.method: f for f in result.failures}
    assert set(refused) == {"captum.deeplift", "captum.deeplift_shap"}
    for failure in refused.values():
        assert failure.error == "MethodUnavailableError" and failure.target is None
        assert "modules run more than once per forward pass: ReLU6 '_swish', ReLU6 '_blocks.1._swish'" \
            in failure.message
        assert result.forward_passes[failure.method] == 1
    assert {e.method for e in result} == set(captum_methods()) - set(refused)
    for explanation in result:
        assert explanation.attribution.shape == coffee.shape[:2] and np.isfinite(explanation.attribution).all()
        assert np.abs(explanation.attribution).max() > 0, explanation.method
        assert explanation.label is None or isinstance(explanation.label, str)
    assert result.get("captum.gradcam").extras["layer"] == "_conv_head"
    assert result.get("captum.occlusion").forward_passes == 4 * 6 + 1
    # the reason is right: run anyway, captum's DeepLift fails on the reused ReLU6 modules
    adapter = adapt(imagenet_torch.model, ModelOptions(preprocess=imagenet_torch.preprocess))
    target = int(adapter.predict(coffee[None])[0].argmax())
    explainer = xaihub.registry.plugins.get_method("captum.deeplift").explainer
    with adapter.session(), pytest.raises(RuntimeError, match="used more than once"):
        explainer.explain(adapter, coffee, [target], seed=0, **explainer.defaults)
    assert all(not hasattr(m, "output") for m in imagenet_torch.model.modules())


SUPERPIXEL = {"captum.feature_ablation", "captum.shapley_value_sampling", "captum.lime", "captum.kernel_shap"}


@pytest.mark.parametrize(("method", "params", "message"), [
    ("captum.integrated_gradients", {"n_steps": 0}, "n_steps"),
    ("captum.integrated_gradients", {"method": "simpson"}, "method"),
    ("captum.occlusion", {"window": 0}, "window"),
    ("captum.lime", {"score": "logits"}, "score"),
    ("captum.deeplift_shap", {"n_baselines": 1}, "n_baselines"),
])
def test_bad_parameters_are_refused_before_any_method_runs(method, params, message, torch_model, object_image):
    with pytest.raises(xaihub.InputError, match=f"{method}: parameter '{message}'"):
        xaihub.explain(torch_model, object_image[0], methods=[method], params={method: params})


def test_an_unknown_layer_fails_the_cam_methods_naming_it(torch_model, object_image):
    methods = ["captum.gradcam", "captum.guided_gradcam"]
    result = xaihub.explain(torch_model, object_image[0], methods=methods, params={m: {"layer": "nope"} for m in methods})
    for method in methods:
        assert "the model has no module named 'nope'" in result.failure(method).message
