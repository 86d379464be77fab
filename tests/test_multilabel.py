"""Targets beyond one softmax class: a multi-label (sigmoid) model end to end — targets "above-p" and
"top-k" over its sigmoid scores, methods and metrics on it — and custom targets (a sum of classes) appended
as extra classes with xaihub.with_scores."""

import numpy as np
import pytest

import xaihub
from xaihub.registry.plugins import get_method, list_methods

from cheap_params import CHEAP

SIZE = 48
RED, BLUE = (slice(6, 18), slice(6, 18)), (slice(28, 42), slice(26, 40))
RED_NEAR, BLUE_NEAR = (slice(0, 24), slice(0, 24)), (slice(24, 48), slice(22, 48))  # each object and around it
OCCLUSION = {"captum.occlusion": {"window": 16, "stride": 2}}  # a window covers an object: max pooling
TRANSFORMERS_ONLY = {"attention_rollout", "transformer_attribution"}  # they refuse a CNN upfront


def colour_detector():
    """A multi-label torch model built by hand: label c (red, green, blue) is present when some pixel is
    mostly colour c; one logit per label, no softmax. Red and blue are present in :func:`two_objects`."""
    import torch
    from torch import nn

    class Detector(nn.Module):
        def __init__(self):
            super().__init__()
            self.detect = nn.Conv2d(3, 3, 1)
            self.relu = nn.ReLU()
            self.pool = nn.MaxPool2d(SIZE)  # over the whole image (a module DeepLIFT has a rule for)
            self.head = nn.Linear(3, 3)

        def forward(self, x):
            return self.head(self.pool(self.relu(self.detect(x))).flatten(1))

    model = Detector().eval()
    with torch.no_grad():
        model.detect.weight.copy_((1.5 * torch.eye(3) - 0.5).view(3, 3, 1, 1))  # c minus half the others
        model.detect.bias.fill_(-0.2)
        model.head.weight.copy_(20 * torch.eye(3))
        model.head.bias.fill_(-4.0)
    return model


def two_objects():
    image = np.full((SIZE, SIZE, 3), 110, np.uint8)
    image[RED] = (250, 30, 30)
    image[BLUE] = (30, 30, 200)
    return image


def inside(attribution, region):
    positive = np.maximum(attribution, 0)
    mask = np.zeros(attribution.shape, bool)
    mask[region] = True
    return positive[mask].sum() / max(positive.sum(), 1e-12)


def test_above_p_and_top_k_are_taken_over_the_sigmoid_scores():
    result = xaihub.explain(colour_detector(), two_objects(), methods=["gradients.integrated"],
                            targets="above-0.5", output="multilabel-logits")
    assert result.targets == [0, 2]  # red (the brighter) then blue; green absent
    assert result.probabilities[0] > result.probabilities[2] > 0.5 > result.probabilities[1]
    assert not np.isclose(result.probabilities.sum(), 1.0)  # independent probabilities, no softmax
    again = xaihub.explain(colour_detector(), two_objects(), methods=["gradients.integrated"], targets="top-2",
                           output="multilabel-logits")
    assert again.targets == [0, 2]
    with pytest.raises(xaihub.InputError, match="no class scores 0.99 or more"):
        xaihub.explain(colour_detector(), np.full((SIZE, SIZE, 3), 110, np.uint8), methods=["gradients.saliency"],
                       targets="above-0.99", output="multilabel-logits")
    with pytest.raises(xaihub.InputError, match="'top-5' or 'above-0.5'"):
        xaihub.explain(colour_detector(), two_objects(), methods=["gradients.saliency"], targets="above-2",
                       output="multilabel-logits")


@pytest.mark.parametrize("method", ["gradients.integrated", "gradients.gradcam", "captum.occlusion"])
def test_each_label_is_explained_by_its_own_object(method):
    result = xaihub.explain(colour_detector(), two_objects(), methods=[method, "baseline.noise"], targets="above-0.5",
                            output="multilabel-logits", metrics=["deletion"],
                            params={m: p for m, p in OCCLUSION.items() if m == method})
    assert result.ok, result.failures
    red, blue = result.get(method, 0), result.get(method, 2)
    assert inside(red.attribution, RED_NEAR) > 0.9 and inside(blue.attribution, BLUE_NEAR) > 0.9, method
    for label, explanation in ((0, red), (2, blue)):
        # deleting the label's object first lowers its sigmoid sooner than deleting noise's pixels first
        assert explanation.metrics["deletion"] < result.get("baseline.noise", label).metrics["deletion"] - 0.05
    if method.startswith("gradients."):
        assert red.extras["score"] == "multilabel-logit"


def test_a_custom_target_sums_classes_and_is_explained_by_both_objects():
    import torch

    model = colour_detector()
    combined = xaihub.with_scores(model, {"red or blue": xaihub.class_sum(0, 2)})
    x = torch.from_numpy(two_objects()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        logits, extended = model(x), combined(x)
    torch.testing.assert_close(extended[:, :3], logits)
    torch.testing.assert_close(extended[:, 3], logits[:, 0] + logits[:, 2])
    result = xaihub.explain(combined, two_objects(), methods=["gradients.integrated", "captum.occlusion"],
                            targets=3, output="multilabel-logits", labels=["red", "green", "blue", "red or blue"],
                            params=OCCLUSION, metrics=["deletion"])
    assert result.ok, result.failures
    for method in ("gradients.integrated", "captum.occlusion"):
        attribution = result.get(method, 3).attribution
        assert inside(attribution, RED_NEAR) > 0.15 and inside(attribution, BLUE_NEAR) > 0.15, method
        assert inside(attribution, RED_NEAR) + inside(attribution, BLUE_NEAR) > 0.95, method
    ig = result.get("gradients.integrated", 3)
    assert ig.attribution.sum() == pytest.approx(ig.extras["score_input"] - ig.extras["score_baseline"], rel=0.05)


def test_a_custom_target_on_softmax_probabilities_of_a_plain_function():
    def softmax_model(batch):  # batch in [0, 1] (the default preprocessing)
        means = batch.reshape(len(batch), -1, 3).mean(1)
        return np.log(np.stack([means[:, 0] + 0.1, means[:, 1] + 0.1, means[:, 2] + 0.1], 1))  # logits

    combined = xaihub.with_scores(softmax_model, {"red or green": xaihub.class_sum(0, 1)}, softmax=True)
    probabilities = combined(two_objects()[None].astype(np.float32) / 255)
    assert probabilities.shape == (1, 4)
    np.testing.assert_allclose(probabilities[0, :3].sum(), 1.0)
    np.testing.assert_allclose(probabilities[0, 3], probabilities[0, 0] + probabilities[0, 1])
    result = xaihub.explain(combined, two_objects(), methods=["native.lime"], targets=3, output="probabilities",
                            params={"native.lime": {"num_samples": 40}})
    assert result.ok and result.probabilities[3] == pytest.approx(probabilities[0, 3], rel=1e-5)


def test_bad_custom_targets_are_refused():
    with pytest.raises(xaihub.InputError, match="class indices"):
        xaihub.class_sum()
    with pytest.raises(xaihub.InputError, match="class indices"):
        xaihub.class_sum(1, -2)
    with pytest.raises(xaihub.InputError, match="non-empty"):
        xaihub.with_scores(colour_detector(), {})
    with pytest.raises(xaihub.InputError, match="callables"):
        xaihub.with_scores(colour_detector(), {"sum": 3})


@pytest.mark.slow  # every torch method and every metric on the multi-label model, two labels
def test_every_method_and_metric_runs_on_a_multilabel_model():
    methods = [r.explainer.name for r in list_methods()
               if r.explainer.requires.kind == xaihub.BLACK_BOX or "torch" in r.explainer.requires.frameworks]
    methods = [m for m in methods if get_method(m).explainer.family not in TRANSFORMERS_ONLY]
    red = np.zeros((SIZE, SIZE), bool)
    red[RED] = True
    metrics = {registered.metric.name: {"mask": red} if "mask" in registered.metric.required else {}
               for registered in xaihub.list_metrics()}
    params = {m: p for m, p in CHEAP.items() if m in methods}
    result = xaihub.explain(colour_detector(), two_objects(), methods=methods, targets="above-0.5",
                            output="multilabel-logits", params=params, metrics=metrics, progress=False)
    # A method may refuse the model upfront (the contract); Quantus refuses maps that are zero everywhere (the
    # absent green label's, which quantus.random_logit draws, and some methods' on a max-pooled detector).
    # Nothing else may fail on a multi-label model.
    def excused(failure):
        if failure.error == "MethodUnavailableError" and failure.target is None:
            return True
        return failure.message.startswith("metric ") and failure.target is not None and (
            "all equal to zero" in failure.message or np.ptp(result.get(failure.method, failure.target).attribution) == 0)

    real = [f for f in result.failures if not excused(f)]
    assert real == [], sorted({(f.method, f.message[:200]) for f in real})
    refused = {f.method for f in result.failures if f.target is None}
    for name in metrics:  # every metric scores maps of the multi-label model (NaN where the detector's score
        assert any(key == name or key.startswith(f"{name}.") for e in result for key in e.metrics), name
        # never moves, as for faithfulness correlation; several values under name.* for sanity.randomization)
    for name in ("deletion", "insertion"):  # a degenerate map (constant, all zero) is not scored: NaN
        assert all(np.isfinite(e.metrics[name]) == (e.degenerate is None) for e in result), name
    assert {e.method for e in result} | refused == set(methods) and result.targets == [0, 2]
    assert len(refused) < len(methods) / 8, refused


@pytest.mark.parametrize("architecture", ["keras.residual", "keras.sequential", "keras.subclassed"])
def test_a_custom_target_on_a_keras_model_is_the_sum_of_its_classes_for_linear_methods(architecture):
    """Gradients are linear in the score: the signed saliency (``channels``) and Integrated Gradients of
    ``class_sum(1, 3)`` are those of class 1 plus those of class 3."""
    pytest.importorskip("keras")
    from xaihub.testing import zoo

    net = zoo.get(architecture).build()
    combined = xaihub.with_scores(net, {"one or three": xaihub.class_sum(1, 3)})
    x = np.random.default_rng(0).uniform(size=(2, 24, 24, 3)).astype(np.float32)
    scores, extended = np.asarray(net(x)), np.asarray(combined(x))
    assert extended.shape == (2, zoo.CLASSES + 1)
    np.testing.assert_allclose(extended[:, :zoo.CLASSES], scores, atol=1e-6)
    np.testing.assert_allclose(extended[:, -1], scores[:, 1] + scores[:, 3], atol=1e-6)
    result = xaihub.explain(combined, zoo.image(24, 24), methods=["gradients.saliency", "gradients.integrated"],
                            targets=[1, 3, zoo.CLASSES], output="multilabel-logits")
    assert result.ok, result.failures
    saliency = {t: result.get("gradients.saliency", t).channels for t in (1, 3, zoo.CLASSES)}
    np.testing.assert_allclose(saliency[zoo.CLASSES], saliency[1] + saliency[3], atol=1e-6)
    assert np.abs(saliency[zoo.CLASSES]).max() > 0
    ig = {t: result.get("gradients.integrated", t).attribution for t in (1, 3, zoo.CLASSES)}
    np.testing.assert_allclose(ig[zoo.CLASSES], ig[1] + ig[3], atol=1e-5)


def test_a_custom_target_keeps_a_keras_vit_s_token_cam():
    pytest.importorskip("keras")
    from xaihub.testing import zoo

    architecture = zoo.get("keras.vit")
    combined = xaihub.with_scores(architecture.build(), {"one or three": xaihub.class_sum(1, 3)})
    result = xaihub.explain(combined, zoo.image(), methods=["gradients.gradcam"], targets=[1, 3, zoo.CLASSES],
                            output="multilabel-logits", preprocess=architecture.preprocess,
                            params={"gradients.gradcam": {"relu": False}})
    assert result.ok, result.failures
    maps = {t: result.get("gradients.gradcam", t).attribution for t in (1, 3, zoo.CLASSES)}
    assert result.get("gradients.gradcam", zoo.CLASSES).extras["layer"] == "block1_norm1"
    np.testing.assert_allclose(maps[zoo.CLASSES], maps[1] + maps[3], atol=1e-6)  # Grad-CAM without ReLU is linear
