import numpy as np
import pytest

import xaihub

from toy_models import linear_model

METHODS = ["gradients.saliency", "gradients.integrated", "gradients.gradcam", "gradients.gradcampp"]
LOCALISING = ["gradients.integrated", "gradients.gradcam", "gradients.gradcampp"]


def torch_hooks(model):
    return [(name, len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
            for name, m in model.named_modules()]


@pytest.mark.parametrize("framework", ["torch_model", "keras_model"])
def test_every_method_localises_the_object(framework, request, object_image):
    model = request.getfixturevalue(framework)
    image, mask, label = object_image
    result = xaihub.explain(model, image, methods=METHODS, targets=[label, 0])
    assert result.failures == []
    for method in METHODS:
        for target in (label, 0):
            explanation = result.get(method, target)
            assert explanation.attribution.shape == image.shape[:2]
            assert np.abs(explanation.attribution).max() > 0
            assert explanation.extras["score"] == "logit"
    for method in LOCALISING:
        positive = np.maximum(result.get(method, label).attribution, 0)
        assert positive[mask].mean() > 2 * positive[~mask].mean(), method
    assert result.get("gradients.gradcam", label).extras["layer"] == {"torch_model": "6", "keras_model": "last_conv"}[framework]
    # torch finds "the last convolution to run" with one probe pass, shared through the run cache
    probe = {"torch_model": 1, "keras_model": 0}[framework]
    for cam in ("gradients.gradcam", "gradients.gradcampp"):
        assert result.get(cam, label).forward_passes == 1 + probe
    assert result.get("gradients.gradcampp", label).reused_forward_passes == probe
    assert result.get("gradients.integrated", label).forward_passes == 32 + 2


@pytest.mark.parametrize(("framework", "baseline"), [("torch_model", "black"), ("torch_model", "zero"),
                                                    ("torch_model", "blur"), ("keras_model", "black")])
def test_integrated_gradients_add_up_to_the_score_difference(framework, baseline, request, object_image):
    model = request.getfixturevalue(framework)
    image, _, label = object_image
    result = xaihub.explain(model, image, methods=["gradients.integrated"], targets=label,
                            params={"gradients.integrated": {"steps": 64, "baseline": baseline}})
    explanation = result.get("gradients.integrated", label)
    difference = explanation.extras["score_input"] - explanation.extras["score_baseline"]
    assert abs(difference) > 1
    assert explanation.attribution.sum() == pytest.approx(difference, rel=0.03)
    np.testing.assert_allclose(explanation.channels.sum(axis=2), explanation.attribution, rtol=1e-4, atol=1e-6)


def test_integrated_gradients_scores_are_the_torch_logits(torch_model, object_image):
    import torch

    image, _, label = object_image
    result = xaihub.explain(torch_model, image, methods=["gradients.integrated"], targets=label,
                            params={"gradients.integrated": {"baseline": "black"}})
    with torch.no_grad():
        logits = torch_model(torch.from_numpy(np.stack([image, np.zeros_like(image)])).permute(0, 3, 1, 2).float() / 255)
    extras = result.get("gradients.integrated", label).extras
    assert extras["score_input"] == pytest.approx(float(logits[0, label]), rel=1e-4)
    assert extras["score_baseline"] == pytest.approx(float(logits[1, label]), rel=1e-4, abs=1e-4)


def test_gradcam_of_a_pooled_convolution_is_its_rectified_channel():
    """score_c = mean of conv channel c, so Grad-CAM's weights are 1/(h·w) on channel c only."""
    import torch

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 2, 1)
    model = torch.nn.Sequential(conv, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    result = xaihub.explain(model, image, methods=["gradients.gradcam"], targets=[0, 1], output="logits")
    with torch.no_grad():
        feature = conv(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255)[0].numpy()
    for target in (0, 1):
        expected = np.maximum(feature[target], 0) / feature[target].size
        np.testing.assert_allclose(result.get("gradients.gradcam", target).attribution, expected, rtol=1e-4, atol=1e-7)
    # relu=False (Captum's relu_attributions=False) keeps the channel's negative part
    unrectified = xaihub.explain(model, image, methods=["gradients.gradcam"], targets=[0, 1], output="logits",
                                 params={"gradients.gradcam": {"relu": False}})
    assert (feature < 0).any()
    for target in (0, 1):
        np.testing.assert_allclose(unrectified.get("gradients.gradcam", target).attribution,
                                   feature[target] / feature[target].size, rtol=1e-4, atol=1e-7)


def test_saliency_is_the_largest_absolute_channel_gradient(torch_model, object_image):
    image, _, label = object_image
    explanation = xaihub.explain(torch_model, image, methods=["gradients.saliency"], targets=label).get(
        "gradients.saliency", label)
    np.testing.assert_allclose(explanation.attribution, np.abs(explanation.channels).max(axis=2))


@pytest.mark.parametrize("method", ["gradients.gradcam", "gradients.gradcampp"])
def test_a_named_layer_is_used_and_recorded(method, torch_model, keras_model, object_image):
    image, _, label = object_image
    on_torch = xaihub.explain(torch_model, image, methods=[method], targets=label, params={method: {"layer": "3"}})
    assert on_torch.get(method, label).extras["layer"] == "3"
    assert on_torch.get(method, label).extras["feature_map"] == [32, 32, 32]
    keras_layer = keras_model.layers[0].name
    on_keras = xaihub.explain(keras_model, image, methods=[method], targets=label, params={method: {"layer": keras_layer}})
    assert on_keras.get(method, label).extras["layer"] == keras_layer
    assert on_keras.get(method, label).extras["feature_map"] == [64, 64, 16]


def test_bad_layers_and_parameters_fail_clearly(torch_model, keras_model, object_image):
    image, _, _ = object_image
    result = xaihub.explain(torch_model, image, methods=["gradients.gradcam", "gradients.integrated"],
                            params={"gradients.gradcam": {"layer": "nope"}, "gradients.integrated": {"steps": 4}})
    assert "no module named 'nope'" in result.failure("gradients.gradcam").message
    assert result.get("gradients.integrated") is not None
    with pytest.raises(xaihub.InputError, match="parameter 'baseline' must be one of 'black', 'zero', 'blur'"):
        xaihub.explain(torch_model, image, methods=["gradients.integrated"],
                       params={"gradients.integrated": {"baseline": "grey"}})
    flat = xaihub.explain(torch_model, image, methods=["gradients.gradcam"], params={"gradients.gradcam": {"layer": "10"}})
    assert "CAM methods need an N×C×h×w feature map" in flat.failure("gradients.gradcam").message
    result = xaihub.explain(keras_model, image, methods=["gradients.gradcam"], params={"gradients.gradcam": {"layer": "nope"}})
    assert "no layer named 'nope'" in result.failure("gradients.gradcam").message


def test_a_plain_callable_makes_the_methods_unavailable(object_image):
    image, _, _ = object_image
    result = xaihub.explain(linear_model(), image, methods=METHODS)
    assert {f.method for f in result.failures} == set(METHODS)
    assert all(f.error == "MethodUnavailableError" for f in result.failures)


def test_the_torch_model_is_left_as_it_was(torch_model, object_image):
    image, _, label = object_image
    hooks = torch_hooks(torch_model)
    flags = [p.requires_grad for p in torch_model.parameters()]
    grads = [None if p.grad is None else p.grad.clone() for p in torch_model.parameters()]
    torch_model.train()
    try:
        result = xaihub.explain(torch_model, image, methods=METHODS, targets=label)
        assert torch_model.training
    finally:
        torch_model.eval()
    assert result.failures == []
    assert torch_hooks(torch_model) == hooks
    assert [p.requires_grad for p in torch_model.parameters()] == flags
    for before, parameter in zip(grads, torch_model.parameters()):
        assert (before is None and parameter.grad is None) or bool((before == parameter.grad).all())
