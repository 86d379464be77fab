"""A run directory holds the results of one setup: a resume with another is refused, unless asked."""

import json

import numpy as np
import pytest
from adversarial.cases import IMAGES, LIME, assert_trustworthy, run

import xaihub
from xaihub import InputError
from xaihub.run.fingerprint import describe, model_fingerprint
from xaihub.run.run_directory import SETTINGS_NAME, read_index

from toy_models import channel_means, linear_model


def reversed_channels(batch):
    return channel_means(batch)[:, ::-1]


def scaled(batch):
    return batch / 128.0


SEGMENTS = np.repeat(np.arange(4), 64).reshape(16, 16)


@pytest.mark.parametrize("change, field", [
    ({"model": reversed_channels}, "model"),
    ({"preprocess": scaled}, "preprocess"),
    ({"metrics": ["deletion"]}, "metrics"),
    ({"output": "logits"}, "output"),
    ({"seed": 3}, "seed"),
    ({"targets": [0]}, "targets"),
    ({"params": {"native.lime": {"num_samples": 10, "segments": SEGMENTS[::-1].copy()}}}, "params of native.lime"),
])
def test_a_resume_with_another_setup_is_refused_naming_what_differs(tmp_path, change, field):
    base = {"params": {"native.lime": {"num_samples": 10, "segments": SEGMENTS}}}
    run(IMAGES[:2], tmp_path, **base)
    before = (tmp_path / "index.jsonl").read_bytes(), (tmp_path / SETTINGS_NAME).read_bytes()
    with pytest.raises(InputError, match=f"different {field} .*resume='overwrite'"):
        run(IMAGES[:2], tmp_path, **{**base, **change})
    assert ((tmp_path / "index.jsonl").read_bytes(), (tmp_path / SETTINGS_NAME).read_bytes()) == before
    assert run(IMAGES[:2], tmp_path, **base).skipped == 4  # the same setup still resumes


def test_arrays_are_recorded_by_content():
    recorded = describe({"segments": SEGMENTS})["segments"]["array"]
    assert recorded["shape"] == [16, 16] and recorded["dtype"] == "int64" and len(recorded["sha256"]) == 64
    assert describe(SEGMENTS) == describe(SEGMENTS.copy()) != describe(SEGMENTS.astype(np.int32))
    assert "<array" not in json.dumps(describe({"a": SEGMENTS, "nested": [SEGMENTS]}))
    assert describe(xaihub.Preprocess(scale=2)) == {"preprocess": xaihub.Preprocess(scale=2).describe()}
    assert describe(float("nan")) == describe(float("nan"))  # equal when the values are


def test_closures_need_a_model_id(tmp_path):
    run(IMAGES[:1], tmp_path, model=linear_model(3))
    assert run(IMAGES[:1], tmp_path, model=linear_model(2)).skipped == 2  # the same qualified name: not told apart
    run(IMAGES[:1], tmp_path / "ids", model=linear_model(3), model_id="three classes")
    with pytest.raises(InputError, match="different model"):
        run(IMAGES[:1], tmp_path / "ids", model=linear_model(2), model_id="two classes")
    with pytest.raises(InputError, match="model_id must be a non-empty string"):
        run(IMAGES[:1], tmp_path / "ids", model_id="")


def test_torch_models_are_told_apart_by_their_weights():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Flatten())
    before = model_fingerprint(net)
    assert model_fingerprint(net) == before and before["class"] == "torch.nn.modules.container.Sequential"
    with torch.no_grad():
        net[0].weight[0, 0, 0, 0] += 1e-3
    assert model_fingerprint(net) != before
    net.to(torch.bfloat16)
    assert model_fingerprint(net) != before  # dtypes numpy lacks are hashed as raw bytes


def test_overwrite_starts_over_and_deletes_only_what_xaihub_wrote(tmp_path):
    run(IMAGES[:3], tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "explanations" / "0" / "mine.png").write_bytes(b"mine")
    old_files = {line["file"] for line in read_index(tmp_path)}
    summary = run(IMAGES[:1], tmp_path, model=reversed_channels, resume="overwrite")
    assert (summary.done, summary.skipped) == (2, 0)
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "explanations" / "0" / "mine.png").exists()
    assert not (tmp_path / "explanations" / "2").exists() and len(read_index(tmp_path)) == 2
    assert all(not (tmp_path / file).exists() for file in old_files - {line["file"] for line in read_index(tmp_path)})
    settings = json.loads((tmp_path / SETTINGS_NAME).read_text())
    assert settings["model"] == {"callable": f"{__name__}.reversed_channels"} and "earlier" not in settings
    assert_trustworthy(tmp_path, ["0"])


def test_force_mixes_on_purpose_and_says_so(tmp_path):
    run(IMAGES[:1], tmp_path)
    summary = run(IMAGES[:2], tmp_path, model=reversed_channels, resume="force")
    assert (summary.done, summary.skipped) == (2, 2)
    settings = json.loads((tmp_path / SETTINGS_NAME).read_text())
    assert settings["model"]["callable"].endswith("reversed_channels")
    assert settings["earlier"][0]["model"] == {"callable": "toy_models.channel_means"}
    with pytest.raises(InputError, match="resume must be one of"):
        run(IMAGES[:1], tmp_path, resume="yes")


def test_forced_resumes_keep_each_earlier_setup_once(tmp_path):
    run(IMAGES[:1], tmp_path)
    for _ in range(3):  # back and forth between two models: two distinct earlier setups, not six
        run(IMAGES[:1], tmp_path, model=reversed_channels, resume="force")
        run(IMAGES[:1], tmp_path, resume="force")
    earlier = json.loads((tmp_path / SETTINGS_NAME).read_text())["earlier"]
    assert sorted(e["model"]["callable"].rsplit(".", 1)[-1] for e in earlier) == ["channel_means",
                                                                                  "reversed_channels"]
    assert all(set(e) == {"model"} for e in earlier)  # only the fields that differed


def test_an_unreadable_run_json_is_refused_unless_starting_over(tmp_path):
    run(IMAGES[:1], tmp_path)
    (tmp_path / SETTINGS_NAME).write_text("{not json")
    with pytest.raises(InputError, match="not a readable xaihub run description.*resume='overwrite'"):
        run(IMAGES[:1], tmp_path)
    assert run(IMAGES[:1], tmp_path, resume="overwrite").done == 2


def refuses_black_images(batch):
    """channel_means, except that a batch holding an all-black image raises (as deletion's last step is)."""
    from toy_models import channel_means

    if np.any(batch.max(axis=(1, 2, 3)) == 0):
        raise RuntimeError("black image")
    return channel_means(batch)


def test_a_failing_metric_is_recorded_beside_the_explanation_and_a_resume_counts_it_done(tmp_path):
    centre = {"methods": ["baseline.centre"], "params": {}, "model": refuses_black_images,
              "metrics": ["deletion", "degradation"]}
    summary = run(IMAGES[:2], tmp_path, **centre)
    assert (summary.done, summary.failed) == (4, 0)
    lines = read_index(tmp_path)
    assert [line["status"] for line in lines] == ["ok"] * 4
    for line in lines:
        assert "degradation" in line["metrics"] and "deletion" not in line["metrics"]  # the other metric is kept
        assert "black image" in line["extras"]["metric_failures"]["deletion"]
    assert_trustworthy(tmp_path, ["0", "1"], methods=("baseline.centre",))
    again = run(IMAGES[:2], tmp_path, **centre)
    assert (again.done, again.skipped, again.failed) == (0, 4, 0)
    statistics = xaihub.dataset_statistics(tmp_path).methods["baseline.centre"]
    assert (statistics.explanations, statistics.failures) == (4, 0) and "metrics.degradation" in statistics.quantities


def test_an_image_changed_under_the_same_id_is_explained_again(tmp_path):
    from PIL import Image

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    for k in range(2):
        Image.fromarray(IMAGES[k]).save(first / f"x{k}.png")
    Image.fromarray(IMAGES[0]).save(second / "x0.png")  # the same content under the same name
    Image.fromarray(IMAGES[5]).save(second / "x1.png")  # another image under an old name
    run(first, tmp_path / "run")
    summary = run(second, tmp_path / "run")
    assert (summary.done, summary.skipped) == (2, 2)  # x1 is explained again, x0 is not
    latest = [line for line in read_index(tmp_path / "run") if line["image"] == "x1"][-1]
    saved = xaihub.Explanation.load(tmp_path / "run" / latest["file"])
    np.testing.assert_array_equal(saved.image, IMAGES[5])
    assert_trustworthy(tmp_path / "run", ["x0", "x1"])
    arrays = run(IMAGES[:2], tmp_path / "arrays")
    changed = run(np.stack([IMAGES[0], IMAGES[3]]), tmp_path / "arrays")  # in-memory images: by their pixels
    assert (arrays.done, changed.done, changed.skipped) == (4, 2, 2)


def test_a_benchmark_reports_only_its_own_images_and_methods(tmp_path):
    methods = ["native.lime", "baseline.noise"]
    images = {f"a{k}": IMAGES[k] for k in range(4)}
    xaihub.benchmark(channel_means, images, out=tmp_path, methods=methods, metrics=["deletion"], params=LIME,
                     targets=0)
    fewer = {f"b{k}": IMAGES[k] for k in range(2)}
    result = xaihub.benchmark(channel_means, fewer, out=tmp_path, methods=["native.lime"], metrics=["deletion"],
                              params=LIME, targets=0, report=tmp_path / "fewer.html")
    assert result.summary.ids == ["b0", "b1"]
    page = (tmp_path / "fewer.html").read_text(encoding="utf-8")
    assert "2 image(s)" in page and "baseline.noise" not in page.split("<h2>")[1]  # the report's scope is the call's
    assert result.statistics.methods["native.lime"].images == 2
    assert result.recommendation.images == 2 and set(result.recommendation.means) == {"native.lime"}
    assert result.recommendation.controls == []  # baseline.noise ran on other images, in an earlier call
    assert set(result.statistics.methods) == {"native.lime"}


def test_a_generator_of_images_keeps_every_image_and_its_position(tmp_path):
    result = xaihub.benchmark(channel_means, (image for image in IMAGES[:3]), out=tmp_path, methods=["native.lime"],
                              metrics=["deletion"], params=LIME, targets=0)
    assert result.summary.ids == ["0", "1", "2"] and result.summary.done == 3
    np.testing.assert_array_equal(xaihub.Explanation.load(tmp_path / read_index(tmp_path)[0]["file"]).image, IMAGES[0])


def test_an_unreadable_first_image_fails_alone(tmp_path):
    (tmp_path / "a.png").write_bytes(b"not a png")
    result = xaihub.benchmark(channel_means, [str(tmp_path / "a.png"), IMAGES[1], IMAGES[2]], out=tmp_path / "run",
                              methods=["native.lime"], metrics=["deletion"], params=LIME, targets=0)
    assert (result.summary.done, result.summary.failed) == (2, 1)
    assert result.summary.failures[0]["image"] == "a"
    with pytest.raises(InputError, match="could read none of its 1 images; the first: 'a'"):
        xaihub.benchmark(channel_means, [str(tmp_path / "a.png")], out=tmp_path / "none", methods=["native.lime"])


def test_two_files_with_one_stem_are_refused_naming_both(tmp_path):
    from PIL import Image

    Image.fromarray(IMAGES[0]).save(tmp_path / "x.png")
    Image.fromarray(IMAGES[1]).save(tmp_path / "x.PNG")
    Image.fromarray(IMAGES[2]).save(tmp_path / "y.png")
    with pytest.raises(InputError, match="'x.PNG' and 'x.png'"):
        run(tmp_path, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_masks_that_match_no_image_are_refused_and_stray_ones_named(tmp_path):
    pytest.importorskip("quantus")
    mask = np.zeros((16, 16), bool)
    mask[4:8, 4:8] = True
    metrics = ["quantus.pointing_game"]
    with pytest.raises(InputError, match="none of the 2 masks matches an image id"):
        run(IMAGES[:2], tmp_path / "none", masks={"a": mask, "b": mask}, metrics=metrics)
    with pytest.warns(UserWarning, match="1 mask\\(s\\) match no image id and are not used: 'b'"):
        run(IMAGES[:2], tmp_path / "some", masks={"0": mask, "b": mask}, metrics=metrics)
    with pytest.warns(UserWarning, match="none of the 1 masks matches an image id"):  # ids known only afterwards
        run((image for image in IMAGES[:2]), tmp_path / "stream", masks={"a": mask}, metrics=metrics)


def test_changed_labels_are_another_setup(tmp_path):
    run(IMAGES[:1], tmp_path, labels=["r", "g", "b"])
    assert read_index(tmp_path)[0]["label"] in ("r", "g", "b")
    with pytest.raises(InputError, match="different labels"):
        run(IMAGES[:1], tmp_path, labels=["red", "green", "blue"])
