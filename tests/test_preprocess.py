"""`xaihub.Preprocess`: one computation in numpy, torch and Keras, applied by the adapters inside the framework."""

import numpy as np
import pytest

import xaihub
from xaihub import InputError, Preprocess
from xaihub.core.preprocess import IMAGENET_MEAN, IMAGENET_STD, resize_matrix
from xaihub.models import ModelOptions
from xaihub.registry.plugins import adapt

RNG = np.random.default_rng(0)


def pixels(*shape):
    return (RNG.random(shape) * 255).astype(np.float32)


@pytest.mark.parametrize("size, shape", [(224, (2, 300, 400, 3)), (224, (1, 100, 150, 3)),
                                         ((64, 300), (1, 128, 200, 3)), (None, (1, 20, 30, 3))])
def test_numpy_torch_and_keras_compute_the_same(size, shape):
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    preprocess = Preprocess(size=size, scale=1 / 127.5, offset=-1)
    x = pixels(*shape)
    on_host = preprocess.numpy(x)
    in_torch = preprocess.torch(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    in_keras = np.asarray(preprocess.keras(keras.ops.convert_to_tensor(x)))
    expected = (shape[0], *(preprocess.size or shape[1:3]), 3)
    assert on_host.shape == in_torch.shape == in_keras.shape == expected
    np.testing.assert_allclose(on_host, in_torch, atol=1e-4)
    np.testing.assert_allclose(in_torch, in_keras, atol=1e-4)
    assert on_host.min() >= -1 - 1e-5 and on_host.max() <= 1 + 1e-5


def test_mean_std_is_torchvision_normalisation():
    x = pixels(1, 8, 8, 3)
    out = Preprocess.imagenet(size=None).numpy(x)
    expected = (x / 255 - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_allclose(Preprocess().numpy(x), x / 255, atol=1e-7)


def test_resize_weights_are_a_normalised_triangle_filter():
    shrink = resize_matrix(600, 224)
    np.testing.assert_allclose(shrink.sum(axis=1), 1.0, atol=1e-6)
    assert (shrink >= 0).all() and shrink.shape == (224, 600)
    np.testing.assert_allclose(resize_matrix(5, 5), np.eye(5), atol=1e-7)  # no resize, no blur


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 0}, "size must be a positive int"),
    ({"size": (224,)}, "size must be a positive int"),
    ({"size": True}, "size must be a positive int"),
    ({"scale": 0}, "scale must not be 0"),
    ({"scale": (1, 2)}, "scale must be a finite number or 3"),
    ({"offset": float("nan")}, "offset must be a finite number"),
    ({"mean": 0.5}, "mean and std together"),
    ({"mean": 0.5, "std": 0.0}, "std must be positive"),
    ({"mean": 0.5, "std": 0.5, "scale": 1.0}, "scale/offset or mean/std, not both"),
])
def test_bad_preprocess_is_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        Preprocess(**kwargs)


def test_preprocess_must_be_declared_or_callable():
    with pytest.raises(InputError, match="an xaihub.Preprocess or a callable"):
        ModelOptions(preprocess="x / 255")


def test_declared_preprocessing_gives_the_probabilities_of_the_equivalent_function(imagenet_torch, coffee):
    declared = adapt(imagenet_torch.model, ModelOptions(preprocess=imagenet_torch.preprocess))
    as_function = adapt(imagenet_torch.model, ModelOptions(preprocess=imagenet_torch.preprocess.numpy))
    batch = coffee[None].astype(np.float32)
    np.testing.assert_allclose(declared.predict(batch), as_function.predict(batch), atol=1e-5)
    assert declared.accepts_device_batches and not as_function.accepts_device_batches
    assert declared.input_space == "pixels" and as_function.input_space == "model"


def test_a_photo_of_another_size_gets_maps_of_its_own_size(imagenet_torch):
    image = (RNG.random((400, 600, 3)) * 255).astype(np.uint8)
    result = xaihub.explain(imagenet_torch.model, image, methods=["gradients.saliency", "gradients.gradcam",
                                                                  "captum.input_x_gradient", "native.lime"],
                            preprocess=imagenet_torch.preprocess, params={"native.lime": {"num_samples": 20}})
    assert result.ok, result.failures
    assert {e.attribution.shape for e in result} == {(400, 600)}
    assert result.get("gradients.saliency").extras["input_space"] == "pixels"


def test_keras_model_of_a_fixed_smaller_input_gets_resized_images():
    keras = pytest.importorskip("keras")
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    image = (RNG.random((48, 40, 3)) * 255).astype(np.uint8)
    result = xaihub.explain(model, image, methods=["gradients.saliency"])
    assert result.ok and result.get("gradients.saliency").attribution.shape == (48, 40)
    assert any("16×16" in note for note in result.notes)


# -- any channel count: grey-scale (and other) models ------------------------------------------------------
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@pytest.mark.parametrize("channels", [1, 2])
def test_other_channel_counts_feed_the_luminance_alike_in_numpy_torch_and_keras(channels):
    torch = pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    preprocess = Preprocess(size=12, channels=channels, mean=0.5, std=0.25)
    x = pixels(2, 20, 24, 3)
    on_host = preprocess.numpy(x)
    in_torch = preprocess.torch(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    in_keras = np.asarray(preprocess.keras(keras.ops.convert_to_tensor(x)))
    assert on_host.shape == in_torch.shape == in_keras.shape == (2, 12, 12, channels)
    grey = Preprocess(size=12, mean=0.5, std=0.25).numpy(np.repeat((x @ LUMA)[..., None], 3, axis=-1))[..., :1]
    np.testing.assert_allclose(on_host, np.repeat(grey, channels, axis=-1), atol=1e-4)
    np.testing.assert_allclose(in_torch, on_host, atol=1e-4)
    np.testing.assert_allclose(in_keras, on_host, atol=1e-4)
    assert preprocess.describe()["channels"] == channels and "channels" not in Preprocess().describe()


def test_channel_counts_are_checked():
    with pytest.raises(InputError, match="channels must be None"):
        Preprocess(channels=0)
    with pytest.raises(InputError, match="mean must be a finite number or 1 of them"):
        Preprocess(channels=1, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    assert Preprocess(channels=1, mean=[0.1307], std=[0.3081]).scale == (1 / (255 * 0.3081),)
    with pytest.raises(InputError, match=r"for another number of channels, pass channels="):
        Preprocess(scale=(1, 2))


def grey_torch_net(channels=1):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(channels, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()


def grey_keras_net():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])


def test_a_grey_scale_torch_model_is_explained_through_a_declared_preprocess():
    torch = pytest.importorskip("torch")
    net = grey_torch_net()
    image = pixels(16, 16, 3).astype(np.uint8)
    for preprocess in (Preprocess(channels=1), None, Preprocess(scale=1 / 255)):  # declared, or inferred from Conv2d
        result = xaihub.explain(net, image, methods=["native.lime", "gradients.saliency"], preprocess=preprocess,
                                samples=40, output="logits")
        assert not result.failures and {x.attribution.shape for x in result} == {(16, 16)}
        grey = torch.from_numpy((image.astype(np.float32) @ LUMA / 255)[None, None])
        expected = torch.softmax(net(grey), dim=1)[0].detach().numpy()
        np.testing.assert_allclose(result.probabilities, expected, atol=1e-5)  # the luminance went in
        assert np.abs(result.get("gradients.saliency").attribution).sum() > 0  # gradients reach the RGB image
    two = xaihub.explain(grey_torch_net(2), image, methods=["gradients.saliency"])  # any count: inferred
    assert not two.failures


def test_a_grey_scale_keras_model_is_explained_through_a_declared_preprocess():
    net = grey_keras_net()
    image = pixels(16, 16, 3).astype(np.uint8)
    for preprocess in (Preprocess(channels=1), None):
        result = xaihub.explain(net, image, methods=["native.lime", "gradients.saliency"], preprocess=preprocess,
                                samples=40, output="logits")
        assert not result.failures and {x.attribution.shape for x in result} == {(16, 16)}
        grey = (image.astype(np.float32) @ LUMA / 255)[None, ..., None]
        logits = np.asarray(net(grey, training=False), np.float64)[0]
        np.testing.assert_allclose(result.probabilities, np.exp(logits) / np.exp(logits).sum(), atol=1e-5)


@pytest.mark.parametrize("net", [grey_torch_net, grey_keras_net])
@pytest.mark.parametrize("preprocess, message", [
    (Preprocess(channels=3), r"takes 1 channel\(s\), but the Preprocess makes 3: pass xaihub.Preprocess\(channels=1"),
    (Preprocess.imagenet(None), r"has 3 per-channel values .*Preprocess\(channels=1, \.\.\.\) with one value"),
])
def test_a_channel_mismatch_is_an_input_error_naming_the_fix_before_any_method_runs(net, preprocess, message):
    ran = []

    class Spy(xaihub.Explainer):
        name = "test.spy"

        def explain(self, model, image, targets, *, seed):
            ran.append(True)
            return [xaihub.Explanation(target=t, attribution=np.zeros(image.shape[:2], np.float32)) for t in targets]

    xaihub.register(Spy())
    try:
        with pytest.raises(InputError, match=message):
            xaihub.explain(net(), pixels(16, 16, 3).astype(np.uint8), methods=["test.spy"], preprocess=preprocess)
    finally:
        xaihub.unregister("test.spy")
    assert ran == []
