"""The zennit plugin: its LRP composites keep the contract on the zoo's CNNs, conserve relevance where the rules
say they must (a residual network included, through zennit's ResNet canonizer), agree with captum's LRP
(``lrp.epsilon``) on the rule both apply, and refuse upfront what they would explain wrongly."""

import numpy as np
import pytest

import xaihub
from xaihub.registry.plugins import get_method
from xaihub.testing import check_explainer, zoo

pytest.importorskip("zennit")

METHODS = ["zennit.epsilon_plus_flat", "zennit.epsilon_gamma_box", "zennit.epsilon"]


def bias_free_cnn():
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3, bias=False),
    ).eval()


def bias_free_resnet():
    """torchvision's ResNet-18 without normalisation and biases: every rule of EpsilonPlusFlat conserves
    relevance on it only if the residual additions split it (zennit's canonizer), not copy it."""
    import torch
    from torch import nn

    from xaihub_zennit.methods import import_zennit

    import_zennit()
    from torchvision.models import resnet18

    torch.manual_seed(0)
    net = resnet18(num_classes=3, norm_layer=lambda channels: nn.Identity()).eval()
    with torch.no_grad():
        net.fc.bias.zero_()
    return net


@pytest.mark.parametrize("method", METHODS)
def test_the_methods_keep_the_contract_on_the_zoos_cnn(method):  # every zoo model: tests/test_zoo.py
    report = check_explainer(get_method(method).explainer, zoo.get("torch.cnn"), raise_on_failure=False)
    assert not report.failures, str(report)
    assert report.unavailable() is None


@pytest.mark.parametrize("method", ["zennit.epsilon_plus_flat", "zennit.epsilon"])
def test_relevance_adds_up_to_the_score_on_a_bias_free_network(method):
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    result = xaihub.explain(bias_free_cnn(), image, methods=[method], targets=[0, 2])
    assert result.ok, result.failures
    for target in (0, 2):
        extras = result.get(method, target).extras
        assert extras["relevance_sum"] == pytest.approx(extras["score"], rel=1e-3)
        assert result.get(method, target).attribution.sum() == pytest.approx(extras["score"], rel=1e-3)


def test_a_torchvision_resnet_conserves_relevance_through_its_residual_additions():
    net = bias_free_resnet()
    hooks = [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks)) for m in net.modules()]
    forwards = [type(m).forward is m.forward.__func__ for m in net.modules()]
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    result = xaihub.explain(net, image, methods=["zennit.epsilon_plus_flat"], targets=[1])
    assert result.ok, result.failures
    extras = result.get("zennit.epsilon_plus_flat", 1).extras
    assert extras["relevance_sum"] == pytest.approx(extras["score"], rel=1e-3)  # copied at each addition: ≫ score
    assert [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks)) for m in net.modules()] == hooks
    assert [type(m).forward is m.forward.__func__ for m in net.modules()] == forwards  # the canonizer's copy only


def test_zennits_epsilon_rule_agrees_with_captums():
    from scipy.stats import spearmanr

    image = zoo.image()
    net = zoo.get("torch.cnn").build()
    result = xaihub.explain(net, image, methods=["zennit.epsilon", "lrp.epsilon"], targets=[0, 1],
                            params={"zennit.epsilon": {"epsilon": 1e-9}})
    assert result.ok, result.failures
    for target in (0, 1):
        zennit_map, captum_map = (result.get(m, target).attribution.ravel() for m in ("zennit.epsilon", "lrp.epsilon"))
        assert spearmanr(zennit_map, captum_map).statistic >= 0.95
        np.testing.assert_allclose(result.get("zennit.epsilon", target).extras["relevance_sum"],
                                   result.get("lrp.epsilon", target).extras["relevance_sum"], rtol=1e-3)


def test_the_composites_differ_from_each_other():
    result = xaihub.explain(zoo.get("torch.cnn").build(), zoo.image(), methods=METHODS, targets=[0])
    maps = [result.get(m, 0).attribution for m in METHODS]
    assert not np.allclose(maps[0], maps[1]) and not np.allclose(maps[0], maps[2])


@pytest.mark.parametrize(("model", "reason"), [
    ("torch.resnet", "computes add (add), add (add_1) outside modules"),
    ("torch.mobilenet", "computes add"),
    ("torch.vit", "MultiheadAttention (module 'blocks.0.attention'"),
    ("hf.vit", "no rule for LayerNorm"),
])
def test_models_it_would_explain_wrongly_are_refused_upfront_with_the_reason(model, reason):
    report = check_explainer(get_method("zennit.epsilon_plus_flat").explainer, zoo.get(model), raise_on_failure=False)
    assert reason in (report.unavailable(model) or ""), str(report)


def test_a_batchnorm_the_canonizer_would_merge_into_the_wrong_layer_is_refused():
    """zennit merges a BatchNorm into the convolution registered just before it; here the BatchNorm runs
    before that convolution, so the merged model would compute other scores: refused upfront, not explained."""
    import torch
    from torch import nn

    class NormFirst(nn.Module):
        def __init__(self, registered_in_order=False):
            super().__init__()
            if registered_in_order:
                self.norm = nn.BatchNorm2d(3)
            self.conv = nn.Conv2d(3, 4, 3)
            if not registered_in_order:
                self.norm = nn.BatchNorm2d(3)
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(torch.relu(self.conv(self.norm(x))).mean((2, 3)))

    torch.manual_seed(0)
    net = NormFirst().eval()
    with torch.no_grad():
        net.norm.running_mean.uniform_(0.2, 0.8)
        net.norm.running_var.uniform_(0.1, 0.5)
    result = xaihub.explain(net, zoo.image(), methods=["zennit.epsilon"])
    assert not result.ok and "would merge BatchNorm 'norm' into the layer registered before it" in \
        result.failures[0].message
    in_order = NormFirst(registered_in_order=True).eval()  # nothing before the BatchNorm: not merged, explained
    assert xaihub.explain(in_order, zoo.image(), methods=["zennit.epsilon"]).ok


@pytest.mark.slow
def test_efficientnet_lite0_is_refused_for_its_residual_additions():
    from xaihub import pretrained

    try:
        model = pretrained.imagenet_model("torch")
    except xaihub.ModelError as exc:
        pytest.skip(str(exc))
    result = xaihub.explain(model.model, pretrained.photo("astronaut"), methods=["zennit.epsilon_plus_flat"],
                            preprocess=model.preprocess)
    assert not result.ok and "computes add" in result.failures[0].message
