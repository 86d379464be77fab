"""A run directory holds the results of one setup: a resume with another is refused, unless asked."""

import json

import numpy as np
import pytest
from adversarial.cases import IMAGES, assert_trustworthy, run

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


def test_an_unreadable_run_json_is_refused_unless_starting_over(tmp_path):
    run(IMAGES[:1], tmp_path)
    (tmp_path / SETTINGS_NAME).write_text("{not json")
    with pytest.raises(InputError, match="not a readable xaihub run description.*resume='overwrite'"):
        run(IMAGES[:1], tmp_path)
    assert run(IMAGES[:1], tmp_path, resume="overwrite").done == 2
