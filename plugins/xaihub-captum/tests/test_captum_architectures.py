"""Architectures captum's hook-based methods cannot handle are refused upfront, and each reason is proved:
run anyway (check_model bypassed), captum fails or gives a map that breaks the method's definition."""

import numpy as np
import pytest

import xaihub
from xaihub import adapt
from xaihub.models import ModelOptions

IMAGE = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
GUIDED = ["captum.guided_backprop", "captum.deconvolution", "captum.guided_gradcam"]
DEEPLIFT = ["captum.deeplift", "captum.deeplift_shap"]


def network(kind: str):
    """Small CNNs, each with one architectural feature; weights fixed by a seed."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(3, 6, 3, padding=1), nn.Conv2d(6, 6, 3, padding=1)
            self.conv3 = nn.Conv2d(3, 6, 5, padding=2)
            self.act = nn.SiLU() if kind == "silu" else nn.ReLU6() if kind == "relu6" else nn.ReLU(kind == "inplace")
            self.act2 = nn.ReLU(inplace=True) if kind == "inplace" else type(self.act)()
            self.norm = nn.LayerNorm([6, 24, 24])
            self.head = nn.Linear(6, 3)

        def forward(self, x):
            h = self.conv1(x)
            if kind == "reused":  # one ReLU module, called twice in sequence
                h = self.act(self.conv2(self.act(h)))
            elif kind == "distinct":  # the same network with two ReLU modules
                h = self.act2(self.conv2(self.act(h)))
            elif kind == "parallel":  # one ReLU module on two parallel paths, both inputs computed first
                g = self.conv3(x)
                h = 2 * self.act(h) + self.act(g)
            elif kind == "parallel-distinct":
                g = self.conv3(x)
                h = 2 * self.act(h) + self.act2(g)
            elif kind == "shared-input":  # a pre-activation residual: the ReLU's input also feeds the sum
                h = self.conv2(self.act(h)) + h
            elif kind == "fresh-input":
                h = self.conv2(self.act(h + 0)) + h
            elif kind == "functional":
                h = F.relu(self.conv2(F.relu(h)))
            elif kind == "layernorm":
                h = self.act2(self.conv2(self.norm(self.act(h))))
            else:  # "relu", "inplace", "silu", "relu6": conv-act-conv-act
                h = self.act2(self.conv2(self.act(h)))
            return self.head(h.mean(dim=(2, 3)))

    torch.manual_seed(0)
    return Net().eval()


def explain_bypassing_checks(model, method: str, target: int = 0, **params):
    """Run a method's explain directly, without its check_model (what captum would give)."""
    adapter = adapt(model, ModelOptions(output="logits"))
    adapter.predict(IMAGE[None])
    explainer = xaihub.registry.plugins.get_method(method).explainer
    with adapter.session():
        return explainer.explain(adapter, IMAGE, [target], seed=0, **{**explainer.defaults, **params})[0]


def failures(model, methods):
    result = xaihub.explain(model, IMAGE, methods=methods, targets=[0], output="logits", progress=False)
    return {f.method: f for f in result.failures}, result


@pytest.mark.parametrize("kind", ["relu", "inplace"])
def test_a_plain_relu_network_runs_every_hook_based_method(kind):
    found, result = failures(network(kind), GUIDED + DEEPLIFT)
    assert found == {}
    assert abs(result.get("captum.deeplift", 0).extras["convergence_delta"]) < 1e-4
    if kind == "inplace":
        plain = failures(network("relu"), GUIDED + DEEPLIFT)[1]
        for method in GUIDED + DEEPLIFT:
            np.testing.assert_allclose(result.get(method, 0).attribution, plain.get(method, 0).attribution, rtol=1e-5,
                                       atol=1e-9)


def test_a_reused_relu_is_refused_by_deeplift_because_captum_raises():
    found, result = failures(network("reused"), DEEPLIFT + GUIDED)
    assert set(found) == set(DEEPLIFT)
    for method in DEEPLIFT:
        assert found[method].error == "MethodUnavailableError"
        assert "modules run more than once per forward pass: ReLU 'act'" in found[method].message
    with pytest.raises(RuntimeError, match="used more than once"):
        explain_bypassing_checks(network("reused"), "captum.deeplift")
    # guided methods take a ReLU called twice in sequence: the same maps as with two ReLU modules
    for method in GUIDED:
        np.testing.assert_allclose(result.get(method, 0).attribution,
                                   explain_bypassing_checks(network("distinct"), method).attribution, rtol=1e-5, atol=1e-7)


def test_a_relu_on_parallel_paths_is_refused_by_deconvolution_because_the_map_would_be_wrong():
    found, _ = failures(network("parallel"), ["captum.deconvolution", "captum.guided_backprop"])
    assert set(found) == {"captum.deconvolution"}
    assert "rectifiers run more than once on parallel paths: ReLU 'act'" in found["captum.deconvolution"].message
    reused = explain_bypassing_checks(network("parallel"), "captum.deconvolution").attribution
    distinct = explain_bypassing_checks(network("parallel-distinct"), "captum.deconvolution").attribution
    assert not np.allclose(reused, distinct, rtol=1e-3, atol=1e-3 * np.abs(distinct).max())


def test_a_relu_whose_input_feeds_a_residual_is_refused_because_deeplift_stops_adding_up():
    found, _ = failures(network("shared-input"), DEEPLIFT + ["captum.guided_backprop"])
    assert set(found) == set(DEEPLIFT) | {"captum.guided_backprop"}
    assert "also feeds other operations: ReLU 'act'" in found["captum.deeplift"].message
    broken = explain_bypassing_checks(network("shared-input"), "captum.deeplift").extras["convergence_delta"]
    sound = explain_bypassing_checks(network("fresh-input"), "captum.deeplift").extras["convergence_delta"]
    assert abs(sound) < 1e-4 < abs(broken)
    assert failures(network("fresh-input"), DEEPLIFT)[0] == {}


def test_functional_activations_are_refused_because_the_hooks_never_see_them():
    import torch

    found, _ = failures(network("functional"), DEEPLIFT + GUIDED)
    assert set(found) == set(DEEPLIFT + GUIDED)
    assert "DeepLift has no rule for Relu outside modules ×2" in found["captum.deeplift"].message
    assert "no ReLU and ReLU6 module runs" in found["captum.guided_backprop"].message
    # run anyway, guided backpropagation is the plain gradient
    model = network("functional")
    guided = explain_bypassing_checks(model, "captum.guided_backprop")
    x = torch.from_numpy(IMAGE[None].astype(np.float32)).permute(0, 3, 1, 2).requires_grad_(True)
    model(x / 255)[0, 0].backward()
    np.testing.assert_allclose(guided.channels, x.grad[0].permute(1, 2, 0).numpy(), rtol=1e-5, atol=1e-9)


def test_a_layer_norm_is_refused_by_deeplift_because_its_contributions_stop_adding_up():
    found, _ = failures(network("layernorm"), DEEPLIFT + ["captum.guided_backprop"])
    assert set(found) == set(DEEPLIFT)
    assert "DeepLift has no rule for LayerNorm (module 'norm')" in found["captum.deeplift"].message
    delta = explain_bypassing_checks(network("layernorm"), "captum.deeplift").extras["convergence_delta"]
    assert abs(delta) > 1e-3


def test_silu_gets_the_rescale_rule_in_deeplift_and_is_refused_by_guided_methods():
    found, result = failures(network("silu"), DEEPLIFT + GUIDED)
    assert set(found) == set(GUIDED)
    assert "no ReLU and ReLU6 module runs" in found["captum.guided_backprop"].message
    assert abs(result.get("captum.deeplift", 0).extras["convergence_delta"]) < 1e-4


def test_relu6_is_rectified_like_relu():
    """Below 6 a ReLU6 network is its ReLU twin: the guided maps must be the same."""
    import torch

    relu6, relu = network("relu6"), network("relu")
    with torch.no_grad():
        for net in (relu6, relu):
            net.conv1.weight.mul_(0.01)  # keep every activation below 6
    found, result = failures(relu6, GUIDED + DEEPLIFT)
    assert found == {}
    for method in GUIDED:
        np.testing.assert_allclose(result.get(method, 0).attribution,
                                   explain_bypassing_checks(relu, method).attribution, rtol=1e-4, atol=1e-9)


def test_refusals_cost_one_traced_pass_and_leave_other_methods_running():
    result = xaihub.explain(network("reused"), IMAGE, methods=["captum.deeplift", "captum.saliency"], targets=[0],
                            output="logits", progress=False)
    assert [f.method for f in result.failures] == ["captum.deeplift"]
    assert result.forward_passes["captum.deeplift"] == 1
    assert result.get("captum.saliency", 0) is not None
