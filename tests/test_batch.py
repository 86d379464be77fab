import json
import os

import numpy as np
import pytest

import xaihub
from xaihub import Explanation, InputError
from xaihub.run.run_directory import RECORD_FIELDS, read_index

from toy_models import channel_means, refuses_dark_images

LIME = {"native.lime": {"num_samples": 20}}
MEAN_FILL = {"native.lime": {"num_samples": 20, "fill": "mean"}}  # perturbed images never go dark
IMAGES = np.random.default_rng(0).integers(30, 256, (5, 16, 16, 3), dtype=np.uint8)


def run(images, out, model=channel_means, **kwargs):
    kwargs.setdefault("methods", ["native.lime"])
    kwargs.setdefault("params", LIME)
    return xaihub.explain_many(model, images, targets="top-2", out=out, **kwargs)


def ok_lines(out):
    return {(r["image"], r["method"], r["target"]): r for r in read_index(out) if r["status"] == "ok"}


def test_each_explanation_is_saved_and_indexed(tmp_path):
    summary = run(IMAGES, tmp_path, labels=["r", "g", "b"])
    assert (summary.images, summary.done, summary.skipped, summary.failed) == (5, 10, 0, 0)
    lines = read_index(tmp_path)
    assert len(lines) == 10 and all(tuple(line) == RECORD_FIELDS for line in lines)
    for line in lines:
        loaded = Explanation.load(tmp_path / line["file"])
        image = IMAGES[int(line["image"])]
        np.testing.assert_array_equal(loaded.image, image)
        assert loaded.target == line["target"] and line["target"] in line["targets"]
        assert line["label"] == "rgb"[line["target"]] and line["forward_passes"] == 20
        assert line["score"] == pytest.approx(image[..., line["target"]].mean() / 255)
        assert line["extras"]["n_segments"] >= 1
    expected = xaihub.explain(channel_means, IMAGES[3], targets="top-2", params=LIME, methods=["native.lime"])
    for explanation in expected:
        saved = Explanation.load(tmp_path / ok_lines(tmp_path)[("3", "native.lime", explanation.target)]["file"])
        np.testing.assert_array_equal(saved.attribution, explanation.attribution)
    assert summary.methods["native.lime"].images == 5 and summary.methods["native.lime"].images_per_second > 0


def test_a_folder_a_list_of_paths_and_a_mapping_give_ids(tmp_path):
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    for name, image in zip(["b.png", "a.jpg", "c.tiff"], IMAGES):
        Image.fromarray(image).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    run(folder, tmp_path / "from-folder")
    assert sorted({r["image"] for r in read_index(tmp_path / "from-folder")}) == ["a", "b", "c"]
    run([folder / "b.png", IMAGES[1]], tmp_path / "from-list")
    assert sorted({r["image"] for r in read_index(tmp_path / "from-list")}) == ["1", "b"]
    run({"cat": IMAGES[0], "dog/1": IMAGES[1]}, tmp_path / "from-map")
    lines = read_index(tmp_path / "from-map")
    assert {r["image"] for r in lines} == {"cat", "dog/1"}
    assert all(os.path.dirname(r["file"]).startswith("explanations/dog_1~") for r in lines
               if r["image"] == "dog/1")  # an id unsafe as a folder name gets a hash suffix
    run(iter(IMAGES[:2]), tmp_path / "from-iterator", ids=["x", "y"])
    assert {r["image"] for r in read_index(tmp_path / "from-iterator")} == {"x", "y"}


def test_bad_images_and_a_raising_model_fail_alone(tmp_path):
    images = [IMAGES[0], np.full((16, 16, 3), np.nan), np.zeros((16, 16, 3), np.uint8), "missing.png", IMAGES[1]]
    summary = run(images, tmp_path, model=refuses_dark_images, params=MEAN_FILL)
    failed = {r["image"]: r for r in read_index(tmp_path) if r["status"] == "failed"}
    assert set(failed) == {"1", "2", "missing"} and summary.failed == 3
    assert failed["1"]["error"] == "InputError" and "NaN" in failed["1"]["message"]
    assert failed["2"]["error"] == "ModelError" and "the model raised RuntimeError" in failed["2"]["message"]
    assert "dark image" in failed["2"]["message"]
    assert "does not exist" in failed["missing"]["message"]
    assert {k[0] for k in ok_lines(tmp_path)} == {"0", "4"} and summary.done == 4


def test_a_rerun_skips_what_is_done_and_redoes_what_is_missing_or_damaged(tmp_path):
    run(IMAGES, tmp_path)
    first = ok_lines(tmp_path)
    again = run(IMAGES, tmp_path)
    assert (again.done, again.skipped, again.failed) == (0, 10, 0) and len(read_index(tmp_path)) == 10
    damaged, deleted = first[("1", "native.lime", first[("1", "native.lime", 0)]["targets"][0])], None
    with open(tmp_path / damaged["file"], "r+b") as fh:
        fh.seek(100)
        fh.write(b"\0\0\0\0")  # same size, different bytes
    deleted = next(line for key, line in first.items() if key[0] == "3")
    os.remove(tmp_path / deleted["file"])
    with open(tmp_path / "index.jsonl", "a") as fh:
        fh.write('{"image": "4", "method": "native.li')  # a line cut short by a crash
    repaired = run(IMAGES, tmp_path)
    assert (repaired.done, repaired.skipped) == (4, 6)  # images 1 and 3, both targets each
    after = ok_lines(tmp_path)
    assert after.keys() == first.keys()
    for key, line in after.items():
        assert Explanation.load(tmp_path / line["file"]).target == key[2]
    assert run(IMAGES, tmp_path).done == 0


class Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_same_results(tmp_path):
    calls = []

    def dies_on_the_third_image(batch):
        calls.append(len(batch))
        if calls.count(1) == 3:  # the third image's first, single-image forward pass
            raise KeyboardInterrupt
        return channel_means(batch)

    with pytest.raises(KeyboardInterrupt):  # the same model, in a wrapper: model_id says so
        run(IMAGES, tmp_path / "resumed", model=dies_on_the_third_image, model_id="channel means")
    assert {k[0] for k in ok_lines(tmp_path / "resumed")} == {"0", "1"}
    resumed = run(IMAGES, tmp_path / "resumed", model_id="channel means")
    assert (resumed.done, resumed.skipped) == (6, 4)
    run(IMAGES, tmp_path / "straight")
    straight, after = ok_lines(tmp_path / "straight"), ok_lines(tmp_path / "resumed")
    assert straight.keys() == after.keys()
    for key in straight:
        assert straight[key]["sha256"] != "" and (
            Explanation.load(tmp_path / "straight" / straight[key]["file"]).attribution.tobytes()
            == Explanation.load(tmp_path / "resumed" / after[key]["file"]).attribution.tobytes()
        )


def test_failures_are_retried_on_rerun(tmp_path):
    images = {"dark": np.zeros((16, 16, 3), np.uint8), "fine": IMAGES[0]}
    assert run(images, tmp_path, model=refuses_dark_images, params=MEAN_FILL, model_id="v1").failed == 1
    assert xaihub.dataset_statistics(tmp_path).methods["native.lime"].failures == 1
    again = run(images, tmp_path, params=MEAN_FILL, model_id="v1")  # the model, fixed: it now scores dark images
    assert (again.done, again.skipped, again.failed) == (2, 2, 0)
    assert {k[0] for k in ok_lines(tmp_path)} == {"dark", "fine"}
    lime = xaihub.dataset_statistics(tmp_path).methods["native.lime"]
    assert (lime.explanations, lime.failures) == (4, 0)  # the repaired failure no longer counts


def test_a_rerun_with_other_settings_is_refused_but_new_methods_are_added(tmp_path):
    run(IMAGES[:1], tmp_path)
    with pytest.raises(InputError, match="different seed"):
        run(IMAGES[:1], tmp_path, seed=1)
    with pytest.raises(InputError, match="params of native.lime"):
        run(IMAGES[:1], tmp_path, params={"native.lime": {"num_samples": 30}})
    settings = json.loads((tmp_path / "run.json").read_text())
    assert settings == {"seed": 0, "targets": "top-2", "params": {"native.lime": {"num_samples": 20}},
                        "model": {"callable": "toy_models.channel_means"}, "preprocess": None, "output": "auto",
                        "metrics": [], "masks": None, "labels": None}
    run(IMAGES[:1], tmp_path, methods=["native.lime", "native.kernelshap"],
        params={**LIME, "native.kernelshap": {"num_samples": 20}})
    assert set(json.loads((tmp_path / "run.json").read_text())["params"]) == {"native.lime", "native.kernelshap"}


def test_duplicate_ids_fail_the_later_image_only(tmp_path):
    summary = run([IMAGES[0], IMAGES[1]], tmp_path, ids=["same", "same"])
    assert summary.done == 2 and summary.failed == 1
    assert "appears twice" in summary.failures[0]["message"]


@pytest.mark.parametrize(
    "images, kwargs, message",
    [
        (IMAGES[0], {}, "3-D array"),
        (IMAGES, {"ids": ["a"]}, "1 ids given for 5 images"),
        (IMAGES, {"executor": "ray"}, "executor must be"),
        (IMAGES, {"colour": "red"}, r"unknown argument\(s\) \['colour'\]"),
        (IMAGES, {"output": "odds"}, "output must be one of"),
        (IMAGES, {"methods": []}, "methods is empty"),
        (42, {}, "images must be"),
    ],
)
def test_unusable_arguments_are_refused_before_any_work(tmp_path, images, kwargs, message):
    with pytest.raises(InputError, match=message):
        run(images, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out" / "index.jsonl").exists() or read_index(tmp_path / "out") == []


def test_folders_that_hold_no_images_are_refused(tmp_path):
    with pytest.raises(InputError, match="holds no image files"):
        run(tmp_path, tmp_path / "out")
    with pytest.raises(InputError, match="does not exist"):
        run(tmp_path / "nowhere", tmp_path / "out")


def test_one_progress_bar_with_per_method_throughput(tmp_path, capsys):
    run(IMAGES[:2], tmp_path / "shown", progress=True)
    err = capsys.readouterr().err
    assert "explaining images" in err and "2/2" in err and "native.lime=" in err
    run(IMAGES[:2], tmp_path / "hidden", progress=False)
    assert capsys.readouterr().err == ""


def test_dataset_statistics_summarise_the_index(tmp_path):
    run(IMAGES, tmp_path)
    lines = read_index(tmp_path)
    with open(tmp_path / "index.jsonl", "a") as fh:  # as a metrics module would record them
        for line, value in zip(lines, [0.1, 0.2, 0.3]):
            fh.write(json.dumps({**line, "metrics": {"deletion_auc": value}}) + "\n")
    stats = xaihub.dataset_statistics(tmp_path)
    lime = stats.methods["native.lime"]
    assert (lime.explanations, lime.images, lime.failures) == (10, 5, 0)
    scores = [line["score"] for line in lines]
    assert lime.quantities["score"].mean == pytest.approx(np.mean(scores))
    assert lime.quantities["score"].std == pytest.approx(np.std(scores, ddof=1))
    assert lime.quantities["metrics.deletion_auc"].n == 3
    assert lime.quantities["metrics.deletion_auc"].mean == pytest.approx(0.2)
    assert "metrics.deletion_auc" in stats.table() and "± 0.1" in stats.table()
    timing = stats.timing_table().splitlines()
    assert timing[0].split()[:2] == ["method", "images"] and timing[1].split()[:4] == ["native.lime", "5", "10", "0"]
    with pytest.raises(InputError, match="no index.jsonl"):
        xaihub.dataset_statistics(tmp_path / "explanations")


def test_one_target_per_image_from_a_mapping_or_the_true_labels_and_the_accuracy(tmp_path):
    true = [int(image.mean(axis=(0, 1)).argmax()) for image in IMAGES[:4]]  # what channel_means predicts
    true[0] = (true[0] + 1) % 3  # one image the model gets wrong
    summary = xaihub.explain_many(channel_means, IMAGES[:4], ["native.lime"], "true_labels", out=tmp_path / "true",
                                  params=LIME, true_labels=true)
    lines = {line["image"]: line for line in read_index(tmp_path / "true")}
    assert [lines[str(k)]["target"] for k in range(4)] == true  # each image explained for its own true class
    assert [lines[str(k)]["true_label"] for k in range(4)] == true
    assert summary.accuracy == pytest.approx(0.75) and summary.accuracy_images == 4
    assert "accuracy (top-1 vs true label): 0.750 over 4 images" in str(summary)
    again = xaihub.explain_many(channel_means, IMAGES[:4], ["native.lime"], "true_labels", out=tmp_path / "true",
                                params=LIME, true_labels=true)
    assert again.skipped == 4 and again.accuracy == pytest.approx(0.75)  # read back from the index
    summary = xaihub.explain_many(channel_means, IMAGES[:3], ["native.lime"], {"0": 2, "1": [0, 1]},
                                  out=tmp_path / "mapping", params=LIME)
    lines = read_index(tmp_path / "mapping")
    assert [(line["image"], line["target"], line["status"]) for line in lines] == [
        ("0", 2, "ok"), ("1", 0, "ok"), ("1", 1, "ok"), ("2", None, "failed")]
    assert "no target given for image '2'" in lines[-1]["message"]


@pytest.mark.parametrize("kwargs, message", [
    ({"targets": "true_labels"}, "pass true_labels= too"),
    ({"true_labels": [0, -1]}, "true_labels must be class indices"),
    ({"true_labels": "cat"}, "true_labels must map image ids"),
    ({"true_labels": [0]}, "1 true_labels given for 2 images"),
    ({"targets": {"0": "top-x"}}, "targets of image '0': targets string must look like 'top-5'"),
    ({"targets": [0, 1.5]}, "target 1.5 is not a class index"),
    ({"seed": -1}, "seed must be an int"),
    ({"params": {"native.lime": {"num_samples": -3}}}, "num_samples"),
    ({"labels": "rgb"}, "labels must be a sequence"),
    ({"device": 0}, "device must be a string"),
])
def test_a_bad_setting_is_refused_before_run_json_records_it(tmp_path, kwargs, message):
    kwargs = {"targets": 0, "params": LIME, **kwargs}
    with pytest.raises(InputError, match=message):
        xaihub.explain_many(channel_means, IMAGES[:2], ["native.lime"], out=tmp_path, **kwargs)
    assert not (tmp_path / "run.json").exists() and not (tmp_path / "index.jsonl").exists()
    assert xaihub.explain_many(channel_means, IMAGES[:2], ["native.lime"], 0, out=tmp_path, params=LIME).done == 2


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script, which is what it refuses
def test_a_model_dask_cannot_ship_is_refused_before_a_cluster_starts(tmp_path):
    torch = pytest.importorskip("torch")
    scripted = torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16 * 3, 3)))
    with pytest.raises(InputError, match="cannot ship the model to the Dask workers: .*TorchScript.*executor=None"):
        xaihub.explain_many(scripted, IMAGES[:1], ["native.lime"], out=tmp_path, executor="dask", params=LIME)
    assert not (tmp_path / "run.json").exists()
