"""Quantus metrics through xaihub, on a model whose answer is known: class 1 is the brightness of a
white region on dark tiles, so a map of the region is perfect and its inverse is the worst map."""

import math

import numpy as np
import pytest

import xaihub
from xaihub import Explanation, lower_is_better

pytest.importorskip("quantus")
pytest.importorskip("torch")

from xaihub_quantus import repairs  # noqa: E402
from xaihub_quantus.metrics import METRICS, features_per_step, object_mask  # noqa: E402

from toy_models import region_model  # noqa: E402

TILE = 4


def white_region_image():
    """32×32: 8×8 dark tiles (10..90) and a white 8×8 region at rows 8..16, columns 20..28."""
    rng = np.random.default_rng(0)
    image = np.kron(rng.integers(10, 90, (8, 8, 3)), np.ones((TILE, TILE, 1))).astype(np.uint8)
    region = np.zeros(image.shape[:2], bool)
    region[8:16, 20:28] = True
    image[region] = 255
    return image, region


IMAGE, REGION = white_region_image()
MODEL = region_model(REGION)
PERFECT, INVERSE = REGION.astype(np.float32), (~REGION).astype(np.float32)


class Fixed(xaihub.Explainer):
    """Returns the map ``maps[target]`` whatever the image; counts its runs."""

    def __init__(self, name, maps):
        self.name, self.maps, self.runs = name, maps, 0

    def explain(self, model, image, targets, *, seed):
        self.runs += 1
        return [Explanation(target=t, attribution=self.maps[t]) for t in targets]


class Brightness(xaihub.Explainer):
    """The image's brightness: a map that follows every change of the image."""

    name = "test.brightness"

    def explain(self, model, image, targets, *, seed):
        return [Explanation(target=t, attribution=image.mean(axis=2)) for t in targets]


@pytest.fixture
def fixed(registered):
    def make(name, maps):
        explainer = Fixed(name, maps)
        registered(explainer)
        return explainer

    return make


@pytest.fixture(scope="module")
def perfect_and_inverse():
    """Every Quantus metric (localisation ones with the region as mask) and deletion on the perfect and the
    inverse map; returns ``{metric value: (perfect, inverse)}`` and the costs."""
    names = [m.name for m in METRICS]
    for explainer in (Fixed("test.perfect", {0: INVERSE, 1: PERFECT}), Fixed("test.inverse", {0: PERFECT, 1: INVERSE})):
        xaihub.register(explainer)
    try:
        metrics = {name: {"mask": REGION} if name.endswith(("pointing_game", "mass_accuracy")) else {}
                   for name in names}
        result = xaihub.explain(MODEL, IMAGE, methods=["test.perfect", "test.inverse"], targets=1,
                                metrics={**metrics, "deletion": {}})
    finally:
        xaihub.unregister("test.perfect")
        xaihub.unregister("test.inverse")
    assert result.ok, result.failures
    perfect, inverse = result.get("test.perfect"), result.get("test.inverse")
    return {name: (perfect.metrics[name], inverse.metrics[name]) for name in [*names, "deletion"]}, perfect


ORDER_METRICS = ["quantus.faithfulness_correlation", "quantus.road", "quantus.irof", "quantus.pixel_flipping",
                 "quantus.region_perturbation", "quantus.sparseness", "quantus.complexity",
                 "quantus.pointing_game", "quantus.relevance_mass_accuracy"]


@pytest.mark.parametrize("name", ORDER_METRICS)
def test_each_metric_prefers_the_perfect_map_as_deletion_does(perfect_and_inverse, name):
    values, _ = perfect_and_inverse
    perfect, inverse = values[name]
    assert np.isfinite([perfect, inverse]).all()
    assert values["deletion"][0] < values["deletion"][1]
    better = perfect < inverse if lower_is_better(name) else perfect > inverse
    assert better, (name, perfect, inverse)


def test_known_answers(perfect_and_inverse):
    values, _ = perfect_and_inverse
    region = REGION.sum()
    # the target stays on top only while the white region is intact: the perfect map removes it at 10%
    # (102 of 1024 pixels), the inverse map never (the region is its last 6.25%)
    assert values["quantus.road"] == (0.0, 1.0)
    assert values["quantus.sparseness"] == pytest.approx((1 - region / REGION.size, region / REGION.size), abs=1e-4)
    assert values["quantus.complexity"] == pytest.approx((math.log(region), math.log(REGION.size - region)), abs=1e-4)
    assert values["quantus.pointing_game"] == (1.0, 0.0)
    assert values["quantus.relevance_mass_accuracy"] == pytest.approx((1.0, 0.0))
    assert values["quantus.faithfulness_correlation"][0] > 0.3 > -0.3 > values["quantus.faithfulness_correlation"][1]


def test_forward_passes_are_the_metrics_own(perfect_and_inverse):
    _, perfect = perfect_and_inverse
    costs = {name: cost["forward_passes"] for name, cost in perfect.extras["metric_costs"].items()}
    assert perfect.forward_passes == 0  # Fixed never calls the model
    assert costs["quantus.sparseness"] == costs["quantus.complexity"] == costs["quantus.pointing_game"] == 0
    assert costs["quantus.road"] == 9  # one pass per percentage
    assert costs["quantus.pixel_flipping"] == 3 * REGION.size // features_per_step(REGION.size, 20)
    assert costs["quantus.region_perturbation"] == 1 + (32 // 8) ** 2  # the image, then every 8×8 patch
    assert costs["quantus.faithfulness_correlation"] == 101


def test_localisation_takes_a_box(fixed):
    method = fixed("test.half", {1: np.where(np.arange(32) < 24, PERFECT, 0)})  # the region's left half
    result = xaihub.explain(MODEL, IMAGE, methods=[method.name], targets=1,
                            metrics={"quantus.relevance_mass_accuracy": {"mask": (8, 20, 16, 28)}})
    assert result.get(method.name).metrics["quantus.relevance_mass_accuracy"] == pytest.approx(1.0)
    result = xaihub.explain(MODEL, IMAGE, methods=[method.name], targets=1,
                            metrics={"quantus.relevance_mass_accuracy": {"mask": (8, 20, 16, 24)}})
    assert result.get(method.name).metrics["quantus.relevance_mass_accuracy"] == pytest.approx(1.0)
    result = xaihub.explain(MODEL, IMAGE, methods=[method.name], targets=1,
                            metrics={"quantus.pointing_game": {"mask": (0, 0, 8, 8)}})
    assert result.get(method.name).metrics["quantus.pointing_game"] == 0.0


def test_relevance_mass_shares_out_the_positive_attribution(fixed):
    signed = fixed("test.signed", {1: np.where(REGION, 1.0, -1.0)})  # Quantus' signed sums: 64 / (64 - 960)
    negative = fixed("test.negative", {1: -PERFECT})
    result = xaihub.explain(MODEL, IMAGE, methods=[signed.name, negative.name], targets=1,
                            metrics={"quantus.relevance_mass_accuracy": {"mask": REGION}})
    assert result.ok, result.failures
    assert result.get(signed.name).metrics["quantus.relevance_mass_accuracy"] == pytest.approx(1.0)
    assert math.isnan(result.get(negative.name).metrics["quantus.relevance_mass_accuracy"])


@pytest.mark.parametrize("mask, message", [
    (None, "mask must be an H×W boolean array or a box"),
    (np.zeros((32, 32), bool), "mask is empty"),
    ((8, 20, 4, 28), "top < bottom"),
    (REGION.astype(int), "mask must be an H×W boolean array"),
])
def test_a_bad_mask_is_refused_upfront(mask, message):
    with pytest.raises(xaihub.InputError, match=message):
        xaihub.explain(MODEL, IMAGE, metrics={"quantus.pointing_game": {"mask": mask}}, methods=["native.lime"])


def test_a_mask_of_another_size_is_a_metric_failure_beside_the_explanation(fixed):
    method = fixed("test.perfect", {1: PERFECT})
    result = xaihub.explain(MODEL, IMAGE, methods=[method.name], targets=1,
                            metrics={"quantus.pointing_game": {"mask": (0, 0, 40, 40)}})
    assert not result.failures  # a metric's failure is kept beside the explanation, which stays
    [explanation] = result.explanations
    assert "box (0, 0, 40, 40) reaches outside the 32×32 image" in explanation.extras["metric_failures"][
        "quantus.pointing_game"]
    assert object_mask((1, 2, 3, 4), (5, 5)).sum() == 4


def test_reexplaining_metrics_rerun_the_method_a_bounded_number_of_times(fixed, registered):
    same = fixed("test.same", {0: PERFECT, 1: PERFECT})
    opposite = fixed("test.opposite", {0: INVERSE, 1: PERFECT})
    brightness = registered(Brightness())
    result = xaihub.explain(MODEL, IMAGE, methods=[same.name, opposite.name, brightness], targets=1,
                            metrics={"quantus.max_sensitivity": {"nr_samples": 3}, "quantus.random_logit": {}})
    assert result.ok, result.failures
    assert same.runs == opposite.runs == 1 + 3 + 1  # the method, 3 noisy copies, one other class
    metrics = {name: result.get(name).metrics for name in (same.name, opposite.name, brightness)}
    # a map that ignores the image has no sensitivity; the brightness map follows the noise
    assert metrics[same.name]["quantus.max_sensitivity"] == 0.0
    assert metrics[brightness]["quantus.max_sensitivity"] > 0.05
    # the same map for every class is as bad as it gets; the opposite map for the other class is not
    assert metrics[same.name]["quantus.random_logit"] == pytest.approx(1.0)
    assert metrics[opposite.name]["quantus.random_logit"] < 0.5


def test_quantus_is_silent_and_keeps_numpys_global_random_state(fixed, capsys):
    method = fixed("test.perfect", {1: PERFECT})
    np.random.seed(7)
    expected = np.random.random()
    np.random.seed(7)
    xaihub.explain(MODEL, IMAGE, methods=[method.name], targets=1,
                   metrics=["quantus.faithfulness_correlation", "quantus.random_logit", "quantus.region_perturbation"])
    assert np.random.random() == expected
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_same_seed_same_values(fixed):
    method = fixed("test.perfect", {1: PERFECT + 0.01 * np.random.default_rng(1).random(PERFECT.shape)})
    runs = [xaihub.explain(MODEL, IMAGE, methods=[method.name], targets=1, seed=seed,
                           metrics={"quantus.faithfulness_correlation": {"nr_runs": 20}})
            .get(method.name).metrics["quantus.faithfulness_correlation"] for seed in (0, 0, 1)]
    assert runs[0] == runs[1] != runs[2]


def test_road_imputation_imputes_exactly_the_pixels_of_channel_value_indices():
    arr = np.random.default_rng(0).random((3, 6, 6)).astype(np.float32)
    pixels = np.array([7, 8, 14])
    indices = np.concatenate([pixels, pixels + 36, pixels + 72])  # the 3 channels of each pixel
    out = repairs.road_imputation(arr=arr, indices=indices, noise=0.0)
    changed = np.nonzero((out != arr).any(axis=0).ravel())[0]
    assert set(changed) <= set(pixels) and len(changed) > 0
    # the imputed value is the weighted mean of the neighbours (noise 0): within their range
    flat, original = out.reshape(3, -1), arr.reshape(3, -1)
    assert np.all(flat[:, pixels] >= original.min()) and np.all(flat[:, pixels] <= original.max())


def test_features_per_step_divides_the_pixels_and_gives_about_the_steps():
    for pixels, steps in [(1024, 20), (224 * 224, 20), (97 * 89, 10)]:
        step = features_per_step(pixels, steps)
        assert pixels % step == 0
        assert steps / 2.5 <= 3 * pixels / step <= steps * 2.5 or step in (1, pixels)


def test_a_torch_and_a_keras_model_are_evaluated_through_their_adapters(registered):
    """Untrained small networks: what is checked is the route, gradients re-run for max-sensitivity."""
    pytest.importorskip("xaihub_gradients")
    import torch

    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                                  torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3))
    metrics = {"quantus.pixel_flipping": {}, "quantus.max_sensitivity": {"nr_samples": 2}}
    result = xaihub.explain(network, IMAGE, methods=["gradients.saliency"], targets=0, metrics=metrics)
    assert result.ok, result.failures
    explanation = result.get("gradients.saliency")
    assert np.isfinite(list(explanation.metrics.values())).all()
    assert explanation.forward_passes == 1
    assert explanation.extras["metric_costs"]["quantus.max_sensitivity"]["forward_passes"] >= 2  # 2 re-runs
    assert network.training and all(p.grad is None for p in network.parameters())  # as it was given

    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
    result = xaihub.explain(model, IMAGE, methods=["gradients.saliency"], targets=0, metrics=metrics)
    assert result.ok, result.failures
    assert np.isfinite(list(result.get("gradients.saliency").metrics.values())).all()


# -- issue 28: the same values, cheaper -------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 7), (20, 24), (33, 17)])
def test_road_imputation_equals_quantus_own(shape):
    from quantus.functions.perturb_func import noisy_linear_imputation

    rng = np.random.default_rng(sum(shape))
    arr = rng.random((3, *shape)).astype(np.float32)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    blob = -((rows - shape[0] / 3) ** 2 + (cols - shape[1] / 2) ** 2).ravel() + rng.normal(0, 3, rows.size)
    for percentage in (10, 50, 90, 99):
        pixels = np.sort(np.argsort(-blob)[: int(rows.size * percentage / 100)])
        ours = repairs.noisy_linear_imputation(arr, pixels, noise=0.0)
        theirs = noisy_linear_imputation(arr=arr, indices=pixels, noise=0.0)
        assert np.abs(ours - theirs).max() <= 1e-6 and (ours != arr).any()
        np.random.seed(7)
        ours = repairs.noisy_linear_imputation(arr, pixels, noise=0.05)
        np.random.seed(7)
        theirs = noisy_linear_imputation(arr=arr, indices=pixels, noise=0.05)
        assert np.abs(ours - theirs).max() <= 1e-6  # the same noise draws, in the same order


def test_grid_order_is_a_permutation_with_separators_last():
    order = repairs.grid_order(40, 30)
    assert sorted(order) == list(range(40 * 30))
    assert order.reshape(40, 30)[20].min() == 40 * 30 - 30  # the first separator (row 20) comes last


def _cnn_adapter():
    from xaihub.core.cache import RunCache
    from xaihub.models import ModelOptions
    from xaihub.registry.plugins import adapt
    from xaihub.testing import zoo

    architecture = zoo.get("torch.cnn")
    model = adapt(architecture.factory(), ModelOptions(preprocess=architecture.preprocess))
    model.cache = RunCache(lambda: model.forward_passes)
    return model, zoo.image(40, 40)


def test_irof_in_batches_equals_quantus_one_image_at_a_time():
    from xaihub_quantus.metrics import Irof, QuantusMetric

    model, image = _cnn_adapter()
    model.predict(image[None])
    explanation = Explanation(target=1, attribution=np.random.default_rng(0).normal(size=(40, 40)), image=image)
    metric = Irof()
    model.reset_count()
    batched = metric.compute(model, explanation, seed=0, **metric.defaults)[metric.name]
    passes = model.forward_passes
    model.reset_count()
    one_by_one = QuantusMetric.compute(metric, model, explanation, seed=0, **metric.defaults)[metric.name]
    assert batched == pytest.approx(one_by_one, abs=1e-6)
    assert passes == model.forward_passes > 10  # the image and one image per segment, as before


def test_road_on_a_cnn_equals_quantus_own_road(monkeypatch):
    """Batched, with the fast imputation, against Quantus' ROAD calling the model per percentage with its own
    imputation (noise 0, so the comparison is exact)."""
    from quantus.functions.perturb_func import noisy_linear_imputation

    from xaihub_quantus.metrics import QuantusMetric, Road

    model, image = _cnn_adapter()
    target = int(model.predict(image[None])[0].argmax())
    metric = Road()
    params = {**metric.defaults, "noise": 0.0, "percentages": (5, 20, 40, 60, 80, 95)}
    maps = [np.random.default_rng(seed).normal(size=(40, 40)) for seed in range(2)]
    scores, passes = [], []
    for attribution in maps:
        model.reset_count()
        scores.append(metric.compute(model, Explanation(target=target, attribution=attribution, image=image),
                                     seed=0, **params)[metric.name])
        passes.append(model.forward_passes)
    monkeypatch.setattr(repairs, "noisy_linear_imputation",
                        lambda arr, pixels, noise: noisy_linear_imputation(arr=arr, indices=pixels, noise=noise))
    for attribution, score, count in zip(maps, scores, passes):
        model.reset_count()
        explanation = Explanation(target=target, attribution=attribution, image=image)
        assert QuantusMetric.compute(metric, model, explanation, seed=0, **params)[metric.name] == score
        assert model.forward_passes == count == 6
