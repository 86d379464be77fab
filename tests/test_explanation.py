import json
import zipfile

import numpy as np
import pytest

import xaihub
from xaihub import Explanation, InputError

from toy_models import linear_model


def full_explanation() -> Explanation:
    rng = np.random.default_rng(0)
    segments = np.repeat(np.arange(4), 4).reshape(4, 4).astype(np.int32)
    return Explanation(
        target=3, attribution=rng.normal(size=(4, 4)).astype(np.float32), method="x.y", label="<cat>",
        image=rng.integers(0, 256, (4, 4, 3), dtype=np.uint8), channels=rng.normal(size=(4, 4, 3)).astype(np.float32),
        segments=segments, segment_weights=np.array([0.5, -1.0, 2.0, 0.0], np.float32), score=0.25,
        seconds=1.5, forward_passes=7, params={"n": 3, "fill": "zero", "layer": None}, seed=11,
        versions={"numpy": "2"}, extras={"r2": [0.1, 0.2]},
        metrics={"deletion": 0.125, "degradation_top1": 1.0},
    )


def test_save_load_round_trip_is_lossless(tmp_path):
    original = full_explanation()
    original.save(tmp_path / "e.npz")
    loaded = Explanation.load(tmp_path / "e.npz")
    for name in ("attribution", "image", "channels", "segments", "segment_weights"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
        assert getattr(loaded, name).dtype == getattr(original, name).dtype
    for name in ("target", "method", "label", "score", "seconds", "forward_passes", "params", "seed", "versions", "extras",
                 "metrics"):
        assert getattr(loaded, name) == getattr(original, name)


def test_saved_file_holds_no_pickle(tmp_path):
    full_explanation().save(tmp_path / "e.npz")
    with np.load(tmp_path / "e.npz", allow_pickle=False) as data:
        assert json.loads(str(data["meta"]))["method"] == "x.y"


def test_truncated_or_tampered_files_fail_clearly(tmp_path):
    path = tmp_path / "e.npz"
    full_explanation().save(path)
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="not a readable xaihub explanation"):
        Explanation.load(tmp_path / "cut.npz")
    with zipfile.ZipFile(tmp_path / "noheader.npz", "w") as zf:
        zf.writestr("attribution.npy", b"garbage")
    with pytest.raises(InputError):
        Explanation.load(tmp_path / "noheader.npz")


def test_top_segments_and_masked_image():
    explanation = full_explanation()
    np.testing.assert_array_equal(explanation.top_segments(2), np.isin(explanation.segments, [2, 0]))
    assert explanation.top_segments(4).sum() == 8  # only the two positive superpixels
    masked = explanation.masked_image(1)
    assert (masked[explanation.segments != 2] == 0).all()
    np.testing.assert_array_equal(masked[explanation.segments == 2], explanation.image[explanation.segments == 2])


def test_comparison_save_writes_one_loadable_file_per_explanation(tmp_path):
    result = xaihub.explain(linear_model(), np.full((16, 16, 3), 90, np.uint8), methods=["native.lime"],
                            targets="top-2", params={"native.lime": {"num_samples": 10}})
    paths = result.save(tmp_path)
    assert len(paths) == 2
    loaded = Explanation.load(paths[1])
    np.testing.assert_array_equal(loaded.attribution, result.explanations[1].attribution)
    assert loaded.params["num_samples"] == 10


@pytest.mark.parametrize("values, reason", [
    (np.zeros((4, 4)), "all-zero map"), (np.full((4, 4), -2.0), "constant map (every pixel -2)"),
    (np.full((4, 4), 1.0) + np.eye(4) * 1e-9, "constant map (every pixel 1)"),
    (np.where(np.eye(4) > 0, np.nan, 1.0), "non-finite values (4 of 16 pixels)"),
    (np.eye(4) * 1e-12, None), (np.arange(16.0).reshape(4, 4), None)])
def test_a_degenerate_map_is_named(values, reason):
    assert Explanation(0, values.astype(np.float64)).degenerate == reason
    assert (f"degenerate: {reason}" in Explanation(0, values).cautions) == (reason is not None)


def test_cautions_name_an_unmet_stopping_rule_and_an_unsettled_top_k():
    usable = np.arange(16.0).reshape(4, 4)
    settled = Explanation(0, usable, extras={"stability": {"top": 4, "rule_met": True,
                                                           "bootstrap_top_agreement": [0.95, 0.9]}})
    assert settled.cautions == []
    unsettled = Explanation(0, usable, extras={"stability": {"top": 4, "rule_met": False,
                                                             "bootstrap_top_agreement": [0.9, 0.0]}})
    assert unsettled.cautions == ["stopping rule not met (the sample ceiling was reached)",
                                  "top-4 unsettled (bootstrap agreement 0.00, lowest over the call's targets)"]
    skipped = Explanation(0, usable, extras={"metric_skipped": {"sanity.randomization": "the randomised map is x"}})
    assert skipped.cautions == ["metrics skipped: sanity.randomization (the randomised map is x)"]
