"""Faithfulness metrics on a model whose answer is known, agreement and summaries."""

import numpy as np
import pytest

import xaihub
from xaihub import Comparison, Explanation, InputError
from xaihub.metrics import (
    agreement,
    blurred,
    degradation,
    deletion_auc,
    insertion_auc,
    spearman,
    summarise,
)
from xaihub.registry.plugins import adapt
from xaihub.run.measure import check_metrics

IMAGE = np.zeros((8, 8, 3), np.uint8)
IMAGE[:2, :2, 0] = 255
REGION = np.zeros((8, 8), np.float32)
REGION[:2, :2] = 1.0


def region_model(batch):
    """Class 0: mean red of the top-left 2×2 region (in [0, 1]); class 1: its complement."""
    score = batch[:, :2, :2, 0].mean(axis=(1, 2))
    return np.stack([score, 1 - score], axis=1)


@pytest.fixture
def model():
    return adapt(region_model)


# Removing one pixel per step (64 steps), a perfect map removes the 4 region pixels first:
# curve 1, .75, .5, .25, 0, 0, ... -> area (.875 + .625 + .375 + .125) / 64 = 2/64.
# The reversed map removes them last: 60 steps at 1, then the same ramp -> 62/64.
@pytest.mark.parametrize("steps, perfect, reversed_", [(64, 2 / 64, 62 / 64), (4, 0.125, 0.875)])
def test_deletion_auc_by_hand(model, steps, perfect, reversed_):
    assert deletion_auc(model, IMAGE, REGION, 0, steps) == pytest.approx(perfect)
    assert deletion_auc(model, IMAGE, -REGION, 0, steps) == pytest.approx(reversed_)


def test_insertion_auc_by_hand_and_blurred_default(model):
    zeros = np.zeros_like(IMAGE)
    assert insertion_auc(model, IMAGE, REGION, 0, 64, baseline=zeros) == pytest.approx(62 / 64)
    assert insertion_auc(model, IMAGE, -REGION, 0, 64, baseline=zeros) == pytest.approx(2 / 64)
    assert insertion_auc(model, IMAGE, REGION, 0, 8) == insertion_auc(model, IMAGE, REGION, 0, 8, baseline=blurred(IMAGE))
    assert 0 < blurred(IMAGE)[:2, :2, 0].mean() < 255  # the blur spreads the region


def test_degradation_keeps_top_pixels_and_noises_the_rest(model):
    drop, kept = degradation(model, IMAGE, REGION, 0, seed=3)
    assert drop == pytest.approx(0.0) and kept
    drop, kept = degradation(model, IMAGE, -REGION, 0, seed=3)
    noise = np.random.default_rng(3).integers(0, 2, (8, 8))  # black (0) or white (1) per pixel
    assert drop == pytest.approx(1 - noise[:2, :2].mean())
    assert kept == (noise[:2, :2].mean() > 0.5)


class Fixed(xaihub.Explainer):
    """Returns a given map and spends three forward passes, like a real method would."""

    def __init__(self, name, attribution):
        self.name, self.attribution = name, attribution

    def explain(self, model, image, targets, *, seed):
        model.predict(np.repeat(image[None], 3, axis=0))
        return [Explanation(target=t, attribution=self.attribution) for t in targets]


@pytest.fixture
def fixed(registered):
    return lambda name, attribution: registered(Fixed(name, attribution))


def test_explain_stores_metrics_without_charging_their_forward_passes(fixed):
    good, bad = fixed("test.good", REGION), fixed("test.bad", -REGION)
    result = xaihub.explain(region_model, IMAGE, methods=[good, bad], targets=0,
                            metrics=["deletion", "insertion", "degradation"])
    perfect, reversed_ = result.get(good), result.get(bad)
    # 20 steps over 64 pixels remove 3 then 6 pixels: curve 1, .25, 0, ... -> (.625 + .125) / 20
    assert perfect.metrics["deletion"] == pytest.approx(0.0375)
    assert perfect.metrics["deletion"] < reversed_.metrics["deletion"]
    assert perfect.metrics["insertion"] > reversed_.metrics["insertion"]
    assert perfect.metrics["degradation"] < reversed_.metrics["degradation"]
    assert set(perfect.metrics) == {"deletion", "insertion", "degradation", "degradation_top1"}
    assert perfect.forward_passes == result.forward_passes[good] == 3
    # each metric's own passes: 21 points on each curve, the image and its degraded copy; a curve's endpoints
    # (the image, black, the blurred image) are scored once per image: insertion finds the image's score that
    # deletion computed, and the second method's curves find all of them
    passes = {method: {name: cost["forward_passes"] for name, cost in result.get(method).extras["metric_costs"].items()}
              for method in (good, bad)}
    assert passes == {good: {"deletion": 21, "insertion": 20, "degradation": 2},
                      bad: {"deletion": 19, "insertion": 19, "degradation": 2}}


def test_unknown_metric_is_an_input_error():
    with pytest.raises(InputError, match="unknown metric.*'auc'"):
        xaihub.explain(region_model, IMAGE, metrics=["deletion", "auc"], methods=["native.lime"])
    assert check_metrics("insertion") == {"insertion": {}}
    assert check_metrics(["deletion", "insertion", "deletion"]) == {"deletion": {}, "insertion": {}}


def test_builtin_metric_parameters(fixed):
    good = fixed("test.good", REGION)
    result = xaihub.explain(region_model, IMAGE, methods=[good], targets=0,
                            metrics={"deletion": {"steps": 64}, "degradation": {"keep_fraction": 1.0}})
    assert result.get(good).metrics["deletion"] == pytest.approx(2 / 64)  # as computed by hand above
    assert result.get(good).metrics["degradation"] == pytest.approx(0.0)  # every pixel kept
    assert result.get(good).extras["metric_costs"]["deletion"]["forward_passes"] == 65


@pytest.mark.parametrize("metrics, message", [
    ({"deletion": {"steps": 0}}, "steps must be a positive int"),
    ({"insertion": {"sigma": -1}}, "sigma must be a positive"),
    ({"degradation": {"keep_fraction": 1.5}}, r"keep_fraction must lie in \(0, 1\]"),
    ({"deletion": {"step": 5}}, r"unknown parameter\(s\) \['step'\]; it accepts \['reading', 'steps'\]"),
    (["deletion", {"name": "insertion"}], "list of names or a"),
])
def test_bad_metric_parameters_are_refused_before_any_method_runs(registered, metrics, message):
    calls = []

    class Spy(xaihub.Explainer):
        name = "test.spy"

        def explain(self, model, image, targets, *, seed):
            calls.append(1)
            return [Explanation(target=t, attribution=REGION) for t in targets]

    spy = registered(Spy())
    with pytest.raises(InputError, match=message):
        xaihub.explain(region_model, IMAGE, methods=[spy], metrics=metrics)
    assert calls == []


def comparison_of(maps: dict[str, np.ndarray], targets=(0, 1)) -> Comparison:
    explanations = [Explanation(target=t, attribution=m if t == 0 else m.T, method=name, image=IMAGE)
                    for name, m in maps.items() for t in targets]
    return Comparison(image=IMAGE, probabilities=np.array([0.7, 0.3]), targets=list(targets), labels={},
                      methods=list(maps) + ["test.failed"], explanations=explanations)


def test_agreement_identical_is_one_reversed_is_minus_one():
    ramp = np.arange(64, dtype=np.float32).reshape(8, 8)
    matrix, methods = comparison_of({"a": ramp, "b": ramp * 3, "c": -ramp}).agreement()
    assert methods == ["a", "b", "c"]  # the method with no explanation is left out
    np.testing.assert_allclose(matrix, [[1, 1, -1], [1, 1, -1], [-1, -1, 1]])


def test_agreement_of_a_constant_map_is_undefined():
    ramp = np.arange(64, dtype=np.float32).reshape(8, 8)
    assert np.isnan(spearman(ramp, np.zeros_like(ramp)))
    assert np.isnan(agreement(comparison_of({"a": ramp, "flat": np.ones_like(ramp)})).matrix[0, 1])


def test_summarise_gives_mean_and_std_per_method_and_metric():
    first, second = comparison_of({"a": REGION}, targets=(0,)), comparison_of({"a": REGION}, targets=(0,))
    first.explanations[0].metrics = {"deletion": 0.2}
    second.explanations[0].metrics = {"deletion": 0.4, "insertion": 0.9}
    stats = summarise([first, second])
    assert stats["a"]["deletion"].mean == pytest.approx(0.3)
    assert stats["a"]["deletion"].std == pytest.approx(0.1)
    assert (stats["a"]["deletion"].count, stats["a"]["insertion"].count) == (2, 1)
    assert str(stats["a"]["deletion"]) == "0.300 ± 0.100 (n=2)"


def test_a_failing_metric_is_recorded_and_the_explanation_kept(fixed):
    def refuses_black_images(batch):
        if np.any(batch.max(axis=(1, 2, 3)) == 0):
            raise RuntimeError("black image")
        return region_model(batch)

    good = fixed("test.good", REGION)
    result = xaihub.explain(refuses_black_images, IMAGE, methods=[good], targets=0,
                            metrics=["deletion", "degradation"])
    explanation = result.get(good)
    assert set(explanation.metrics) == {"degradation", "degradation_top1"}  # the other metric still ran
    assert result.failures == []  # the explanation is kept: its metric's failure is recorded beside it
    reason = explanation.extras["metric_failures"]["deletion"]
    assert reason.startswith("ModelError: ") and "the model raised RuntimeError" in reason and "black image" in reason
    assert any("metric deletion failed" in note and "black image" in note for note in result.notes)
    assert "metric deletion FAILED: ModelError" in result.summary()
