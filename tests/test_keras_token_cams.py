"""CAMs on Keras vision transformers (xaihub.models.keras_tokens): the layer the adapter picks is the last block's
first LayerNormalization, never the patch embedding; its tokens reach the CAM as the patch grid with exact
gradients; a planted model's CAM peaks on the one patch its logit reads; the torch and Keras versions of one
ViT give the same Grad-CAM; layer= and reshape= override; a grid that cannot be inferred is refused upfront."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from xaihub import InputError  # noqa: E402
from xaihub.core.agreement import spearman  # noqa: E402
from xaihub.core.preprocess import Preprocess  # noqa: E402
from xaihub.models import ModelOptions  # noqa: E402
from xaihub.registry.plugins import adapt  # noqa: E402
from xaihub.testing import zoo  # noqa: E402

gradients_cam = pytest.importorskip("xaihub_gradients.cam")
from xaihub_gradients.keras_backend import layer_gradients  # noqa: E402

CAMS = [gradients_cam.GradCam, gradients_cam.GradCamPlusPlus, gradients_cam.HiResCam, gradients_cam.XGradCam,
        gradients_cam.EigenCam, gradients_cam.AblationCam]


def keras_vit():
    architecture = zoo.get("keras.vit")
    net = architecture.build()
    return net, adapt(net, ModelOptions(preprocess=architecture.preprocess))


def explain(method, model, targets=range(zoo.CLASSES), image=None, **params):
    explainer = method()
    with model.session():
        return explainer.explain(model, zoo.image() if image is None else image, list(targets), seed=0,
                                 **{**explainer.defaults, **params})


def test_the_cam_layer_is_the_last_blocks_first_norm_and_every_cam_maps_the_patch_grid():
    _, model = keras_vit()
    with model.session():
        layer, name = model.layer(None, zoo.image())
    assert name == "block1_norm1"
    assert layer.layout.describe() == "tokens → 4×4 grid, 0 leading token(s) dropped"
    embedding = explain(gradients_cam.GradCam, model, layer="patch_embed")
    for method in CAMS:
        maps = explain(method, model)
        assert all(m.extras["layer"] == "block1_norm1" and m.extras["feature_map"] == [4, 4, 16] for m in maps)
        assert any(np.ptp(m.attribution) > 0 for m in maps), method.name
        assert not any(np.allclose(m.attribution, e.attribution) for m, e in zip(maps, embedding)), method.name


def test_the_grid_and_its_gradients_are_the_tokens_and_theirs_on_the_patch_grid():
    net, model = keras_vit()
    with model.session():
        feature = layer_gradients(model, zoo.image(), [3], None)
        probe = keras.Model(net.inputs, [net.get_layer("block1_norm1").output, net.outputs[0]])
        with tf.GradientTape() as tape:
            tokens, scores = probe(model.model_input(zoo.image()[None]), training=False)
            score = scores[0, 3]
        gradient = tape.gradient(score, tokens).numpy()[0]
    np.testing.assert_allclose(feature.activations, tokens.numpy()[0].reshape(4, 4, 16), atol=1e-6)
    np.testing.assert_allclose(feature.gradients[0], gradient.reshape(4, 4, 16), atol=1e-7)


def planted(patch: int):
    """A ViT-like model on 32×32 inputs (8×8 patches, one pre-norm block) whose class-0 logit is
    ``w · norm1(tokens)[patch]``: the attention's output kernel is zero, and the head reads one token."""
    inputs = keras.Input((32, 32, 3))
    embed = keras.layers.Conv2D(8, 8, strides=8, name="patch_embed", kernel_initializer=keras.initializers.GlorotUniform(seed=0))
    tokens = keras.layers.Reshape((16, 8))(embed(inputs))
    normed = keras.layers.LayerNormalization(name="norm1")(tokens)
    attention = keras.layers.MultiHeadAttention(2, 4, output_shape=8, name="attention",
                                                kernel_initializer=keras.initializers.GlorotUniform(seed=1))
    mixed = keras.layers.Add()([normed, attention(normed, normed)])
    head = keras.layers.Dense(zoo.CLASSES, name="head")
    net = keras.Model(inputs, head(keras.layers.Flatten()(mixed)))
    attention.output_dense.kernel.assign(np.zeros(attention.output_dense.kernel.shape))
    return net, normed, head


def test_a_planted_model_s_cam_peaks_on_the_one_patch_its_logit_reads():
    patch, (row, column) = 6, (1, 2)
    net, _, head = planted(patch)
    image = np.full((32, 32, 3), 0.5, np.float32)
    image[8 * row:8 * row + 8, 8 * column:8 * column + 8] = np.random.default_rng(0).uniform(size=(8, 8, 3))
    norm = keras.Model(net.input, net.get_layer("norm1").output)
    values = norm(image[None]).numpy()[0]
    w = values[patch] - values[0]  # the planted patch's direction: w·A is largest there
    kernel = np.zeros(head.kernel.shape, np.float32)
    kernel[8 * patch:8 * patch + 8, 0] = w
    head.kernel.assign(kernel)
    model = adapt(net)
    # Grad-CAM: map(p) ∝ w·A_p, largest where A_p = A_patch (every other patch is the same flat grey);
    # HiResCAM: w·A_patch > 0 there, zero elsewhere. (XGrad-CAM divides by Σ_p A_p, which a norm's output
    # leaves near zero: no such guarantee.)
    for method in (gradients_cam.GradCam, gradients_cam.HiResCam):
        attribution = explain(method, model, [0], image=image)[0].attribution
        peak = np.unravel_index(np.argmax(attribution), attribution.shape)
        assert (peak[0] // 8, peak[1] // 8) == (row, column), method.name


def torch_twin(net):
    """The torch version of ``zoo_keras.vit`` with ``net``'s weights."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(16, eps=1e-3), nn.LayerNorm(16, eps=1e-3)
            self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
            self.fc1, self.fc2 = nn.Linear(16, 32), nn.Linear(32, 16)

        def forward(self, x):
            n = self.norm1(x)
            x = x + self.attn(n, n, n, need_weights=False)[0]
            return x + self.fc2(nn.functional.gelu(self.fc1(self.norm2(x))))

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Conv2d(3, 16, 8, stride=8)
            self.blocks = nn.ModuleList([Block(), Block()])
            self.norm, self.head = nn.LayerNorm(16, eps=1e-3), nn.Linear(16, zoo.CLASSES)

        def forward(self, x):
            x = self.embed(x).flatten(2).transpose(1, 2)
            for block in self.blocks:
                x = block(x)
            return self.head(self.norm(x).mean(1))

    twin = ViT().eval()

    def put(parameter, value):
        parameter.data = torch.tensor(np.asarray(value, np.float32))

    def linear(module, layer):
        put(module.weight, layer.kernel.numpy().T)
        put(module.bias, layer.bias.numpy())

    def norm(module, layer):
        put(module.weight, layer.gamma.numpy())
        put(module.bias, layer.beta.numpy())

    put(twin.embed.weight, net.get_layer("patch_embed").kernel.numpy().transpose(3, 2, 0, 1))
    put(twin.embed.bias, net.get_layer("patch_embed").bias.numpy())
    dense = [layer for layer in net.layers if type(layer).__name__ == "Dense"]
    for k, block in enumerate(twin.blocks):
        norm(block.norm1, net.get_layer(f"block{k}_norm1"))
        norm(block.norm2, net.get_layer(f"block{k}_norm2"))
        attention = net.get_layer(f"block{k}_attention")
        parts = [attention.query_dense, attention.key_dense, attention.value_dense]
        put(block.attn.in_proj_weight, np.concatenate([p.kernel.numpy().reshape(16, 16).T for p in parts]))
        put(block.attn.in_proj_bias, np.concatenate([p.bias.numpy().reshape(16) for p in parts]))
        put(block.attn.out_proj.weight, attention.output_dense.kernel.numpy().reshape(16, 16).T)
        put(block.attn.out_proj.bias, attention.output_dense.bias.numpy())
        linear(block.fc1, dense[2 * k])
        linear(block.fc2, dense[2 * k + 1])
    norm(twin.norm, net.get_layer("norm"))
    linear(twin.head, dense[-1])
    return twin


def test_the_torch_and_keras_versions_of_one_vit_give_the_same_gradcam():
    torch = pytest.importorskip("torch")
    net, keras_model = keras_vit()
    twin = torch_twin(net)
    torch_model = adapt(twin, ModelOptions(preprocess=Preprocess(size=32)))
    image = zoo.image()
    x = keras_model.model_input(image[None]).numpy()
    with torch.no_grad():
        np.testing.assert_allclose(twin(torch.tensor(x.transpose(0, 3, 1, 2))).numpy(), net(x).numpy(), atol=1e-4)
    ours = explain(gradients_cam.GradCam, keras_model, relu=False)
    theirs = explain(gradients_cam.GradCam, torch_model, relu=False)
    for a, b in zip(ours, theirs):
        assert b.extras["layer"] == "blocks.1.norm1"
        assert spearman(a.attribution.ravel(), b.attribution.ravel()) >= 0.99


def test_layer_as_an_object_or_name_and_reshape_override_the_inferred_grid():
    net, model = keras_vit()
    default = explain(gradients_cam.GradCam, model, relu=False)

    def reshape(tokens):
        return keras.ops.reshape(tokens, (-1, 4, 4, 16))

    given = explain(gradients_cam.GradCam, model, layer=net.get_layer("block1_norm1"), reshape=reshape, relu=False)
    for a, b in zip(default, given):
        assert b.extras["layer"] == "block1_norm1"
        np.testing.assert_allclose(a.attribution, b.attribution, atol=1e-6)
    transposed = explain(gradients_cam.GradCam, model, relu=False,
                         reshape=lambda t: keras.ops.transpose(reshape(t), (0, 2, 1, 3)))
    assert not np.allclose(default[1].attribution, transposed[1].attribution)
    earlier = explain(gradients_cam.GradCam, model, layer="block0_norm1")
    assert earlier[0].extras["layer"] == "block0_norm1"
    with pytest.raises(InputError, match="must give N×h×w×C"):
        explain(gradients_cam.GradCam, model, reshape=lambda tokens: tokens)
    with pytest.raises(InputError, match="not a layer of the model"):
        explain(gradients_cam.GradCam, model, layer=keras.layers.LayerNormalization())


def test_a_grid_that_cannot_be_inferred_is_refused_upfront_naming_the_overrides():
    inputs = keras.Input((30, 30, 3))
    tokens = keras.layers.Dense(8)(keras.layers.Reshape((100, 27))(inputs))  # rows cut in tens: no patch grid
    normed = keras.layers.LayerNormalization(name="norm1")(tokens)
    tokens = keras.layers.Add()([tokens, keras.layers.MultiHeadAttention(2, 4)(normed, normed)])
    outputs = keras.layers.Dense(zoo.CLASSES)(keras.layers.GlobalAveragePooling1D()(tokens))
    model = adapt(keras.Model(inputs, outputs))
    image = zoo.image(30, 30)
    with model.session(), pytest.raises(InputError, match=r"cannot infer the patch grid.*reshape=.*layer="):
        model.layer(None, image)
    maps = explain(gradients_cam.GradCam, model, image=image, relu=False,
                   reshape=lambda t: keras.ops.reshape(t, (-1, 10, 10, 8)))
    assert maps[0].extras["layer"] == "norm1" and maps[0].extras["feature_map"] == [10, 10, 8]


@pytest.mark.parametrize("method", ["xplique.gradcam", "xplique.gradcampp", "omnixai.gradcam"])
def test_xplique_and_omnixai_cams_read_the_same_token_grid(method):
    import xaihub
    from xaihub.registry.plugins import get_method

    ours = "gradients.gradcampp" if method.endswith("pp") else "gradients.gradcam"
    try:
        get_method(method)
    except Exception:
        pytest.skip(f"{method} is not installed")
    architecture = zoo.get("keras.vit")
    result = xaihub.explain(architecture.build(), zoo.image(), methods=[ours, method], targets=[1, 3],
                            preprocess=architecture.preprocess)
    assert result.failures == []
    for target in (1, 3):
        theirs = result.get(method, target)
        assert theirs.extras["layer"] == "block1_norm1"
        assert spearman(theirs.attribution.ravel(), result.get(ours, target).attribution.ravel()) >= 0.95
    # OmniXAI's TF Grad-CAM differentiates the sum of all classes asked for in one call: one call per target
    assert not np.allclose(result.get(method, 1).attribution, result.get(method, 3).attribution)


class ClassToken(keras.layers.Layer):
    """Prepends a learned class token to ``N×T×C`` tokens."""

    def build(self, shape):
        self.token = self.add_weight(shape=(1, 1, shape[-1]), initializer=keras.initializers.RandomNormal(seed=3))

    def call(self, tokens):
        return keras.ops.concatenate([keras.ops.tile(self.token, (keras.ops.shape(tokens)[0], 1, 1)), tokens], 1)


def test_a_class_token_is_dropped_and_a_non_square_input_gives_a_non_square_grid():
    inputs = keras.Input((32, 48, 3))
    patches = keras.layers.Conv2D(8, 8, strides=8, kernel_initializer=keras.initializers.GlorotUniform(seed=1))(inputs)
    tokens = ClassToken()(keras.layers.Reshape((24, 8))(patches))
    normed = keras.layers.LayerNormalization(name="norm1")(tokens)
    attention = keras.layers.MultiHeadAttention(2, 4, kernel_initializer=keras.initializers.GlorotUniform(seed=2))
    tokens = keras.layers.Add()([tokens, attention(normed, normed)])
    head = keras.layers.Dense(zoo.CLASSES, kernel_initializer=keras.initializers.GlorotUniform(seed=4))
    model = adapt(keras.Model(inputs, head(keras.layers.LayerNormalization()(tokens)[:, 0])))  # the class token
    image = zoo.image(32, 48)
    with model.session():
        layer, name = model.layer(None, image)
    assert name == "norm1" and layer.layout.grid == (4, 6) and layer.layout.prefix == 1
    maps = explain(gradients_cam.GradCam, model, image=image, relu=False)
    assert all(m.extras["feature_map"] == [4, 6, 8] and np.ptp(m.attribution) > 0 for m in maps)


class Block(keras.layers.Layer):
    """A pre-norm attention block as one custom layer (its norm is not a layer of the model's graph)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.norm = keras.layers.LayerNormalization()
        self.attention = keras.layers.MultiHeadAttention(2, 4, kernel_initializer=keras.initializers.GlorotUniform(seed=5))

    def call(self, tokens):
        normed = self.norm(tokens)
        return tokens + self.attention(normed, normed)


def test_a_sequential_model_of_block_layers_gives_the_tokens_entering_its_last_block():
    net = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(8, 8, strides=8, kernel_initializer=keras.initializers.GlorotUniform(seed=1)),
        keras.layers.Reshape((16, 8)), Block(name="block0"), Block(name="block1"), keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(zoo.CLASSES, kernel_initializer=keras.initializers.GlorotUniform(seed=2))])
    model = adapt(net)
    maps = explain(gradients_cam.GradCam, model, image=zoo.image(32, 32), relu=False)
    assert all(m.extras["layer"] == "block0" and m.extras["feature_map"] == [4, 4, 8] for m in maps)
    assert all(np.ptp(m.attribution) > 0 for m in maps)


def test_keras_ablationcam_weights_are_the_relative_score_drops_of_zeroed_channels():
    """On keras.sequential the feature map is followed by global average pooling and a linear head, so
    zeroing channel k lowers logit t by W[k, t]·mean(A_k): the weight is that over the logit."""
    from xaihub_gradients.keras_backend import layer_ablations

    net = zoo.get("keras.sequential").build()
    model = adapt(net)
    image = zoo.image()
    with model.session():
        feature, weights = layer_ablations(model, image, [1, 3], None)
        logits = np.asarray(model.scores(model.differentiable_input(image[None])))[0]
    kernel = net.layers[-1].kernel.numpy()
    means = feature.activations.mean(axis=(0, 1))
    for row, target in enumerate((1, 3)):
        np.testing.assert_allclose(weights[row], kernel[:, target] * means / logits[target], rtol=1e-3, atol=1e-6)


def test_keras_and_torch_ablationcam_agree_on_one_vit():
    torch = pytest.importorskip("torch")  # noqa: F841
    net, keras_model = keras_vit()
    torch_model = adapt(torch_twin(net), ModelOptions(preprocess=Preprocess(size=32)))
    ours = explain(gradients_cam.AblationCam, keras_model, relu=False)
    theirs = explain(gradients_cam.AblationCam, torch_model, relu=False)
    for a, b in zip(ours, theirs):
        assert a.extras["layer"] == "block1_norm1" and b.extras["layer"] == "blocks.1.norm1"
        assert spearman(a.attribution.ravel(), b.attribution.ravel()) >= 0.99
