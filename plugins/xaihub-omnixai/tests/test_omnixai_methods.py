import numpy as np
import pytest

import xaihub

pytest.importorskip("omnixai")

GRADIENT_METHODS = ["omnixai.shap", "omnixai.ig", "omnixai.gradcam", "omnixai.gradcampp", "omnixai.layercam",
                    "omnixai.scorecam", "omnixai.smoothgrad", "omnixai.guidedbp"]
ALL = ["omnixai.lime", *GRADIENT_METHODS]
FAST = {"omnixai.lime": {"num_samples": 200, "num_features": 1}, "omnixai.ig": {"steps": 8},
        "omnixai.smoothgrad": {"num_samples": 8}}


def hook_state(model):
    return [(name, m.training, dict(m._forward_hooks), dict(m._forward_pre_hooks), dict(m._backward_hooks),
             dict(m._backward_pre_hooks)) for name, m in model.named_modules()]


@pytest.mark.parametrize("framework", ["torch_model", "keras_model"])
def test_every_method_gives_valid_maps_that_find_the_object(framework, request, object_image):
    model = request.getfixturevalue(framework)
    image, mask, label = object_image
    result = xaihub.explain(model, image, methods=ALL, targets=[label, 0], params=FAST)
    assert result.failures == []
    for method in ALL:
        for target in (label, 0):
            explanation = result.get(method, target)
            assert explanation.attribution.shape == image.shape[:2]
            assert explanation.channels is None or explanation.channels.shape == image.shape
    # OmniXAI differentiates the Keras model's softmax output, saturated here (p = 1.0): its CAMs vanish.
    localising = {"torch_model": ("omnixai.gradcam", "omnixai.ig", "omnixai.lime"),
                  "keras_model": ("omnixai.ig", "omnixai.lime")}[framework]
    for method in localising:
        positive = np.maximum(result.get(method, label).attribution, 0)
        assert positive[mask].mean() > 2 * positive[~mask].mean(), method
    assert result.get("omnixai.gradcam", label).extras["layer"] == {"torch_model": "6", "keras_model": "last_conv"}[framework]


def raw_outputs(model, images):
    """The framework model's own outputs (torch: logits; the Keras model: softmax) on pixel images."""
    if hasattr(model, "named_modules"):
        import torch

        with torch.no_grad():
            return model(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255).numpy()
    return np.asarray(model(images.astype("float32") / 255, training=False))


@pytest.mark.parametrize("framework", ["torch_model", "keras_model"])
def test_shap_maps_are_the_targets_shap_values(framework, request, object_image):
    """shap 0.5x broke OmniXAI's indexing; the maps must be H×W×3 and add up to f(x) − f(background)."""
    model = request.getfixturevalue(framework)
    image, _, label = object_image
    result = xaihub.explain(model, image, methods=["omnixai.shap"], targets=[label, 2])
    assert result.failures == []
    background = np.full_like(image, int(np.mean(image)))
    outputs = raw_outputs(model, np.stack([image, background]))
    for target in (label, 2):
        explanation = result.get("omnixai.shap", target)
        assert explanation.channels.shape == image.shape
        expected = outputs[0, target] - outputs[1, target]
        assert explanation.attribution.sum() == pytest.approx(expected, rel=0.05, abs=1e-3)


def test_keras_cam_gets_numpy_from_preprocess(keras_model, object_image):
    image, _, label = object_image
    result = xaihub.explain(keras_model, image, methods=["omnixai.gradcam"], targets=label,
                            preprocess=lambda batch: __import__("tensorflow").constant(batch / 255.0))
    assert result.failures == []


def test_shap_gradient_explainer_then_omnixai_gradcam_on_one_torch_model(torch_model, object_image):
    shap = pytest.importorskip("shap")
    import torch

    image, mask, label = object_image
    before = hook_state(torch_model)
    x = torch.from_numpy(image[None]).permute(0, 3, 1, 2).float() / 255
    shap.GradientExplainer(torch_model, torch.zeros_like(x)).shap_values(x, nsamples=4)
    result = xaihub.explain(torch_model, image, methods=["omnixai.shap", "omnixai.gradcam", "omnixai.guidedbp",
                                                         "omnixai.gradcam"], targets=label)
    assert result.failures == []
    assert hook_state(torch_model) == before
    torch_model.train()
    try:
        again = xaihub.explain(torch_model, image, methods=["omnixai.gradcampp", "omnixai.shap"], targets=label)
        assert torch_model.training
    finally:
        torch_model.eval()
    assert again.failures == []


def test_bad_layer_fails_clearly(torch_model, object_image):
    image, _, _ = object_image
    result = xaihub.explain(torch_model, image, methods=["omnixai.gradcam"], params={"omnixai.gradcam": {"layer": "nope"}})
    assert "no module named 'nope'" in result.failure("omnixai.gradcam").message


def test_missing_omnixai_makes_only_its_methods_unavailable(uninstalled, torch_model, object_image):
    uninstalled("omnixai")
    image, _, _ = object_image
    result = xaihub.explain(torch_model, image, methods=["omnixai.gradcam", "gradients.gradcam"])
    assert "needs omnixai" in result.failure("omnixai.gradcam").message
    assert result.failure("omnixai.gradcam").error == "MethodUnavailableError"
    assert result.get("gradients.gradcam") is not None


def test_shap_refuses_upfront_a_keras_model_with_an_op_its_deep_explainer_has_no_rule_for():
    keras = pytest.importorskip("keras")

    inputs = keras.Input((None, None, 3))
    x = keras.layers.LayerNormalization()(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(x)))
    result = xaihub.explain(model, np.full((24, 24, 3), 90, np.uint8), methods=["omnixai.shap"])
    failure = result.failure("omnixai.shap")
    assert failure.unavailable and "has no rule for the TF operation(s)" in failure.message
    assert result.forward_passes["omnixai.shap"] == 0


@pytest.mark.parametrize("activation", ["ReLU6", "SiLU", "Tanh"])
def test_guided_backprop_refuses_a_torch_model_whose_rectifiers_omnixai_would_leave_plain(activation, object_image):
    from torch import nn

    image, _, label = object_image
    model = nn.Sequential(nn.Conv2d(3, 4, 3), getattr(nn, activation)(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 3)).eval()
    result = xaihub.explain(model, image, methods=["omnixai.guidedbp"], targets=label)
    failure = result.failure("omnixai.guidedbp")
    assert failure.error == "MethodUnavailableError"
    assert ("has no nn.ReLU module" if activation == "Tanh" else f"has {activation} modules") in failure.message
    assert result.forward_passes["omnixai.guidedbp"] <= 1
