"""Files written before the core moved into folders (``tests/fixtures/written_before_layout``, made by
``tests/fixtures/make_written_before_layout.py`` with xaihub as it was then) still load, and their run
directory resumes: moving modules changed no name a saved file or a fingerprint holds."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import xaihub
from xaihub.testing import zoo

pytest.importorskip("torch")

WRITTEN = Path(__file__).resolve().parent / "fixtures" / "written_before_layout"
METHODS = ["gradients.saliency", "baseline.noise"]


def as_written():
    """The model, images and settings the fixture was written with."""
    model = zoo.get("torch.cnn").build()
    images = {"first": zoo.image(seed=1), "second": zoo.image(seed=2)}
    settings = dict(targets="top-1", metrics=["deletion"], progress=False,
                    preprocess=xaihub.Preprocess(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)))
    return model, images, settings


def test_a_saved_explanation_loads_and_matches_todays_result():
    model, images, settings = as_written()
    saved = xaihub.Explanation.load(WRITTEN / "saliency.npz")
    today = xaihub.explain(model, images["first"], methods=["gradients.saliency"], targets="top-1").get(
        "gradients.saliency")
    assert (saved.method, saved.target) == (today.method, today.target)
    np.testing.assert_array_equal(saved.image, images["first"])
    np.testing.assert_allclose(saved.attribution, today.attribution, rtol=1e-5, atol=1e-7)


def test_a_run_directory_resumes_without_redoing_anything(tmp_path):
    model, images, settings = as_written()
    out = tmp_path / "run"
    shutil.copytree(WRITTEN / "run", out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.npz")}
    summary = xaihub.explain_many(model, images, METHODS, out=out, **settings)
    assert (summary.done, summary.skipped, summary.failed) == (0, 4, 0), str(summary)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*.npz")} == before
    # a method added to the old run is the only work done, and the statistics read every record
    summary = xaihub.explain_many(model, images, [*METHODS, "baseline.centre"], out=out, **settings)
    assert (summary.done, summary.skipped, summary.failed) == (2, 4, 0), str(summary)
    statistics = xaihub.dataset_statistics(out)
    assert set(statistics.methods) == {*METHODS, "baseline.centre"}


def test_a_changed_setting_is_still_refused_on_the_old_directory(tmp_path):
    """The fingerprint read from the old ``run.json`` still guards it: another preprocess is refused."""
    model, images, settings = as_written()
    out = tmp_path / "run"
    shutil.copytree(WRITTEN / "run", out)
    settings["preprocess"] = xaihub.Preprocess(mean=(0.4, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    with pytest.raises(xaihub.InputError, match="preprocess"):
        xaihub.explain_many(model, images, METHODS, out=out, **settings)
