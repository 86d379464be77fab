"""CAMs on vision transformers (xaihub.models.token_grid): the layer the adapter picks is the last block's first
norm, never the patch embedding; its tokens reach the CAM as the patch grid with exact gradients, for xaihub's
Grad-CAM and captum's LayerGradCam alike; layer= and reshape= override; the grid is refused upfront where it
cannot be inferred. And the CAM variants (HiResCAM, XGrad-CAM, Eigen-CAM, Ablation-CAM) against their
definitions. (Keras transformers: tests/test_keras_token_cams.py.)"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from xaihub import InputError  # noqa: E402
from xaihub.models import ModelOptions  # noqa: E402
from xaihub.models.token_grid import infer_layout  # noqa: E402
from xaihub.registry.plugins import adapt  # noqa: E402
from xaihub.testing import zoo  # noqa: E402

gradients_cam = pytest.importorskip("xaihub_gradients.cam")
from xaihub_gradients.torch_backend import layer_gradients  # noqa: E402


def toy_vit():
    architecture = zoo.get("torch.vit")
    net = architecture.build()
    return net, adapt(net, ModelOptions(preprocess=architecture.preprocess))


def explain(method, model, targets=(0, 3), **params):
    explainer = method()
    with model.session():
        return explainer.explain(model, zoo.image(), list(targets), seed=0, **{**explainer.defaults, **params})


def token_gradients(net, model, target):
    """The last block's norm1 tokens and their gradient, read directly from the module (patch tokens only)."""
    seen = []
    handle = net.blocks[-1].norm1.register_forward_hook(lambda module, args, output: seen.append(output))
    try:
        with model.session(), torch.enable_grad():
            scores = model.scores(model.differentiable_input(zoo.image()[None]))
            gradient = torch.autograd.grad(scores[0, target], seen[0])[0]
    finally:
        handle.remove()
    return seen[0][0, 1:].detach().numpy(), gradient[0, 1:].numpy()


def test_the_cam_layer_of_a_vit_is_its_last_blocks_first_norm_not_the_patch_embedding():
    _, model = toy_vit()
    with model.session():
        layer, name = model.layer(None, zoo.image())
    assert name == "blocks.1.norm1" and name != "embed"
    assert layer.layout.grid == (4, 4) and layer.layout.prefix == 1
    maps = explain(gradients_cam.GradCam, model)
    assert all(e.extras["layer"] == "blocks.1.norm1" and np.ptp(e.attribution) > 0 for e in maps)


def test_the_cnn_keeps_its_last_convolution():
    model = adapt(zoo.get("torch.cnn").build())
    with model.session():
        layer, name = model.layer(None, zoo.image())
    assert name == "features.6" and isinstance(layer, torch.nn.Conv2d)


def test_token_grid_gradients_are_the_tokens_gradients_on_the_patch_grid():
    net, model = toy_vit()
    activations, gradient = token_gradients(net, model, target=3)
    with model.session():
        feature = layer_gradients(model, zoo.image(), [3], None)
    np.testing.assert_allclose(feature.activations, activations.reshape(4, 4, -1), atol=1e-6)
    np.testing.assert_allclose(feature.gradients[0], gradient.reshape(4, 4, -1), atol=1e-7)


def test_captum_layergradcam_sees_the_same_token_grid():
    captum_cam = pytest.importorskip("xaihub_captum.cam")
    _, model = toy_vit()
    ours = explain(gradients_cam.GradCam, model)
    theirs = explain(captum_cam.LayerGradCam, model)
    for a, b in zip(ours, theirs):
        assert b.extras["layer"] == "blocks.1.norm1"
        np.testing.assert_allclose(a.attribution, b.attribution, atol=1e-6)
        assert np.ptp(a.attribution) > 0


def test_layer_as_a_module_and_reshape_override_the_inferred_grid():
    net, model = toy_vit()
    default = explain(gradients_cam.GradCam, model)

    def reshape(tokens):
        return tokens[:, 1:].reshape(len(tokens), 4, 4, -1).permute(0, 3, 1, 2)

    given = explain(gradients_cam.GradCam, model, layer=net.blocks[1].norm1, reshape=reshape)
    for a, b in zip(default, given):
        assert b.extras["layer"] == "blocks.1.norm1"
        np.testing.assert_allclose(a.attribution, b.attribution, atol=1e-7)
    transposed = explain(gradients_cam.GradCam, model, reshape=lambda t: reshape(t).transpose(2, 3))
    assert not np.allclose(default[0].attribution, transposed[0].attribution)


def test_a_grid_that_cannot_be_inferred_is_refused_upfront_with_the_reason():
    with pytest.raises(InputError, match="cannot infer the patch grid"):
        infer_layout(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), (1, 50, 8), (32, 48))
    _, model = toy_vit()
    with pytest.raises(InputError, match="must give N×C×h×w"):
        explain(gradients_cam.GradCam, model, reshape=lambda tokens: tokens)


def test_a_module_outside_the_model_is_refused():
    _, model = toy_vit()
    with pytest.raises(InputError, match="not a module of the model"):
        explain(gradients_cam.GradCam, model, layer=torch.nn.LayerNorm(4))


# -- the CAM variants against their definitions ---------------------------------------------------------------
# On torch.cnn, features.7 is the ReLU before global average pooling and the linear head: the gradient of a
# class score is the same at every position there, which fixes what each variant must give.

def cnn():
    return adapt(zoo.get("torch.cnn").build())


def test_hirescam_and_xgradcam_equal_gradcam_where_the_gradient_is_constant_over_positions():
    model = cnn()
    reference = explain(gradients_cam.GradCam, model, layer="features.7")
    for method in (gradients_cam.HiResCam, gradients_cam.XGradCam):
        for a, b in zip(reference, explain(method, model, layer="features.7")):
            np.testing.assert_allclose(a.attribution, b.attribution, rtol=1e-4, atol=1e-7)


def test_hirescam_is_the_gradient_times_the_tokens_where_the_gradient_varies():
    net, model = toy_vit()
    activations, gradient = token_gradients(net, model, target=3)
    expected = np.maximum((activations * gradient).sum(axis=1), 0).reshape(4, 4)
    with model.session():
        feature = layer_gradients(model, zoo.image(), [3], None)
    cam = gradients_cam.HiResCam().cam(feature.activations, feature.gradients[0])
    np.testing.assert_allclose(cam, expected, rtol=1e-4, atol=1e-8)
    assert np.ptp(cam) > 0 and not np.allclose(cam, gradients_cam.GradCam().cam(feature.activations, feature.gradients[0]))


def test_ablationcam_weights_are_the_relative_score_drops_of_zeroed_channels():
    from xaihub_gradients.torch_backend import layer_ablations

    net, model = toy_vit()
    image = zoo.image()
    with model.session():
        feature, weights = layer_ablations(model, image, [2], None)
        full = model.predict(image[None])  # probabilities: compare raw scores below
        assert full.shape[1] == zoo.CLASSES
        for channel in (0, 5):
            def zero(module, args, output, channel=channel):
                output = output.clone()
                output[:, 1:, channel] = 0
                return output

            handle = net.blocks[1].norm1.register_forward_hook(zero)
            try:
                with torch.no_grad():
                    ablated = float(model.scores(model.differentiable_input(image[None]))[0, 2])
            finally:
                handle.remove()
            with torch.no_grad():
                score = float(model.scores(model.differentiable_input(image[None]))[0, 2])
            np.testing.assert_allclose(weights[0, channel], (score - ablated) / score, rtol=1e-4, atol=1e-6)
    maps = explain(gradients_cam.AblationCam, model, targets=range(zoo.CLASSES))
    assert all(m.extras["layer"] == "blocks.1.norm1" for m in maps)
    assert any(np.ptp(m.attribution) > 0 for m in maps)


def test_eigencam_is_the_first_principal_component_with_the_sign_of_the_activations():
    rows = np.linspace(0, 1, 6)[:, None] * np.ones((6, 5))
    channels = np.array([1.0, 2.0, 0.5])
    activations = rows[..., None] * channels + 0.01 * np.random.default_rng(0).normal(size=(6, 5, 3))
    cam = gradients_cam.EigenCam().cam(activations, np.zeros((0,)))
    centred = rows - rows.mean()
    assert np.corrcoef(cam.ravel(), np.maximum(centred, 0).ravel())[0, 1] > 0.99
    flipped = gradients_cam.EigenCam().cam(-activations + activations.max(), np.zeros((0,)))
    assert flipped[0].mean() > flipped[-1].mean()  # the sign follows the activations, not the SVD


def test_eigencam_gives_every_target_the_same_map():
    _, model = toy_vit()
    a, b = explain(gradients_cam.EigenCam, model)
    np.testing.assert_array_equal(a.attribution, b.attribution)
    assert np.ptp(a.attribution) > 0


def test_a_keras_transformers_default_cam_layer_is_its_first_norm_not_the_patch_embedding():
    keras = pytest.importorskip("keras")

    inputs = keras.Input((32, 32, 3))
    tokens = keras.layers.Reshape((16, 8))(keras.layers.Conv2D(8, 8, strides=8, name="patch_embed")(inputs))
    normed = keras.layers.LayerNormalization(name="norm1")(tokens)
    tokens = keras.layers.Add()([tokens, keras.layers.MultiHeadAttention(2, 4)(normed, normed)])
    outputs = keras.layers.Dense(zoo.CLASSES)(keras.layers.GlobalAveragePooling1D()(tokens))
    model = adapt(keras.Model(inputs, outputs))
    layer, name = model.layer(None, zoo.image(32, 32))
    assert name == "norm1" and layer.layout.grid == (4, 4) and layer.layout.prefix == 0
    assert model.layer("patch_embed", zoo.image(32, 32))[1] == "patch_embed"  # asked for by name: given
