import math

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

import xaihub

pytest.importorskip("xplique")

GRADIENT = ["xplique.saliency", "xplique.gradient_input", "xplique.integrated_gradients", "xplique.smoothgrad",
            "xplique.vargrad", "xplique.squaregrad", "xplique.guided_backprop", "xplique.deconvnet",
            "xplique.gradcam", "xplique.gradcampp"]
BLACK_BOX = ["xplique.occlusion", "xplique.rise", "xplique.lime", "xplique.kernelshap", "xplique.sobol", "xplique.hsic"]
ALL = GRADIENT + BLACK_BOX
FAST = {"xplique.integrated_gradients": {"steps": 8}, "xplique.smoothgrad": {"nb_samples": 6},
        "xplique.vargrad": {"nb_samples": 6}, "xplique.squaregrad": {"nb_samples": 6}, "xplique.rise": {"nb_samples": 60},
        "xplique.lime": {"nb_samples": 60}, "xplique.kernelshap": {"nb_samples": 60},
        "xplique.sobol": {"grid_size": 4, "nb_design": 8}, "xplique.hsic": {"grid_size": 4, "nb_design": 40}}


def layer_state(model):
    """Weights and every layer's instance attributes (Xplique's Grad-CAM wraps a layer's ``call``)."""
    return [w.copy() for w in model.get_weights()], [sorted(vars(layer)) for layer in model.layers]


def assert_untouched(model, before):
    weights, attributes = layer_state(model)
    assert all(np.array_equal(a, b) for a, b in zip(weights, before[0]))
    assert attributes == before[1]


@pytest.fixture(scope="module")
def demo_result(keras_model, object_image):
    """Every method, once, on the trained demo CNN: targets the disc's class and another."""
    image, _, label = object_image
    before = layer_state(keras_model)
    result = xaihub.explain(keras_model, image, methods=ALL, targets=[label, 0], params=FAST, progress=False)
    assert_untouched(keras_model, before)
    return result


def test_every_method_gives_valid_maps(demo_result, object_image):
    image, _, label = object_image
    assert demo_result.failures == []
    for method in ALL:
        for target in (label, 0):
            explanation = demo_result.get(method, target)
            assert explanation.attribution.shape == image.shape[:2]
            assert np.isfinite(explanation.attribution).all() and np.abs(explanation.attribution).max() > 0, method
            if method in GRADIENT and "cam" not in method:
                assert explanation.channels.shape == image.shape
    for method in ("xplique.lime", "xplique.kernelshap"):
        explanation = demo_result.get(method, label)
        assert np.array_equal(explanation.attribution, explanation.segment_weights[explanation.segments])
    assert demo_result.get("xplique.gradcam", label).extras["layer"] == "last_conv"
    assert demo_result.get("xplique.saliency", label).extras["score"] == "logit"


# 2× more positive attribution per pixel on the disc than off it. RISE (60 masks on a model that is
# certain, p = 1.0) and DeconvNet (class-insensitive by construction) are too flat to promise it.
LOCALISING = [m for m in ALL if m not in ("xplique.rise", "xplique.deconvnet")]


@pytest.mark.parametrize("method", LOCALISING)
def test_maps_find_the_object(demo_result, object_image, method):
    _, mask, label = object_image
    positive = np.maximum(demo_result.get(method, label).attribution, 0)
    assert positive[mask].mean() > 2 * positive[~mask].mean()


def test_forward_passes_are_every_image_the_model_evaluates(demo_result, object_image):
    """Gradient methods count through the model (or one pass per target); black-box methods through
    model.predict, where targets share identical perturbed batches."""
    image, _, label = object_image
    height, width = image.shape[:2]
    occlusion = demo_result.get("xplique.occlusion", label).extras
    positions = [math.ceil((side - occlusion["patch_size"] + 1) / occlusion["patch_stride"]) for side in (height, width)]
    targets = 2
    expected = {
        "xplique.saliency": targets, "xplique.gradient_input": targets, "xplique.guided_backprop": targets,
        "xplique.deconvnet": targets, "xplique.gradcam": targets, "xplique.gradcampp": targets,
        "xplique.integrated_gradients": targets * 8, "xplique.smoothgrad": targets * 6,
        "xplique.vargrad": targets * 6, "xplique.squaregrad": targets * 6,
        "xplique.rise": targets * 60,                                       # each target its own masks
        "xplique.occlusion": targets + positions[0] * positions[1],         # unoccluded images, then shared
        "xplique.lime": 60, "xplique.kernelshap": 60,                       # one set of coalitions
        "xplique.sobol": 8 * (4 * 4 + 2), "xplique.hsic": 40,               # one set of designs
    }
    assert {m: demo_result.get(m, label).forward_passes for m in ALL} == expected
    for method in ("xplique.lime", "xplique.sobol", "xplique.hsic"):
        assert demo_result.get(method, label).extras["requested_images"] == targets * expected[method]


def test_agrees_with_xaihub_gradient_methods(keras_model, object_image):
    """Same definitions as gradients.*, up to documented differences: IG's rule (trapezoid vs midpoint),
    Xplique's channel mean (here reducer="sum"), and Xplique's bicubic upsampling of the CAM."""
    image, _, label = object_image
    params = {"xplique.integrated_gradients": {"steps": 32, "reducer": "sum"}, "gradients.integrated": {"steps": 32}}
    result = xaihub.explain(keras_model, image, targets=[label, 0], params=params, progress=False,
                            methods=["xplique.saliency", "gradients.saliency", "xplique.integrated_gradients",
                                     "gradients.integrated", "xplique.gradcam", "gradients.gradcam",
                                     "xplique.gradcampp", "gradients.gradcampp"])
    assert result.failures == []
    for target in (label, 0):
        maps = {e.method: e.attribution for e in result if e.target == target}
        np.testing.assert_allclose(maps["xplique.saliency"], maps["gradients.saliency"], rtol=1e-4, atol=1e-6)
        assert spearmanr(maps["xplique.integrated_gradients"].ravel(), maps["gradients.integrated"].ravel())[0] >= 0.9
        reference = result.get("gradients.integrated", target).extras
        completeness = reference["score_input"] - reference["score_baseline"]
        assert maps["xplique.integrated_gradients"].sum() == pytest.approx(completeness, rel=0.02)
        # Grad-CAM is zero where ReLU cuts it; there bicubic ringing breaks rank ties, so compare on the support
        support = maps["gradients.gradcam"] > 0
        assert pearsonr(maps["xplique.gradcam"].ravel(), maps["gradients.gradcam"].ravel())[0] >= 0.99
        assert spearmanr(maps["xplique.gradcam"][support], maps["gradients.gradcam"][support])[0] >= 0.9
        # Xplique's Grad-CAM++ averages where the paper sums (other scale), same ranking
        support = maps["gradients.gradcampp"] > 0
        assert spearmanr(maps["xplique.gradcampp"][support], maps["gradients.gradcampp"][support])[0] >= 0.9


CHEAP_REAL = {"xplique.integrated_gradients": {"steps": 4}, "xplique.smoothgrad": {"nb_samples": 3},
              "xplique.vargrad": {"nb_samples": 3}, "xplique.squaregrad": {"nb_samples": 3},
              "xplique.occlusion": {"patch_size": 100, "patch_stride": 100}, "xplique.rise": {"nb_samples": 16},
              "xplique.lime": {"nb_samples": 16}, "xplique.kernelshap": {"nb_samples": 16},
              "xplique.sobol": {"grid_size": 2, "nb_design": 2}, "xplique.hsic": {"grid_size": 2, "nb_design": 8}}


@pytest.mark.slow
def test_every_method_runs_on_the_real_keras_model(imagenet_keras, coffee):
    from xplique.attributions.base import BlackBoxExplainer

    model = imagenet_keras.model
    before, cached = layer_state(model), len(BlackBoxExplainer._cache_models)
    result = xaihub.explain(model, coffee, methods=ALL + ["gradients.saliency", "gradients.gradcam"],
                            preprocess=imagenet_keras.preprocess, labels=imagenet_keras.labels, params=CHEAP_REAL,
                            progress=False)
    assert result.failures == []
    assert result.get("xplique.gradcam").label == "espresso"
    assert result.get("xplique.gradcam").extras["layer"] == "head_conv"
    for explanation in result:
        assert explanation.attribution.shape == coffee.shape[:2] and np.isfinite(explanation.attribution).all()
    assert_untouched(model, before)
    assert len(BlackBoxExplainer._cache_models) == cached
    saliency, reference = result.get("xplique.saliency").attribution, result.get("gradients.saliency").attribution
    assert spearmanr(saliency.ravel(), reference.ravel())[0] >= 0.999
    cam, reference = result.get("xplique.gradcam").attribution, result.get("gradients.gradcam").attribution
    assert spearmanr(cam.ravel(), reference.ravel())[0] >= 0.9


RANDOM = ["xplique.smoothgrad", "xplique.vargrad", "xplique.squaregrad", "xplique.rise", "xplique.lime",
          "xplique.kernelshap"]


def test_equal_seeds_give_equal_maps_and_the_callers_random_state_is_kept(keras_model, object_image):
    import tensorflow as tf

    image, _, label = object_image
    methods = RANDOM + ["xplique.sobol", "xplique.hsic"]
    params = {method: FAST[method] for method in methods if method in FAST}
    np.random.seed(123)
    numpy_state = np.random.get_state()[1].copy()
    tf.random.set_seed(77)
    try:
        runs = [xaihub.explain(keras_model, image, methods=methods, targets=label, params=params, seed=seed,
                               progress=False) for seed in (5, 5, 6)]
        assert np.array_equal(np.random.get_state()[1], numpy_state)
        assert tf.compat.v1.get_seed(None)[0] == 77 and not tf.config.functions_run_eagerly()
    finally:
        tf.random.set_seed(None)
    for method in methods:
        first, again, other = (run.get(method).attribution for run in runs)
        assert np.array_equal(first, again), method
        if method in RANDOM:
            assert not np.array_equal(first, other), method


def test_a_preprocess_function_gets_maps_at_the_image_size(keras_model, object_image):
    """With a callable preprocess, gradients are taken in model-input space and maps resized to the image."""
    image, mask, label = object_image
    methods = ["xplique.saliency", "xplique.gradcam", "xplique.occlusion"]
    result = xaihub.explain(keras_model, image[:100], methods=methods, targets=label, progress=False,
                            preprocess=lambda batch: __import__("tensorflow").image.resize(batch / 255.0, (128, 128)))
    assert result.failures == []
    assert result.get("xplique.saliency").extras["input_space"] == "model"
    for method in methods:
        assert result.get(method).attribution.shape == (100, image.shape[1])


def test_models_xplique_cannot_read_are_refused_upfront(object_image):
    import keras

    image, _, _ = object_image
    inputs = keras.Input(image.shape)
    features = keras.layers.Conv2D(4, 3, activation="tanh", name="conv")(inputs)
    no_relu = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(features)))

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(4, 3, activation="relu")
            self.head = keras.layers.Dense(3)

        def call(self, x):
            return self.head(keras.ops.mean(self.conv(x), axis=(1, 2)))

    result = xaihub.explain(no_relu, image, methods=["xplique.guided_backprop", "xplique.gradcam"], progress=False)
    assert result.failure("xplique.guided_backprop").error == "MethodUnavailableError"
    assert "ReLU" in result.failure("xplique.guided_backprop").message
    assert result.get("xplique.gradcam").extras["layer"] == "conv"
    result = xaihub.explain(Subclassed(), image, methods=["xplique.gradcam", "xplique.deconvnet", "xplique.saliency"],
                            progress=False)
    for method in ("xplique.gradcam", "xplique.deconvnet"):
        assert result.failure(method).error == "MethodUnavailableError"
        assert "Sequential or functional" in result.failure(method).message
    assert result.get("xplique.saliency") is not None


def test_every_method_declares_its_parameters():
    from xaihub.contracts.explainer import FAMILIES
    from xaihub.core import params as constraints
    from xaihub.registry.plugins import get_method

    for name in ALL:
        explainer = get_method(name).explainer
        assert explainer.family in FAMILIES and explainer.summary and explainer.__doc__
        assert set(explainer.constraints) == set(explainer.defaults), name
        for parameter, spec in explainer.constraints.items():
            assert constraints.accepts(spec, explainer.defaults[parameter]), (name, parameter)
            assert not any(constraints.accepts(spec, bad) for bad in constraints.invalid_examples(spec)), (name, parameter)


def test_bad_parameters_and_layers_fail_clearly(keras_model, object_image):
    image, _, _ = object_image
    with pytest.raises(xaihub.InputError, match="power of two"):
        xaihub.explain(keras_model, image, methods=["xplique.sobol"], params={"xplique.sobol": {"nb_design": 24}})
    result = xaihub.explain(keras_model, image, methods=["xplique.gradcam"], params={"xplique.gradcam": {"layer": "nope"}},
                            progress=False)
    assert "no layer named 'nope'" in result.failure("xplique.gradcam").message


def test_missing_xplique_makes_only_its_methods_unavailable(uninstalled, keras_model, object_image):
    uninstalled("xplique")
    image, _, _ = object_image
    result = xaihub.explain(keras_model, image, methods=["xplique.saliency", "gradients.saliency"], progress=False)
    assert result.failure("xplique.saliency").error == "MethodUnavailableError"
    assert "--no-deps" in result.failure("xplique.saliency").message
    assert result.get("gradients.saliency") is not None
