"""Every method on published ImageNet models (EfficientNet-Lite0 in torch and its Keras port), through the
public API, with the models' own preprocessing — and the two ports agreeing with each other."""

import numpy as np
import pytest
from test_all_methods import methods_for

import xaihub
from xaihub.metrics import spearman

from cheap_params import CHEAP

# The real model's last convolution has 1280 channels: Score-CAM would run 1280 forward passes per
# target, so the one-call test points it at a 16-channel layer; integrated gradients get few steps.
REAL = {
    "omnixai.scorecam": {"torch": {"layer": "_blocks.0._project_conv"}, "keras": {"layer": "block0_project_conv"}},
    "omnixai.ig": {"torch": {"steps": 4}, "keras": {"steps": 4}},
    "omnixai.smoothgrad": {"torch": {"num_samples": 4}, "keras": {"num_samples": 4}},
    "gradients.integrated": {"torch": {"steps": 8}, "keras": {"steps": 8}},
}


def cheap(methods: list[str], framework: str) -> dict[str, dict]:
    params = {m: dict(CHEAP[m]) for m in methods if m in CHEAP}
    for method, by_framework in REAL.items():
        if method in methods:
            params.setdefault(method, {}).update(by_framework[framework])
    return params


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_one_call_runs_every_method_on_the_real_model(framework, request, coffee):
    pretrained = request.getfixturevalue(f"imagenet_{framework}")
    methods = methods_for(framework)
    result = xaihub.explain(pretrained.model, coffee, methods=methods, preprocess=pretrained.preprocess,
                            labels=pretrained.labels, params=cheap(methods, framework))
    refused = {f.method: f.message for f in result.failures if f.error == "MethodUnavailableError"}
    assert [f for f in result.failures if f.method not in refused] == []
    # refused before any work; lrp.epsilon after its one captum call (3 passes): whether captum's LRP forward pass
    # is the model's shows only once it ran (EfficientNet-Lite0: it is not)
    assert all(result.forward_passes[m] <= (3 if m == "lrp.epsilon" else 1) for m in refused), refused
    assert result.labels[result.targets[0]] == "espresso"
    for explanation in result:
        assert explanation.attribution.shape == coffee.shape[:2]
        assert np.isfinite(explanation.attribution).all()


@pytest.mark.parametrize("method", ["gradients.saliency", "gradients.integrated", "gradients.gradcam",
                                    "gradients.gradcampp", pytest.param("native.lime", marks=pytest.mark.slow)])
def test_the_torch_model_and_its_keras_port_give_the_same_maps(method, imagenet_torch, imagenet_keras, coffee):
    params = {"native.lime": {"num_samples": 300, "autocast": None}}.get(method, {})
    maps = []
    for pretrained in (imagenet_torch, imagenet_keras):
        result = xaihub.explain(pretrained.model, coffee, methods=[method], preprocess=pretrained.preprocess,
                                params={method: params} if params else None, seed=3)
        assert result.ok, result.failures
        maps.append(result.get(method).attribution)
    assert spearman(*maps) >= 0.9
