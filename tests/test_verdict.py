"""The verdict on known answers: Kendall's W by hand, aggregated ranks, metrics that are noise or constant found
unreliable, a constant map never ranked, controls and missing checks stated, signed and magnitude readings."""

from __future__ import annotations

import numpy as np
import pytest

import xaihub
from xaihub import Explanation, Metric
from xaihub.evaluation.aggregation import aggregate, kendalls_w
from xaihub.evaluation.criteria import criterion_of, present
from xaihub.evaluation.recommendation import MIN_TESTED, recommend
from xaihub.evaluation.reliability import THRESHOLD, check_reliability
from xaihub.registry.plugins import adapt
from xaihub.run.measure import check_metrics, measure, read_as
from xaihub.run.run_directory import current_records, read_index

from toy_models import region_model, tiles_image

IMAGE, REGION = tiles_image(tile=2)
MODEL = region_model(REGION)


def line(image, method, **metrics):
    return {"image": str(image), "method": method, "target": 1, "status": "ok", "metrics": metrics, "extras": {}}


# Kendall's W, checked against hand computation


def test_kendalls_w_is_one_for_identical_rankings_and_zero_for_opposite_pairs():
    same = kendalls_w(np.array([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]))
    assert same.w == pytest.approx(1.0) and same.p_value < 0.05
    opposite = kendalls_w(np.array([[1, 2, 3], [3, 2, 1]]))
    assert opposite.w == pytest.approx(0.0)


def test_kendalls_w_with_ties_matches_the_corrected_formula_by_hand():
    # m = 2 raters, n = 3 items; rater 2 ties items 2 and 3 (ranks 2.5, 2.5).
    # Totals R = (2, 4.5, 5.5), mean 4: S = 4 + 0.25 + 2.25 = 6.5; T = 2³ − 2 = 6;
    # W = 12·6.5 / (4·24 − 2·6) = 78 / 84.
    found = kendalls_w(np.array([[1, 2, 3], [1, 2.5, 2.5]]))
    assert found.w == pytest.approx(78 / 84)


# Aggregated ranks


def test_the_method_best_on_every_criterion_ranks_first_with_an_interval_and_the_highest_chance_of_being_best():
    rng = np.random.default_rng(0)
    values = {"srg": {}, "quantus.max_sensitivity": {}}
    for m, level in (("good", 0.9), ("mid", 0.5), ("bad", 0.1)):
        values["srg"][m] = {str(i): level + 0.05 * rng.normal() for i in range(8)}
        values["quantus.max_sensitivity"][m] = {str(i): 1 - level + 0.05 * rng.normal() for i in range(8)}
    found = aggregate(values, {"faithfulness": ["srg"], "robustness": ["quantus.max_sensitivity"]},
                      ["bad", "mid", "good"])
    assert found.methods == ["good", "mid", "bad"]
    best = found.overall["good"]
    assert best.rank == pytest.approx(1.0) and best.low <= best.rank <= best.high and best.p_best > 0.9
    assert found.agreement is not None and found.agreement.w == pytest.approx(1.0)


def test_a_method_seen_on_one_image_of_eight_is_not_compared():
    values = {"srg": {"a": {str(i): 0.5 for i in range(8)}, "b": {str(i): 0.4 for i in range(8)},
                      "rare": {"0": 0.99}}}
    found = aggregate(values, {"faithfulness": ["srg"]}, ["a", "b", "rare"])
    assert "rare" not in found.overall and found.uncovered == {"srg": ["rare"]}
    assert found.images["srg"] == 8


def test_criteria_name_the_values_that_answer_them():
    assert criterion_of("srg") == "faithfulness" and criterion_of("srg_morf") is None
    assert criterion_of("sanity.randomization.flagged") is None
    assert present(["quantus.pointing_game", "deletion", "srg"]) == {
        "faithfulness": ["srg", "deletion"], "localisation": ["quantus.pointing_game"]}


# The recommendation's gates


def controlled_lines(images=MIN_TESTED + 2):
    lines = []
    for k in range(images):
        wobble = 0.01 * (k % 3)
        lines += [line(k, "good", srg=0.5 + wobble, **{"sanity.randomization.flagged": 0.0}),
                  line(k, "fine", srg=0.3 + wobble, **{"sanity.randomization.flagged": 0.0}),
                  line(k, "edges", srg=0.6, **{"sanity.randomization.flagged": 1.0}),
                  line(k, "weak", srg=0.01 + wobble, **{"sanity.randomization.flagged": 0.0}),
                  line(k, "baseline.noise", srg=0.02 + wobble),
                  line(k, "baseline.centre", srg=0.0)]
    return lines


def test_methods_are_held_to_randomisation_and_to_the_best_control():
    found = recommend(controlled_lines(), ["baseline.noise", "baseline.centre"])
    assert found.recommended == ["good", "fine"] and found.tested
    assert list(found.fails_sanity) == ["edges"]
    assert found.below_baselines == ["weak"] and found.baseline == "baseline.noise"
    assert found.criteria == {"faithfulness": ["srg"]}
    text = str(found)
    assert "edges fails the randomisation check" in text and "weak does not beat the baseline.noise" in text
    # no reliability check was given: the verdict says so and does not say "trust"
    assert "trust good" not in text and "best supported: good" in text and "reliability" in text


def test_without_controls_or_a_randomisation_check_nothing_is_called_trusted():
    lines = [line(i, m, deletion=v) for i in range(3) for m, v in (("a", 0.1), ("b", 0.2))]
    found = recommend(lines, [])
    assert found.recommended == ["a", "b"] and not found.tested
    assert any("no control" in m for m in found.missing) and any("randomisation" in m for m in found.missing)
    assert "trust a" not in str(found) and "can be significant" in str(found)
    assert recommend([line(0, "a", score=1.0)], []) is None


def test_failed_degenerate_and_valueless_methods_are_named_not_dropped():
    lines = controlled_lines(3)
    lines += [{"image": str(i), "method": "broken", "target": 1, "status": "error", "error": "ModelError",
               "message": "the model refused"} for i in range(3)]
    lines += [{**line(i, "flat"), "extras": {"degenerate": "a constant map"}} for i in range(3)]
    lines += [{**line(i, "nan"), "extras": {"metric_failures": {"srg": "ValueError: NaN"}}} for i in range(3)]
    found = recommend(lines, ["baseline.noise", "baseline.centre"])
    assert "broken" in found.uncovered and "the model refused" in found.uncovered["broken"]
    assert found.degenerate == {"flat": "a constant map on 3 of 3 image(s)"}
    assert "srg: ValueError: NaN" in found.uncovered["nan"]
    assert not {"broken", "flat", "nan"} & set(found.recommended)
    text = str(found)
    assert "flat is not ranked: a constant map" in text and "broken is not compared" in text


def test_unreliable_metrics_do_not_vote():
    from xaihub.evaluation.reliability import Reliability

    lines = [line(k, m, srg=v, deletion=d) for k in range(3)
             for m, v, d in (("a", 0.5, 0.9), ("b", 0.1, 0.1), ("baseline.noise", 0.0, 0.5))]
    reliability = {"srg": Reliability("srg", 0.9, 0.9, 3, 3), "deletion": Reliability("deletion", 0.2, 0.9, 3, 3)}
    found = recommend(lines, ["baseline.noise"], reliability=reliability)
    assert found.criteria == {"faithfulness": ["srg"]} and "deletion" in found.unreliable
    assert found.recommended[0] == "a"


def test_a_faithfulness_metric_on_which_the_random_map_beats_most_methods_does_not_vote():
    # pixel deletion's artefact: the scattered random map gets the lowest deletion AUC, better than 3 of 4 methods
    deletion = {"good": 0.30, "fine": 0.35, "edges": 0.10, "weak": 0.40, "baseline.noise": 0.12,
                "baseline.centre": 0.5}
    lines = [{**entry, "metrics": {**entry["metrics"], "deletion": deletion[entry["method"]] + 0.001 * (k % 2)}}
             for k, entry in enumerate(controlled_lines())]
    found = recommend(lines, ["baseline.noise", "baseline.centre"])
    assert found.criteria["faithfulness"] == ["srg"]
    assert found.indiscriminate == {"deletion": "baseline.noise out-ranks 3 of 4 methods on it"}
    assert found.recommended == ["good", "fine"]
    assert "deletion is left out: it cannot tell a map from noise" in str(found)
    # alone, it still votes, and the verdict says what it lacks instead of calling anything trusted
    alone = recommend([{**entry, "metrics": {k: v for k, v in entry["metrics"].items() if k != "srg"}}
                       for entry in lines], ["baseline.noise", "baseline.centre"])
    assert alone.criteria["faithfulness"] == ["deletion"] and not alone.indiscriminate
    assert any("tells a map from noise" in m for m in alone.missing) and "trust " not in str(alone)


# Reliability on a model, with metrics whose answer is known


class NoiseMetric(Metric):
    name = "test.noise"
    summary = "a random number, whatever the map"
    lower_is_better = {"test.noise": False}

    def compute(self, model, explanation, *, seed):
        return {"test.noise": float(np.random.default_rng().random())}


class ConstantMetric(Metric):
    name = "test.constant"
    summary = "the same number for every map"
    lower_is_better = {"test.constant": False}

    def compute(self, model, explanation, *, seed):
        return {"test.constant": 0.5}


@pytest.fixture
def test_metrics():
    xaihub.register(NoiseMetric())
    xaihub.register(ConstantMetric())
    yield
    xaihub.unregister("test.noise")
    xaihub.unregister("test.constant")


def graded_maps(image_id: int) -> list[Explanation]:
    """Maps that find the model's region to different degrees: the region plus more and more noise."""
    rng = np.random.default_rng(image_id)
    image = np.roll(IMAGE, image_id, axis=1) if image_id else IMAGE
    maps = []
    for k, share in enumerate((0.0, 0.6, 1.2, 2.5, 5.0)):
        attribution = REGION.astype(np.float32) + share * rng.random(REGION.shape).astype(np.float32)
        maps.append(Explanation(target=1, attribution=attribution, method=f"m{k}", image=image))
    return maps


def test_a_noise_metric_and_a_constant_metric_are_unreliable_and_insertion_is_reliable(test_metrics):
    model = adapt(MODEL)
    requests = check_metrics(["test.noise", "test.constant", "insertion"])
    found = check_reliability(model, {str(i): graded_maps(0) for i in range(3)}, requests, draws=2)
    assert not found["test.noise"].reliable and found["test.noise"].resilience < THRESHOLD
    assert not found["test.constant"].reliable and found["test.constant"].reactivity == 0.0
    assert found["insertion"].reliable, str(found["insertion"])
    assert "shuffled maps" in found["test.constant"].reason


# How metrics read maps


def test_magnitude_families_are_read_by_magnitude_and_the_reading_is_recorded():
    signed = np.where(REGION, 1.0, 0.0) * np.where(np.indices(REGION.shape).sum(0) % 2, 1.0, -1.0)
    ig = Explanation(target=1, attribution=signed.astype(np.float32), method="captum.integrated_gradients",
                     image=IMAGE)
    read, reading = read_as(ig)
    if xaihub.registry.plugins.get_method("captum.integrated_gradients").explainer.family == "integrated_gradients":
        assert reading == "magnitude" and read.attribution.min() >= 0 and ig.attribution.min() < 0
    _, forced = read_as(ig, "signed")
    assert forced == "signed"
    results = measure(check_metrics({"deletion": {"reading": "signed"}}), adapt(MODEL), ig, 0)
    assert results[0].values and ig.extras["metric_readings"] == {"deletion": "signed"}
    with pytest.raises(xaihub.InputError, match="reading"):
        check_metrics({"deletion": {"reading": "sideways"}})


def test_a_constant_map_gets_no_metric_and_is_named_in_the_verdict(tmp_path, registered):
    class Flat(xaihub.Explainer):
        name = "test.flat"
        summary = "a constant map"

        def explain(self, model, image, targets, *, seed):
            return [Explanation(target=t, attribution=np.ones(image.shape[:2], np.float32)) for t in targets]

    flat = registered(Flat())
    images = {str(k): np.roll(IMAGE, k, axis=0) for k in range(3)}
    xaihub.explain_many(MODEL, images, [flat, "baseline.centre", "baseline.noise"], targets=1, out=tmp_path / "run",
                        metrics=["deletion", "srg"])
    lines = current_records(read_index(tmp_path / "run"))
    flat_lines = [x for x in lines if x["method"] == flat]
    assert flat_lines and all(x["extras"]["degenerate"].startswith("constant map") for x in flat_lines)
    assert not any(np.isfinite(v) for x in flat_lines for v in x["metrics"].values())
    found = recommend(lines, ["baseline.centre", "baseline.noise"])
    assert flat in found.degenerate and flat not in found.recommended
    assert flat not in (found.aggregation.overall if found.aggregation else {})


@pytest.mark.slow
def test_the_planted_shortcut_shows_the_cams_localisation_failure_in_the_verdict(tmp_path):
    """On the shortcut model the evidence is the watermark: saliency points at it, Grad-CAM (on a max-pooled
    head) does not, and the verdict's localisation criterion says so."""
    from xaihub import ground_truth

    model, preprocess, labels = ground_truth.train_model("shortcut", seed=0)
    task = ground_truth.task("shortcut", n=6, size=96, seed=5)
    images = {f"s{i}": image for i, image in enumerate(task.images)}
    masks = {f"s{i}": mask for i, mask in enumerate(task.masks)}
    result = xaihub.benchmark(model, images, out=tmp_path / "run", preprocess=preprocess, labels=labels,
                              methods=["gradients.saliency", "gradients.gradcam", "baseline.centre", "baseline.noise"],
                              metrics=["srg", "pointing_game", "relevance_mass"],
                              masks=masks, targets=dict(zip(images, task.labels.tolist())), reliability=False)
    found = result.recommendation
    localisation = found.aggregation.criterion_ranks["localisation"]
    assert localisation["gradients.saliency"] < localisation["gradients.gradcam"]
    assert found.pointing["gradients.saliency"] > found.pointing["gradients.gradcam"]
    assert "localisation" in str(found) and "points at the object most often" in str(found)


# Localisation with a tolerance


def test_the_pointing_game_counts_a_peak_within_the_tolerance_and_relevance_mass_is_the_share_on_the_object():
    mask = np.zeros((40, 40), bool)
    mask[10:20, 10:20] = True
    near = np.zeros((40, 40), np.float32)
    near[22, 15] = 1.0  # 3 px below the object
    far = np.zeros((40, 40), np.float32)
    far[35, 35] = 1.0
    model = adapt(MODEL)

    def score(attribution, **params):
        explanation = Explanation(target=1, attribution=attribution, method="", image=np.zeros((40, 40, 3), np.uint8))
        return xaihub.run.measure.compute({"pointing_game": {"mask": mask, **params}, "relevance_mass": {"mask": mask}},
                                          model, explanation)

    assert score(near)["pointing_game"] == 1.0 and score(near, tolerance=0)["pointing_game"] == 0.0
    assert score(far)["pointing_game"] == 0.0 and score(far)["relevance_mass"] == 0.0
    half = mask.astype(np.float32) + np.where(mask, 0, 100 / (1600 - 100)).astype(np.float32)
    assert score(half)["relevance_mass"] == pytest.approx(0.5)
    with pytest.raises(xaihub.InputError, match="empty"):
        check_metrics({"pointing_game": {"mask": np.zeros((40, 40), bool)}})
    flat = measure(check_metrics({"pointing_game": {"mask": mask}}), model,
                   Explanation(target=1, attribution=np.ones((40, 40), np.float32), image=IMAGE[:40, :40]), 0)
    assert np.isnan(flat[0].values["pointing_game"])  # a constant map is not a hit: it is not scored


def test_the_single_image_report_opens_with_the_verdict_scorecard(tmp_path):
    result = xaihub.explain(MODEL, IMAGE, methods=["native.lime", "baseline.noise", "baseline.centre"],
                            targets=[0, 1], metrics=["deletion"], params={"native.lime": {"num_samples": 60}})
    page = open(result.report(tmp_path / "r.html"), encoding="utf-8").read()
    verdict = page.split("<div class='verdict'")[1].split("</div>")[0]
    assert "<table class='scorecard'>" in verdict and "Verdict on this image" in verdict
    assert verdict.count("<tr><th>") == 1 + 3 and "control" in verdict  # the header row and a row per method
    assert page.index("class='verdict'") < page.index("data-method=")  # before the maps and tables


def test_the_tests_decide_only_when_they_can_and_superpixel_maps_pass_randomisation_by_mprt():
    from xaihub.evaluation.ranking import decidable

    assert not decidable(6, 10) and decidable(9, 10) and decidable(6, 1)  # 10 · 2⁻⁶ > 0.05; 10 · 2⁻⁹ < 0.05
    lines = []
    for k in range(9):
        lines += [line(k, "gradients", srg=0.5, **{"sanity.randomization.emprt": 0.4 + 0.01 * k,
                                                   "sanity.randomization.flagged": 1.0}),
                  line(k, "superpixels", srg=0.4, **{"sanity.randomization.emprt": 0.0,
                                                     "sanity.randomization.flagged": 0.0}),
                  line(k, "image-only", srg=0.45, **{"sanity.randomization.emprt": 0.0,
                                                     "sanity.randomization.flagged": 1.0}),
                  line(k, "baseline.edges", srg=0.1 + 0.01 * k, **{"sanity.randomization.emprt": 0.0,
                                                                    "sanity.randomization.flagged": 1.0})]
    found = recommend(lines, ["baseline.edges"])
    assert found.tested and list(found.fails_sanity) == ["image-only"]
    assert "MPRT flags it on 100%" in found.fails_sanity["image-only"]
    assert found.recommended == ["gradients", "superpixels"]
