"""The attention plugin: rollout and transformer attribution on known cases, read without changing what the
model computes, kept to the contract, refused upfront where there is no attention to read."""

import numpy as np
import pytest

import xaihub
from xaihub.registry.plugins import get_method
from xaihub.testing import check_explainer, zoo

METHODS = ["attention.rollout", "attention.transformer_attribution"]


def test_rollout_and_gradient_rollout_on_hand_made_attention():
    import torch

    from xaihub_attention.methods import gradient_rollout, rollout

    tokens, patch = 5, 3
    focused = torch.zeros(2, tokens, tokens)
    focused[:, :, patch] = 1.0  # every token of both heads attends to one patch
    relevance = rollout([focused])
    np.testing.assert_allclose(relevance[0].numpy(), [0.5, 0, 0, 0.5, 0])
    np.testing.assert_allclose(rollout([focused, focused])[0].numpy(), [0.25, 0, 0, 0.75, 0])
    uniform = torch.full((1, tokens, tokens), 1 / tokens)
    np.testing.assert_allclose(rollout([uniform] * 3).sum(-1).numpy(), np.ones(tokens), rtol=1e-6)  # rows stay stochastic
    # max over heads keeps the focused head's 1 and the uniform head's 0.2 elsewhere: row 0 is (1.2, .2, .2, 1, .2)/2.8
    mixed = rollout([torch.cat([focused[:1], uniform])], "max")[0]
    np.testing.assert_allclose(mixed.numpy(), np.array([1.2, 0.2, 0.2, 1.0, 0.2]) / 2.8, rtol=1e-6)
    # Chefer: R = I + (∇A ⊙ A)⁺ R; a negative gradient removes the layer's contribution
    np.testing.assert_allclose(gradient_rollout([focused], [torch.ones_like(focused)])[0].numpy(), [1, 0, 0, 1, 0])
    np.testing.assert_allclose(gradient_rollout([focused], [-torch.ones_like(focused)]).numpy(), np.eye(tokens))


class RedPatch:
    """A one-layer transformer built by hand: patches embedded by their mean colour, one head whose keys are
    10 × the patch's redness (every token attends to the red patch), the mean of the tokens, score 0 = their
    redness: so the evidence for class 0 is the red patch."""

    @staticmethod
    def build():
        import torch
        from torch import nn

        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Conv2d(3, 4, 8, stride=8)
                self.attention = nn.MultiheadAttention(4, 1, batch_first=True)
                self.head = nn.Linear(4, 3)

            def forward(self, x):
                tokens = self.embed(x).flatten(2).transpose(1, 2)
                return self.head(self.attention(tokens, tokens, tokens, need_weights=False)[0].mean(1))

        model = Model().eval()
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
            for c in range(3):
                model.embed.weight[c, c] = 1 / 64  # channel c: the patch's mean of colour c
            model.embed.bias[3] = 1.0
            width = 4
            model.attention.in_proj_bias[0:width][3] = 1.0  # query: constant
            model.attention.in_proj_weight[width:2 * width][3, 0] = 10.0  # key: 10 × red
            model.attention.in_proj_weight[2 * width:] = torch.eye(width)  # value: the token
            model.attention.out_proj.weight.copy_(torch.eye(width))
            model.head.weight[0, 0] = 1.0
            model.head.weight[1, 1] = 1.0
        return model


def red_patch_image():
    image = np.full((32, 32, 3), 40, np.uint8)
    image[8:16, 16:24] = (250, 0, 0)  # patch (1, 2) of the 4×4 grid
    return image


@pytest.mark.parametrize("method", METHODS)
def test_both_methods_find_the_patch_the_attention_reads(method):
    image = red_patch_image()
    result = xaihub.explain(RedPatch.build(), image, methods=[method], targets=[0, 1])
    assert result.ok, result.failures
    explanation = result.get(method, 0)
    assert explanation.attribution.shape == (32, 32)
    assert explanation.extras["grid"] == [4, 4] and explanation.extras["extra_tokens"] == 0
    assert explanation.extras["layers"] == 1
    inside, outside = explanation.attribution[8:16, 16:24], np.delete(explanation.attribution[8:16], np.s_[16:24], 1)
    assert inside.mean() > 3 * outside.mean(), method
    assert explanation.forward_passes == 1


def test_a_frozen_model_is_explained_and_left_frozen():
    net = RedPatch.build().requires_grad_(False)
    result = xaihub.explain(net, red_patch_image(), methods=METHODS, targets=[0])
    assert result.ok, result.failures
    assert not any(p.requires_grad for p in net.parameters())
    assert np.ptp(result.get("attention.transformer_attribution", 0).attribution) > 0


def test_rollout_ignores_the_target_and_transformer_attribution_does_not():
    image = red_patch_image()
    result = xaihub.explain(RedPatch.build(), image, methods=METHODS, targets=[0, 1])
    np.testing.assert_array_equal(result.get("attention.rollout", 0).attribution,
                                  result.get("attention.rollout", 1).attribution)
    assert not np.allclose(result.get("attention.transformer_attribution", 0).attribution,
                           result.get("attention.transformer_attribution", 1).attribution)


def test_the_recomputed_attention_is_torchs_and_the_scores_are_the_models():
    import torch

    from xaihub.models.torch_adapter import TorchAdapter
    from xaihub_attention import reading

    net = zoo.get("torch.vit").build().eval()
    image = zoo.image()[:32, :32]
    hooks = [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in net.modules()]
    adapter = TorchAdapter(net)
    with adapter.session():
        attention = reading.forward(adapter, image)
        with torch.no_grad():
            expected = net(adapter.differentiable_input(image[None]) / 255)
            tokens = net.embed(adapter.differentiable_input(image[None]) / 255).flatten(2).transpose(1, 2)
            tokens = torch.cat([net.class_token, tokens], 1) + net.position
            normed = net.blocks[0].norm1(tokens)
            _, weights = net.blocks[0].attention(normed, normed, normed, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(attention.scores.detach(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(attention.maps[0].detach(), weights, rtol=1e-5, atol=1e-6)
    assert attention.grid == (4, 4) and attention.extra == 1 and len(attention.maps) == 2
    assert [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in net.modules()] == hooks


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("model", ["torch.vit", "torch.patch_attention"])
def test_the_methods_keep_the_contract_on_the_zoos_transformers(method, model):
    report = check_explainer(get_method(method).explainer, zoo.get(model), raise_on_failure=False)
    assert not report.failures, str(report)
    assert report.unavailable() is None


@pytest.mark.parametrize("method", METHODS)
def test_models_without_attention_are_refused_upfront_with_the_reason(method):
    report = check_explainer(get_method(method).explainer, zoo.get("torch.cnn"), raise_on_failure=False)
    assert "no attention layer that can be read" in report.unavailable("torch.cnn")
    result = xaihub.explain(zoo.get("torch.cnn").build(), zoo.image(), methods=[method])
    assert not result.ok and "no attention layer" in result.failures[0].message


def hf_model(kind):
    transformers = pytest.importorskip("transformers")
    import torch

    torch.manual_seed(0)
    small = dict(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                 num_attention_heads=4, intermediate_size=64, num_labels=4)
    if kind == "vit":
        return transformers.ViTForImageClassification(transformers.ViTConfig(**small)).eval()
    if kind == "deit":
        return transformers.DeiTForImageClassificationWithTeacher(transformers.DeiTConfig(**small)).eval()
    config = transformers.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 2],
                                     window_size=4, num_labels=4)
    return transformers.SwinForImageClassification(config).eval()


@pytest.mark.parametrize(("kind", "extra"), [("vit", 1), ("deit", 2)])
def test_hugging_face_vit_and_deit_are_read_with_their_class_and_distillation_tokens(kind, extra):
    net = hf_model(kind)
    before = net.config._attn_implementation
    image = zoo.image()[:32, :32]
    result = xaihub.explain(net, image, methods=METHODS, targets=[0, 3])
    assert result.ok, result.failures
    for method in METHODS:
        explanation = result.get(method, 0)
        assert explanation.extras["extra_tokens"] == extra and explanation.extras["grid"] == [4, 4]
        assert explanation.extras["layers"] == 2 and np.ptp(explanation.attribution) > 0
    assert net.config._attn_implementation == before  # switched to eager for the call only


def test_swins_windowed_attention_is_refused_upfront():
    net = hf_model("swin")
    result = xaihub.explain(net, zoo.image()[:32, :32], methods=METHODS)
    assert [f.method for f in result.failures] == METHODS
    assert all("windowed" in f.message for f in result.failures)


def timm_attention_by_hand(net, x):
    """Each timm block's attention recomputed from the input its ``attn`` module gets, outside timm's code."""
    import torch

    inputs = []
    handles = [block.attn.register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
               for block in net.blocks]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for handle in handles:
            handle.remove()
    maps = []
    for block, tokens in zip(net.blocks, inputs):
        attn = block.attn
        batch, count, _ = tokens.shape
        with torch.no_grad():
            q, k, _ = attn.qkv(tokens).reshape(batch, count, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
            weights = torch.softmax(q @ k.transpose(-2, -1) * attn.head_dim ** -0.5, -1)
        maps.append(weights[0].numpy().astype(np.float64))
    return maps


def test_timm_rollout_equals_the_rollout_of_its_attention_computed_by_hand():
    from xaihub.core.maps import resize_map
    from xaihub.models.torch_adapter import TorchAdapter

    net = zoo.get("timm.vit").build().eval()
    image = zoo.image()[:32, :32]
    maps = timm_attention_by_hand(net, TorchAdapter(net).differentiable_input(image[None]) / 255)
    relevance = np.eye(maps[0].shape[-1])
    for heads in maps:
        layer = (heads.mean(0) + np.eye(len(relevance))) / 2
        relevance = (layer / layer.sum(-1, keepdims=True)) @ relevance
    expected = resize_map(relevance[0, 1:].reshape(4, 4), 32, 32)
    result = xaihub.explain(net, image, methods=["attention.rollout"])
    assert result.ok, result.failures
    explanation = result.get("attention.rollout")
    assert explanation.extras["layers"] == 2 and explanation.extras["extra_tokens"] == 1
    np.testing.assert_allclose(explanation.attribution, expected, rtol=1e-4, atol=1e-7)


def test_timm_is_read_on_its_unfused_path_and_its_fused_flags_are_restored_even_on_error():
    import torch

    from xaihub.models.torch_adapter import TorchAdapter
    from xaihub_attention import reading

    net = zoo.get("timm.vit").build().eval()
    attentions = [block.attn for block in net.blocks]
    assert all(a.fused_attn for a in attentions)  # torch 2.13 fuses: the state the test must see restored
    image = zoo.image()[:32, :32]
    adapter = TorchAdapter(net)
    with adapter.session():
        attention = reading.forward(adapter, image)
        with torch.no_grad():
            fused = net(adapter.differentiable_input(image[None]) / 255)
    torch.testing.assert_close(attention.scores.detach(), fused, rtol=1e-5, atol=1e-5)  # the same scores unfused
    assert [tuple(m.shape) for m in attention.maps] == [(1, 2, 17, 17)] * 2
    assert all(a.fused_attn for a in attentions)
    with pytest.raises(RuntimeError, match="stop"), reading.recording(net):
        assert not any(a.fused_attn for a in attentions)
        raise RuntimeError("stop")
    assert all(a.fused_attn for a in attentions)
    assert all(not a.attn_drop._forward_hooks for a in attentions)


@pytest.mark.parametrize("method", METHODS)
def test_the_methods_keep_the_contract_on_timms_vit_and_refuse_timms_swin_upfront(method):
    report = check_explainer(get_method(method).explainer, zoo.get("timm.vit"), raise_on_failure=False)
    assert not report.failures, str(report)
    assert report.unavailable() is None
    report = check_explainer(get_method(method).explainer, zoo.get("timm.swin"), raise_on_failure=False)
    assert "windowed (Swin)" in report.unavailable("timm.swin")


def test_timms_other_attention_modules_are_refused_with_the_reason():
    timm = pytest.importorskip("timm")

    net = zoo.get("timm.vit").build().eval()
    net.blocks[1].attn = timm.layers.DiffAttention(32, num_heads=2)
    result = xaihub.explain(net, zoo.image()[:32, :32], methods=METHODS)
    assert [f.method for f in result.failures] == METHODS
    assert all("DiffAttention is not one of the attention classes" in f.message for f in result.failures)


def test_hugging_face_and_timm_vits_with_the_same_weights_roll_out_the_same():
    """The same ViT in both libraries (weights copied across) gives the same rollout: each reader reads the
    attention of the model it gets."""
    import torch
    from scipy.stats import spearmanr
    transformers = pytest.importorskip("transformers")

    timm_net = zoo.get("timm.vit").build().eval()
    config = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=128, num_labels=timm_net.num_classes,
                                    layer_norm_eps=1e-6, qkv_bias=True)
    hf_net = transformers.ViTForImageClassification(config).eval()
    timm_weights = timm_net.state_dict()
    copied = {"vit.embeddings.cls_token": "cls_token", "vit.embeddings.position_embeddings": "pos_embed",
              "classifier": "head", "vit.layernorm": "norm", "vit.embeddings.patch_embeddings.projection":
              "patch_embed.proj"}
    for i in range(2):
        copied |= {f"vit.layers.{i}.{hf}": f"blocks.{i}.{timm_name}" for hf, timm_name in [
            ("attention.o_proj", "attn.proj"), ("layernorm_before", "norm1"), ("layernorm_after", "norm2"),
            ("mlp.fc1", "mlp.fc1"), ("mlp.fc2", "mlp.fc2")]}
    weights = {}
    for hf_name in hf_net.state_dict():
        prefix, _, kind = hf_name.rpartition(".")
        if hf_name in copied:
            weights[hf_name] = timm_weights[copied[hf_name]]
        elif prefix in copied:
            weights[hf_name] = timm_weights[f"{copied[prefix]}.{kind}"]
        else:  # q_proj, k_proj, v_proj: the thirds of timm's qkv
            layer, part = prefix.split(".")[2], "qkv".index(prefix[-6])
            weights[hf_name] = timm_weights[f"blocks.{layer}.attn.qkv.{kind}"].chunk(3)[part]
    hf_net.load_state_dict(weights)
    with torch.no_grad():
        x = torch.rand(1, 3, 32, 32)
        torch.testing.assert_close(hf_net(x).logits, timm_net(x), rtol=1e-4, atol=1e-5)  # the copy is the model
    image = zoo.image()[:32, :32]
    maps = [xaihub.explain(net, image, methods=METHODS, targets=[1]) for net in (hf_net, timm_net)]
    for method in METHODS:
        hf_map, timm_map = (m.get(method, 1).attribution.ravel() for m in maps)
        assert spearmanr(hf_map, timm_map).statistic >= 0.99, method


def test_the_map_reads_the_rows_of_the_tokens_the_head_reads():
    import torch

    from xaihub_attention import reading
    from xaihub_attention.methods import _patch_map

    # 2 leading tokens, 4 patches (a 2×2 grid); row i of R is i·10 + column, so each readout is known
    relevance = torch.arange(6.0)[None, :] + 10 * torch.arange(6.0)[:, None]
    expected = {"class": [2, 3, 4, 5], "class+distillation": [7, 8, 9, 10], "patches": [37, 38, 39, 40],
                "class+patches": [19.5, 20.5, 21.5, 22.5]}
    for readout, values in expected.items():
        attention = reading.Attention([], None, (2, 2), 2, readout)
        np.testing.assert_allclose(_patch_map(relevance, attention).ravel(), values, err_msg=readout)
    no_leading = reading.Attention([], None, (2, 3), 0, "class")
    np.testing.assert_allclose(_patch_map(relevance, no_leading).ravel(), np.arange(6) + 25)


@pytest.mark.parametrize(("builder", "extra", "readout"), [("beit", 1, "patches"),
                                                             ("dinov2_registers", 5, "class+patches")])
def test_beit_and_dinov2_with_registers_are_read_with_their_leading_tokens_and_readout(builder, extra, readout):
    pytest.importorskip("transformers")
    from xaihub.testing import zoo_transformers

    net = getattr(zoo_transformers, builder)().eval()
    result = xaihub.explain(net, zoo.image(), methods=METHODS, targets=[0, 3])  # 40×48: a 5×6 grid
    assert result.ok, result.failures
    for method in METHODS:
        explanation = result.get(method, 3)
        assert explanation.extras["extra_tokens"] == extra and explanation.extras["grid"] == [5, 6]
        assert explanation.extras["readout"] == readout and explanation.extras["tokens"] == 30 + extra
        assert explanation.attribution.shape == (40, 48) and np.ptp(explanation.attribution) > 0
    assert net.config._attn_implementation == "sdpa"


@pytest.mark.slow
@pytest.mark.parametrize("builder", ["beit", "dinov2_registers"])
@pytest.mark.parametrize("method", METHODS)
def test_the_methods_keep_the_contract_on_beit_and_dinov2_with_registers(builder, method):
    pytest.importorskip("transformers")
    from xaihub.testing import zoo_transformers

    net = getattr(zoo_transformers, builder)()
    report = check_explainer(get_method(method).explainer, net, raise_on_failure=False)
    assert not report.failures, str(report)
    assert report.unavailable() is None


def test_timms_distilled_deit_is_read_with_its_class_and_distillation_tokens():
    timm = pytest.importorskip("timm")
    import torch

    torch.manual_seed(0)
    net = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False, num_classes=zoo.CLASSES, img_size=32,
                            patch_size=8, depth=2, embed_dim=32, num_heads=2)
    result = xaihub.explain(net, zoo.image()[:32, :32], methods=METHODS, targets=[0, 1])
    assert result.ok, result.failures
    for method in METHODS:
        extras = result.get(method, 1).extras
        assert extras["extra_tokens"] == 2 and extras["readout"] == "class+distillation" and extras["layers"] == 2
    assert all(block.attn.fused_attn for block in net.blocks)


def test_timms_pooling_decides_the_readout_and_a_max_pool_is_refused():
    net = zoo.get("timm.vit").build().eval()
    image = zoo.image()[:32, :32]
    net.global_pool = "avg"
    result = xaihub.explain(net, image, methods=["attention.rollout"])
    assert result.get("attention.rollout").extras["readout"] == "patches"
    net.global_pool = "max"
    result = xaihub.explain(net, image, methods=METHODS)
    assert all("global_pool 'max'" in f.message for f in result.failures) and len(result.failures) == 2


@pytest.mark.parametrize(("name", "extra"), [("beit_base_patch16_224", 1), ("eva02_tiny_patch14_224", 1),
                                             ("vit_little_patch16_reg4_gap_256", 4)])
def test_timms_beit_eva_and_register_vit_are_read_on_their_unfused_path(name, extra):
    """timm's BEiT ``Attention``, EVA's ``EvaAttention`` (rotary embeddings) and a ViT with 4 registers and no
    class token (mean of the patches): the unfused path gives the fused model's scores, the maps are read."""
    timm = pytest.importorskip("timm")
    import torch

    from xaihub.models.torch_adapter import TorchAdapter
    from xaihub_attention import reading

    torch.manual_seed(0)
    net = timm.create_model(name, pretrained=False, num_classes=zoo.CLASSES, img_size=32, patch_size=8, depth=2,
                            embed_dim=32, num_heads=2).eval()
    image = zoo.image()[:32, :32]
    adapter = TorchAdapter(net)
    with adapter.session():
        attention = reading.forward(adapter, image)
        with torch.no_grad():
            fused = net(adapter.differentiable_input(image[None]) / 255)
    torch.testing.assert_close(attention.scores.detach(), fused, rtol=1e-5, atol=1e-5)
    assert attention.extra == extra and attention.readout == "patches" and len(attention.maps) == 2
    assert all(m.fused_attn for m in net.modules() if hasattr(m, "fused_attn"))
    result = xaihub.explain(net, image, methods=METHODS, targets=[0, 1])
    assert result.ok, result.failures
