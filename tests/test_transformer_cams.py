"""Token-aware CAMs on the transformers users bring (xaihub.testing.zoo's Hugging Face and timm models): the
CAM layer is the last block's (never the patch embedding), the grid drops the class/distillation tokens and
follows non-square inputs and channels-last stages, the maps are not constant, and xaihub's Grad-CAM, HiResCAM,
XGrad-CAM and Eigen-CAM agree with pytorch-grad-cam's given the usual ``reshape_transform`` on the same timm
and Hugging Face ViT."""

import numpy as np
import pytest

import xaihub
from xaihub.core.agreement import spearman
from xaihub.models import ModelOptions
from xaihub.registry.plugins import adapt, get_method
from xaihub.testing import zoo

pytest.importorskip("torch")
pytest.importorskip("transformers")

CAMS = ["gradients.gradcam", "gradients.gradcampp", "gradients.hirescam", "gradients.xgradcam",
        "gradients.eigencam", "captum.gradcam", "omnixai.gradcam"]
EXPECTED = {  # the layer, and what the adapter makes of its output on the 40×48 zoo image
    "hf.vit": ("vit.layers.1.layernorm_before", "tokens → 4×4 grid, 1 leading token(s) dropped"),
    "hf.deit": ("deit.layers.1.layernorm_before", "tokens → 4×4 grid, 2 leading token(s) dropped"),
    "hf.swin": ("swin.encoder.layers.1.blocks.0.layernorm_before", "tokens → 5×6 grid, 0 leading token(s) dropped"),
    "hf.convnext": ("convnext.encoder.stages.1.layers.0.dwconv", None),
    "timm.vit": ("blocks.1.norm1", "tokens → 4×4 grid, 1 leading token(s) dropped"),
    "timm.swin": ("layers.1.blocks.0.norm1", "channels-last map"),
}
AGREE = 0.9


def adapted(name):
    architecture = zoo.get(name)
    if not architecture.available():
        pytest.skip(f"{name} needs {architecture.needs}")
    return adapt(architecture.build(), ModelOptions(preprocess=architecture.preprocess))


def cam(model, method, targets, image=None, **params):
    explainer = get_method(method).explainer
    with model.session():
        return explainer.explain(model, zoo.image() if image is None else image, list(targets), seed=0,
                                 **{**explainer.defaults, **params})


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_cam_layer_is_the_last_blocks_and_the_map_is_not_constant(name):
    model = adapted(name)
    layer_name, layout = EXPECTED[name]
    with model.session():
        layer, chosen = model.layer(None, zoo.image())
    assert chosen == layer_name
    assert "embed" not in chosen and "stem" not in chosen
    assert (getattr(layer, "layout", None) and layer.layout.describe()) == layout
    for method in ("gradients.gradcam", "captum.gradcam"):
        maps = cam(model, method, range(zoo.CLASSES))
        assert all(m.extras["layer"] == layer_name for m in maps)
        assert any(np.ptp(m.attribution) > 0 for m in maps), method


def test_a_non_square_input_to_a_vit_gets_a_non_square_grid():
    torch = pytest.importorskip("torch")
    from xaihub.testing import zoo_transformers

    class AnySize(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = zoo_transformers.vit()

        def forward(self, x):
            return self.net(x, interpolate_pos_encoding=True).logits

    model = adapt(AnySize())  # the zoo image as it is, 40×48: a 5×6 grid of 8-pixel patches
    maps = cam(model, "gradients.gradcam", range(zoo.CLASSES))
    assert maps[0].extras["layer"] == "net.vit.layers.1.layernorm_before"
    assert maps[0].extras["feature_map"][:2] == [5, 6]
    assert any(np.ptp(m.attribution) > 0 for m in maps)


def test_the_layer_and_reshape_overrides_on_a_hugging_face_vit():
    model = adapted("hf.deit")
    block = model.model.deit.layers[0]

    def reshape(tokens):  # keep the class token's row out by hand: the first 2 tokens are class and distillation
        return tokens[:, 2:].reshape(len(tokens), 4, 4, -1).permute(0, 3, 1, 2)

    given = cam(model, "gradients.gradcam", [0, 1], layer=block.layernorm_before, reshape=reshape)
    inferred = cam(model, "gradients.gradcam", [0, 1], layer="deit.layers.0.layernorm_before")
    for a, b in zip(given, inferred):
        assert a.extras["layer"] == "deit.layers.0.layernorm_before"
        np.testing.assert_allclose(a.attribution, b.attribution, atol=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_cam_method_explains_the_transformer_end_to_end(name):
    architecture = zoo.get(name)
    if not architecture.available():
        pytest.skip(f"{name} needs {architecture.needs}")
    result = xaihub.explain(architecture.build(), zoo.image(), methods=CAMS + ["gradients.ablationcam"],
                            preprocess=architecture.preprocess, targets=[0, 1])
    assert result.failures == []
    layer = EXPECTED[name][0]
    for method in CAMS + ["gradients.ablationcam"]:
        assert result.get(method, 0).extras["layer"] == layer, method


# -- against pytorch-grad-cam ----------------------------------------------------------------------------------

def pytorch_grad_cam_maps(method, net, layer, reshape, x, targets):
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    net.eval()
    with getattr(pytorch_grad_cam, method)(model=net, target_layers=[layer], reshape_transform=reshape) as cam:
        return [cam(input_tensor=x, targets=[ClassifierOutputTarget(t)])[0] for t in targets]


PAIRS = [("gradients.gradcam", "GradCAM"), ("gradients.hirescam", "HiResCAM"), ("gradients.xgradcam", "XGradCAM"),
         ("gradients.eigencam", "EigenCAM")]
"""Not Grad-CAM++: pytorch-grad-cam adds 1e-6 to the denominator of α = g² / (2g² + ΣA·g³), which on these random
models' gradients (~1e-4, g² ~1e-8) outweighs the formula (ρ ≈ 0.85, maps zeroed where ours are not)."""


@pytest.mark.parametrize("name", ["timm.vit", "hf.vit"])
@pytest.mark.parametrize("method, theirs", PAIRS, ids=[p[0] for p in PAIRS])
def test_cams_agree_with_pytorch_grad_cams_reshape_transform(name, method, theirs):
    torch = pytest.importorskip("torch")
    model = adapted(name)
    pytest.importorskip("pytorch_grad_cam")
    net = model.model
    image = zoo.image(32, 32)  # the model's own size: no resize on either side
    if name == "timm.vit":
        layer, prefix, forward = net.blocks[-1].norm1, net.num_prefix_tokens, net
    else:
        layer, prefix = net.vit.layers[-1].layernorm_before, 1

        class Logits(torch.nn.Module):  # pytorch-grad-cam reads a tensor of logits
            def __init__(self):
                super().__init__()
                self.net = net

            def forward(self, x):
                return self.net(x).logits

        forward = Logits()

    def reshape(tokens):
        grid = tokens[:, prefix:]
        side = int(grid.shape[1] ** 0.5)
        return grid.reshape(len(tokens), side, side, -1).permute(0, 3, 1, 2)

    targets = list(range(zoo.CLASSES))
    ours = cam(model, method, targets, image=image)
    other = pytorch_grad_cam_maps(theirs, forward, layer, reshape, model.model_input(image[None]), targets)
    compared = 0
    for mine, their in zip(ours, other):
        if np.ptp(mine.attribution) == 0 or np.ptp(their) == 0:  # ReLU left nothing: both must agree on that
            assert np.ptp(mine.attribution) == np.ptp(their) == 0
            continue
        rho = spearman(mine.attribution, their)
        print(f"{method} vs {theirs} on {name}, target {mine.target}: Spearman {rho:.3f}")
        assert rho >= AGREE
        compared += 1
    assert compared >= 3


@pytest.mark.slow
def test_shap_runs_after_transformers_was_imported_first():
    """shap (and OmniXAI's SHAP) probe ``transformers.PreTrainedModel`` once transformers is imported, which imports
    torchvision; xaihub's import hook defines torchvision's missing operator schemas first, so it still runs."""
    import subprocess
    import sys

    code = ("import numpy as np, transformers, xaihub\n"
            "predict = lambda b: np.exp(b.mean(axis=(1, 2))) / np.exp(b.mean(axis=(1, 2))).sum(1, keepdims=True)\n"
            "image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)\n"
            "r = xaihub.explain(predict, image, methods=['shap.partition'], targets=0,\n"
            "                   params={'shap.partition': {'max_evals': 50}})\n"
            "print('failures:', r.failures)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert "failures: []" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]


# -- BEiT and DINOv2 with registers (zoo_transformers' builders, not zoo architectures) ---------------------------

LEADING = {"beit": ("beit.layers.1.layernorm_before", 1),
           "dinov2_registers": ("dinov2_with_registers.encoder.layer.1.norm1", 5)}
"""The CAM layer each is given, and its leading tokens: BEiT's class token; DINOv2's class token and 4 registers."""


def built(builder):
    from xaihub.testing import zoo_transformers

    return adapt(getattr(zoo_transformers, builder)(), ModelOptions())


@pytest.mark.parametrize("builder", list(LEADING))
def test_beit_and_dinov2_token_grids_drop_the_class_and_register_tokens(builder):
    model = built(builder)
    layer_name, leading = LEADING[builder]
    for image, grid in ((zoo.image(), "5×6"), (zoo.image(32, 32), "4×4")):
        with model.session():
            layer, chosen = model.layer(None, image)
        assert chosen == layer_name
        assert layer.layout.describe() == f"tokens → {grid} grid, {leading} leading token(s) dropped"
    maps = cam(model, "gradients.gradcam", range(zoo.CLASSES))
    assert all(m.attribution.shape == (40, 48) for m in maps) and any(np.ptp(m.attribution) > 0 for m in maps)


@pytest.mark.parametrize("builder", list(LEADING))
@pytest.mark.parametrize("method, theirs", PAIRS, ids=[p[0] for p in PAIRS])
def test_cams_on_beit_and_dinov2_agree_with_pytorch_grad_cam(builder, method, theirs):
    torch = pytest.importorskip("torch")
    pytest.importorskip("pytorch_grad_cam")
    model = built(builder)
    net = model.model
    layer_name, leading = LEADING[builder]
    layer = net.get_submodule(layer_name)
    image = zoo.image(32, 32)

    class Logits(torch.nn.Module):  # pytorch-grad-cam reads a tensor of logits
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x).logits

    def reshape(tokens):  # the usual reshape_transform, dropping the class and register tokens
        grid = tokens[:, leading:]
        side = int(grid.shape[1] ** 0.5)
        return grid.reshape(len(tokens), side, side, -1).permute(0, 3, 1, 2)

    targets = list(range(zoo.CLASSES))
    ours = cam(model, method, targets, image=image)
    other = pytorch_grad_cam_maps(theirs, Logits(), layer, reshape, model.model_input(image[None]), targets)
    compared = 0
    for mine, their in zip(ours, other):
        if np.ptp(mine.attribution) == 0 or np.ptp(their) == 0:
            assert np.ptp(mine.attribution) == np.ptp(their) == 0
            continue
        rho = spearman(mine.attribution, their)
        print(f"{method} vs {theirs} on {builder}, target {mine.target}: Spearman {rho:.3f}")
        assert rho >= 0.99
        compared += 1
    assert compared >= 3
