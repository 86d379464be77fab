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
                                                                  "lrp.epsilon", "native.lime"],
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
