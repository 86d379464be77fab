"""Issue 3's promise: one `explain` call runs every installed method on a torch model and on a Keras model."""

import numpy as np
import pytest

import xaihub
from xaihub.registry.plugins import list_methods

from cheap_params import CHEAP

TRANSFORMERS_ONLY = {"attention_rollout", "transformer_attribution"}
"""Families that read a transformer's attention: they refuse these CNNs upfront (their plugin's tests run them)."""


def methods_for(framework: str) -> list[str]:
    names = []
    for registered in list_methods():
        explainer = registered.explainer
        explainer.check_available()  # the full install has every library: nothing may be missing
        if explainer.family in TRANSFORMERS_ONLY:
            continue
        if explainer.requires.kind == xaihub.BLACK_BOX or framework in explainer.requires.frameworks:
            names.append(explainer.name)
    return names


@pytest.mark.slow  # every method in one call; test_zoo holds each to the contract in make test
@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_one_call_runs_every_method(framework, request, object_image):
    model = request.getfixturevalue(f"{framework}_model")
    image, mask, label = object_image
    methods = methods_for(framework)
    assert {"native.lime", "lime.image", "shap.partition", "gradients.gradcam", "gradients.integrated",
            "omnixai.gradcam", "omnixai.ig"} <= set(methods)
    params = {m: p for m, p in CHEAP.items() if m in methods}
    result = xaihub.explain(model, image, methods=methods, targets="top-2", params=params, progress=False)
    assert result.failures == []
    assert {e.method for e in result} == set(methods)
    for explanation in result:
        assert explanation.attribution.shape == image.shape[:2] and explanation.attribution.dtype == np.float32
        assert np.isfinite(explanation.attribution).all() and explanation.target in result.targets
    assert result.targets[0] == label


@pytest.mark.skipif("not __import__('torch').cuda.is_available()", reason="needs a CUDA device")
def test_every_available_torch_method_runs_on_a_cuda_model(torch_model, object_image):
    import copy

    model = copy.deepcopy(torch_model).cuda().train()
    available = []
    for registered in list_methods():
        explainer = registered.explainer
        try:
            explainer.check_available()
        except xaihub.MethodUnavailableError:
            continue  # the GPU machine may lack some libraries; the CPU run checks them all
        if explainer.family in TRANSFORMERS_ONLY:
            continue
        if explainer.requires.kind == xaihub.BLACK_BOX or "torch" in explainer.requires.frameworks:
            available.append(explainer.name)
    params = {m: p for m, p in CHEAP.items() if m in available}
    result = xaihub.explain(model, object_image[0], methods=available, targets="top-2", params=params)
    assert result.failures == [] and {e.method for e in result} == set(available)
    assert model.training and next(model.parameters()).is_cuda
    for module in model.modules():
        assert not module._forward_hooks and not module._backward_hooks and not module._forward_pre_hooks
