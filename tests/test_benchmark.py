"""`xaihub.benchmark`: object masks through `explain_many`, the recommendation's rules, and the whole run through
the public API and the command line."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

import xaihub
from xaihub import InputError
from xaihub.cli import main
from xaihub.core.masks import object_masks
from xaihub.method_benchmark import BASELINES, CHOICES, CONTROLS, DEFAULT_FAMILIES, default_methods, default_metrics
from xaihub.registry.plugins import adapt
from xaihub.run.run_directory import current_records, read_index

from toy_models import region_model, tiles_image

IMAGE, REGION = tiles_image(tile=2)
MODEL = region_model(REGION)
POINTING = "quantus.pointing_game"


def shifted(k: int) -> np.ndarray:
    """The tiles image with its colours rolled: a different image with the same object."""
    image = IMAGE.copy()
    image[~REGION] = np.roll(IMAGE[~REGION], 7 * k, axis=0)
    return image


def test_masks_are_read_from_a_folder_by_stem_a_mapping_and_an_array(tmp_path):
    Image.fromarray(REGION.astype(np.uint8) * 255).save(tmp_path / "a.png")
    Image.fromarray(np.pad(np.ones((2, 2), np.uint8), 3)).save(tmp_path / "b.bmp")
    (tmp_path / "notes.txt").write_text("not a mask")
    masks = object_masks(tmp_path)
    assert sorted(masks) == ["a", "b"] and masks["a"].dtype == bool
    np.testing.assert_array_equal(masks["a"], REGION)
    assert masks["b"].sum() == 4
    assert list(object_masks({"x": REGION.astype(int)})) == ["x"]
    assert sorted(object_masks(np.stack([REGION, REGION]))) == ["0", "1"]


@pytest.mark.parametrize("masks, message", [
    ({"x": np.zeros((4, 4))}, "the mask of image 'x' is empty"),
    ({"x": np.ones((4, 4, 3))}, "must be an H×W array"),
    (np.ones((4, 4)), "an array of masks must be N×H×W"),
    ("no-such-folder", "is not a folder"),
    (3, "masks must be a folder"),
])
def test_unusable_masks_are_refused_naming_the_problem(masks, message):
    with pytest.raises(InputError, match=message):
        object_masks(masks)


def test_explain_many_gives_each_image_its_mask_and_skips_the_metric_where_there_is_none(tmp_path):
    pytest.importorskip("quantus")
    centre, corner = np.zeros_like(REGION), np.zeros_like(REGION)
    centre[6:10, 6:10] = True  # the centre prior's peak
    corner[:2, :2] = True
    images = {"centre": IMAGE, "corner": IMAGE, "unmasked": IMAGE}
    xaihub.explain_many(MODEL, images, ["baseline.centre"], targets=1, out=tmp_path / "run",
                        metrics=[POINTING, "deletion"], masks={"centre": centre, "corner": corner})
    lines = {line["image"]: line for line in current_records(read_index(tmp_path / "run"))}
    assert lines["centre"]["metrics"][POINTING] == 1.0
    assert lines["corner"]["metrics"][POINTING] == 0.0
    assert POINTING not in lines["unmasked"]["metrics"] and "deletion" in lines["unmasked"]["metrics"]
    with pytest.raises(InputError, match="masks"):  # other masks are another setup: a resume refuses them
        xaihub.explain_many(MODEL, images, ["baseline.centre"], targets=1, out=tmp_path / "run",
                            metrics=[POINTING, "deletion"], masks={"centre": corner})
    with pytest.raises(InputError, match="no requested metric takes a mask"):
        xaihub.explain_many(MODEL, images, ["baseline.centre"], out=tmp_path / "other", metrics=["deletion"],
                            masks={"centre": centre})


def test_default_methods_take_one_implementation_per_family_that_can_explain_the_model(torch_model):
    image = IMAGE
    on_torch = default_methods(adapt(torch_model), image)
    on_callable = default_methods(adapt(MODEL), image)
    families = {xaihub.registry.plugins.get_method(m).explainer.family for m in on_torch}
    assert len(families) == len(on_torch) - 1  # one per family; the two baselines share theirs
    assert families - {"baseline"} <= set(DEFAULT_FAMILIES) and len(families) > 6
    every = default_methods(adapt(torch_model), image, families="all")
    assert set(on_torch) < set(every) and every == default_methods(adapt(torch_model), image, families=None)
    assert set(BASELINES) <= set(on_torch) and set(BASELINES) <= set(on_callable)
    assert "captum.saliency" in on_torch and "lime.image" in on_torch  # the first of their families
    assert "captum.saliency" not in on_callable and "lime.image" in on_callable
    for method in on_callable:  # a plain function gets the first black-box implementation of each family
        family = xaihub.registry.plugins.get_method(method).explainer.family
        if family != "baseline":
            assert method == next(c for c in CHOICES[family] if c in on_callable)
    assert "baseline.edges" not in on_torch
    assert default_methods(adapt(MODEL), image, controls=True) == on_callable + list(CONTROLS)
    assert "sanity.randomization" in default_metrics(adapt(torch_model), masks=False)
    assert "sanity.randomization" not in default_metrics(adapt(MODEL), masks=False)


@pytest.fixture
def folder(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for k in range(3):
        Image.fromarray(shifted(k)).save(images / f"tiles{k}.png")
        Image.fromarray(REGION.astype(np.uint8) * 255).save(masks / f"tiles{k}.png")
    return images, masks


def test_benchmark_through_the_public_api_resumes_and_recommends(folder, tmp_path):
    images, masks = folder
    methods = ["native.lime", "baseline.noise", "baseline.centre"]
    metrics = ["deletion"] + ([POINTING] if _has_quantus() else [])  # blurring this toy's red region brightens it
    result = xaihub.benchmark(MODEL, images, out=tmp_path / "run", methods=methods, metrics=metrics, targets=1,
                              masks=masks if _has_quantus() else None, report=tmp_path / "bench.html",
                              params={"native.lime": {"num_samples": 60}})
    assert result.summary.done == 9 and result.summary.failed == 0
    assert result.recommendation.metric == "deletion" and result.recommendation.images == 3
    assert result.recommendation.recommended == ["native.lime"]  # it finds the region; the baselines cannot
    page = (tmp_path / "bench.html").read_text()
    assert "<h2>Recommendation</h2>" in page and "data-recommended='native.lime'" in page
    again = xaihub.benchmark(MODEL, images, out=tmp_path / "run", methods=methods, metrics=metrics, targets=1,
                             masks=masks if _has_quantus() else None, params={"native.lime": {"num_samples": 60}})
    assert again.summary.skipped == 9 and again.summary.done == 0
    said = str(again)  # a predict function has no weights: no randomisation check, so no "trust"
    assert "best supported: native.lime" in said and "trust native.lime" not in said
    assert "no randomisation check ran" in said


def test_benchmark_command_writes_the_report_and_prints_the_recommendation(folder, tmp_path, capsys, monkeypatch):
    images, _ = folder
    module = tmp_path / "bench_model.py"
    module.write_text("import numpy as np\nfrom toy_models import region_model, tiles_image\n"
                      "MODEL = region_model(tiles_image(tile=2)[1])\n")
    monkeypatch.chdir(tmp_path)
    code = main(["benchmark", "--model", "bench_model:MODEL", "--images", str(images), "--methods",
                 "native.kernelshap,baseline.noise", "--metrics", "deletion", "--out", "b.html"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "faithfulness (deletion)" in out and "report: b.html" in out and os.path.exists(tmp_path / "b.html")
    assert json.loads((tmp_path / "b-run" / "run.json").read_text())["metrics"] == ["deletion"]
    assert main(["benchmark", "--model", "bench_model:MODEL", "--images", str(images), "--masks",
                 str(tmp_path / "none")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def _has_quantus() -> bool:
    from xaihub.contracts.explainer import installed_version

    return installed_version("quantus") is not None


@pytest.mark.parametrize("controls", [True, False])
def test_benchmark_adds_the_image_only_control_when_it_computes_metrics_unless_told_not_to(
        folder, tmp_path, monkeypatch, controls):
    from xaihub import method_benchmark

    monkeypatch.setattr(method_benchmark, "CHOICES", {"lime": ("native.lime",)})
    images, _ = folder
    result = xaihub.benchmark(MODEL, images, out=tmp_path / "run", metrics=["deletion"], targets=1,
                              params={"native.lime": {"num_samples": 60}}, controls=controls)
    ran = set(result.statistics.methods)
    assert {"native.lime", *BASELINES} <= ran and ("baseline.edges" in ran) == controls
    no_metrics = xaihub.benchmark(MODEL, images, out=tmp_path / "plain", metrics=[], targets=1,
                                  params={"native.lime": {"num_samples": 60}})
    assert "baseline.edges" not in no_metrics.statistics.methods


def test_benchmark_explains_the_true_classes_and_reports_the_accuracy(folder, tmp_path):
    images, _ = folder
    predicted = int(MODEL(shifted(0)[None].astype(np.float32) / 255).argmax())
    true = {"tiles0": predicted, "tiles1": 1 - predicted, "tiles2": predicted}
    result = xaihub.benchmark(MODEL, images, out=tmp_path / "run", methods=["baseline.centre"], metrics=["deletion"],
                              targets="true_labels", true_labels=true)
    assert result.accuracy == pytest.approx(2 / 3) and result.summary.accuracy_images == 3
    assert {line["image"]: line["target"] for line in read_index(tmp_path / "run")} == true
    assert "accuracy (top-1 vs true label): 0.667 over 3 images" in str(result)


def test_the_plan_counts_the_passes_the_run_counts_and_the_summary_compares(tmp_path):
    torch = pytest.importorskip("torch")
    from xaihub.testing import zoo

    torch.manual_seed(0)
    images = [zoo.image(seed=k) for k in range(2)]
    planned = []
    result = xaihub.benchmark(zoo.default("torch").build(), images, out=tmp_path / "run", targets="top-2",
                              methods=["gradients.saliency", "native.lime", "baseline.centre"],
                              metrics=["deletion", "srg", "sanity.randomization"], reliability=False,
                              params={"native.lime": {"num_samples": 40}}, on_plan=planned.append)
    plan = result.plan
    assert planned == [plan] and not plan.unknown and plan.images == 2 and plan.targets == 2
    assert plan.forward_passes == plan.actual_passes > 0
    assert "forward passes counted in the run directory against" in str(result) and "× the estimate" in str(result)


def _fixed_pass(monkeypatch, seconds):
    from xaihub import method_benchmark

    monkeypatch.setattr(method_benchmark, "seconds_per_pass", lambda model, image: seconds)


def test_max_minutes_lowers_the_budget_to_fit_and_refuses_when_nothing_fits(folder, monkeypatch):
    images, _ = folder  # 3 images, 1 target, lime.image: 1000 samples by default
    _fixed_pass(monkeypatch, 0.001)  # seconds per pass
    asked = dict(methods=["lime.image"], metrics=[], targets=1, budget="thorough")
    assert xaihub.plan(MODEL, images, **asked).forward_passes == 3 * 4000
    fitted = xaihub.plan(MODEL, images, max_minutes=0.1, **asked)  # 6 s: 3000 passes (3 s) fit, 12000 do not
    assert fitted.budget == "default" and fitted.forward_passes == 3000
    assert "budget lowered to default to fit 0.1 min" in str(fitted)
    smallest = xaihub.plan(MODEL, images, max_minutes=0.0005, **asked)  # 0.03 s: 3 × 8 samples
    assert smallest.budget == "samples=8" and smallest.forward_passes == 24
    with pytest.raises(InputError, match=r"even at the smallest budget \(samples=8\).*cut images \(3 now\), "
                                         r"methods \(the costliest: lime.image"):
        xaihub.plan(MODEL, images, max_minutes=0.0001, **asked)
    with pytest.raises(InputError, match="max_minutes must be a positive number"):
        xaihub.plan(MODEL, images, max_minutes=0, **asked)
    with pytest.raises(InputError, match=r"plan got unknown argument\(s\) \['max_minute'\]"):
        xaihub.plan(MODEL, images, max_minute=1, **asked)


def test_past_its_time_budget_a_run_starts_no_method_and_a_second_call_resumes(folder, tmp_path, monkeypatch):
    from xaihub import method_benchmark

    images, _ = folder
    _fixed_pass(monkeypatch, 0.001)  # lime.image's 100 samples on 3 images and deletion: 0.42 s, over 0.3 s
    monkeypatch.setattr(method_benchmark, "OVERRUN", 0.0)  # the deadline is the start: nothing may start
    asked = dict(out=tmp_path / "run", methods=["lime.image", "baseline.noise"], metrics=["deletion"], targets=1,
                 reliability=False, max_minutes=0.005)
    stopped = xaihub.benchmark(MODEL, images, **asked)
    assert stopped.plan.budget == "samples=32" and stopped.summary.done == 0 and stopped.summary.failed == 6
    assert "Stopped: 6 method run(s) were not started because the run passed its time budget" in str(stopped)
    monkeypatch.setattr(method_benchmark, "OVERRUN", 1.2)
    _fixed_pass(monkeypatch, 1e-6)  # now 100 samples would fit: the run keeps the 32 it started with
    resumed = xaihub.benchmark(MODEL, images, **{**asked, "max_minutes": 5})
    assert resumed.summary.done == 6 and resumed.summary.failed == 0
    assert "resuming: lime.image, baseline.noise keep the parameters recorded" in str(resumed.plan)
    lines = [line for line in current_records(read_index(tmp_path / "run")) if line["method"] == "lime.image"]
    assert {line["forward_passes"] for line in lines} == {32}


def test_benchmark_command_prints_the_plan_and_with_plan_runs_nothing(folder, tmp_path, capsys, monkeypatch):
    images, _ = folder
    (tmp_path / "bench_model.py").write_text("from toy_models import region_model, tiles_image\n"
                                             "MODEL = region_model(tiles_image(tile=2)[1])\n")
    monkeypatch.chdir(tmp_path)
    args = ["benchmark", "--model", "bench_model:MODEL", "--images", str(images), "--methods",
            "lime.image,baseline.noise", "--metrics", "deletion", "--out", "b.html"]
    assert main([*args, "--plan"]) == 0
    out = capsys.readouterr().out
    assert "Plan: 2 methods × 3 images × 1 target(s)" in out and "lime.image" in out and "total:" in out
    assert not os.path.exists(tmp_path / "b-run") and not os.path.exists(tmp_path / "b.html")
    assert main([*args, "--samples", "8"]) == 0
    out = capsys.readouterr().out
    assert out.index("Plan: 2 methods") < out.index("explanations saved") and "× the estimate" in out
    # without --methods, --families picks the default methods' families
    assert main(["benchmark", "--model", "bench_model:MODEL", "--images", str(images), "--families", "lime,rise",
                 "--metrics", "deletion", "--out", "c.html", "--plan"]) == 0
    out = capsys.readouterr().out
    assert "lime.image" in out and "xplique.rise" in out and "native.kernelshap" not in out
    assert main(["benchmark", "--model", "bench_model:MODEL", "--images", str(images), "--families", "limes",
                 "--out", "c.html", "--plan"]) == 2
    assert "unknown family ['limes']" in capsys.readouterr().err


def test_the_plan_counts_the_reliability_checks_passes(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from xaihub import method_benchmark
    from xaihub.testing import zoo

    spent = []
    original = method_benchmark.reliability_of_run

    def counting(model, *args, **kwargs):
        spent.append(0)
        model.on_forward = lambda images: spent.__setitem__(-1, spent[-1] + images)  # measure() resets the count
        found = original(model, *args, **kwargs)
        model.on_forward = None
        return found

    monkeypatch.setattr(method_benchmark, "reliability_of_run", counting)
    methods = ["gradients.saliency", "baseline.noise", "baseline.centre", "baseline.edges"]
    result = xaihub.benchmark(zoo.default("torch").build(), [zoo.image()], out=tmp_path / "run", methods=methods,
                              metrics=["deletion", "sanity.randomization"], targets=1)
    planned = result.plan.extra["reliability check"]
    # 1 image × 4 maps × 1 draw × (a noisy image, shuffled maps) × 19 inner curve points, and the curve ends of the
    # image and its noisy copy (2 each) — but the black end is the same image for both, so it is scored once
    assert planned == 1 * 4 * 2 * 1 * 19 + 2 * 2 and len(spent) == 1 and planned - 1 <= spent[0] <= planned
    assert "reliability check" in str(result.plan)
