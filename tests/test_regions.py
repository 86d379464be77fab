"""SRG (region flipping both ways) on models whose answer is known, and its discrimination row in the reports."""

import re

import numpy as np
import pytest
from test_metrics import IMAGE, REGION, region_model

import xaihub
from xaihub import Explanation, InputError
from xaihub.metrics import region_curves, srg
from xaihub.metrics.regions import filled, patch_labels, region_order
from xaihub.registry.plugins import adapt

from toy_models import tiles_image

# test_metrics' 8 px image and model: class 0 is the mean red of the top-left 2×2 pixels, which on a 4 × 4 grid
# of patches is exactly patch 0.
top_left_red = region_model

EXACT = {"patches": 4, "steps": 16, "fill": "black"}


# 16 patches removed one per step. MoRF of the perfect map removes patch 0 first: curve 1, 0, ..., 0, area
# 0.5/16. LeRF removes it last: 1 for 16 points, then 0: area 15.5/16. SRG = 15/16; the reversed map, −15/16.
def test_srg_by_hand():
    model = adapt(top_left_red)
    perfect = region_curves(model, IMAGE, REGION, 0, **EXACT)
    assert perfect.morf_auc == pytest.approx(0.5 / 16) and perfect.lerf_auc == pytest.approx(15.5 / 16)
    assert perfect.srg == pytest.approx(15 / 16)
    assert srg(model, IMAGE, -REGION, 0, **EXACT) == pytest.approx(-15 / 16)
    assert perfect.morf.shape == perfect.lerf.shape == (17,)


# A flat map's patches come in a random order: at rank r, SRG = (15 − 2r)/16, so over seeds it averages about 0
# (raster order would put the top-left patch first and score a flat map 15/16).
def test_a_flat_map_scores_about_zero_over_seeds():
    model = adapt(top_left_red)
    flat = np.ones((8, 8), np.float32)
    scores = [srg(model, IMAGE, flat, 0, seed=seed, **EXACT) for seed in range(48)]
    assert len(set(scores)) > 4 and abs(np.mean(scores)) < 0.15
    assert all(round(s * 16) % 2 == 1 for s in scores)  # (15 − 2r)/16: odd sixteenths


def test_patch_labels_cover_the_image_in_equal_squares():
    labels = patch_labels(224, 224)
    assert labels.max() == 195 and np.all(np.bincount(labels.ravel()) == 256)
    assert patch_labels(8, 12, 14).max() == 8 * 12 - 1  # fewer pixels than patches: one patch per pixel
    assert np.array_equal(region_order(REGION, patch_labels(8, 8, 4))[:1], [0])


def test_fills():
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    assert np.all(filled(image, "black") == 0)
    assert np.array_equal(filled(image, "mean")[0, 0], np.rint(image.reshape(-1, 3).mean(0)))
    assert filled(image, "blur").shape == image.shape


@pytest.mark.parametrize("params, message", [
    ({"patches": 1}, "patches must be an int of at least 2"),
    ({"steps": 0}, "steps must be a positive int"),
    ({"fill": "white"}, r"fill must be one of \['blur', 'mean', 'black'\]"),
    ({"sigma": -1}, "sigma must be a positive number"),
])
def test_bad_parameters_are_refused_before_any_method_runs(params, message):
    with pytest.raises(InputError, match=message):
        xaihub.explain(top_left_red, IMAGE, methods=["baseline.noise"], metrics={"srg": params})


class Fixed(xaihub.Explainer):
    def __init__(self, name, attribution):
        self.name, self.attribution = name, attribution

    def explain(self, model, image, targets, *, seed):
        return [Explanation(target=t, attribution=self.attribution) for t in targets]


def test_the_object_map_beats_noise_by_far_on_srg_and_the_report_counts_it(registered, tmp_path):
    image, region = tiles_image()

    def model(batch):  # class 1: how red the region is (a blurred copy of it is less red)
        redness = (batch[:, region, 0] - batch[:, region, 1:].mean(axis=-1)).mean(axis=1).clip(0, 1)
        return np.stack([1 - redness, redness], axis=1)

    good = registered(Fixed("test.object", region.astype(np.float32)))
    away = registered(Fixed("test.away", (~region).astype(np.float32)))
    result = xaihub.explain(model, image, methods=[good, away, "baseline.noise", "baseline.centre"], targets=[1],
                            metrics=["srg"])
    values = {m: result.get(m).metrics for m in result.methods}
    assert values[good]["srg"] == pytest.approx(values[good]["srg_lerf"] - values[good]["srg_morf"])
    assert values[good]["srg"] > 0.3 > abs(values["baseline.noise"]["srg"])
    assert values[away]["srg"] < -0.3
    html = open(result.report(tmp_path / "report.html"), encoding="utf-8").read()
    row = re.search(r"<tr class='discrimination'.*?</tr>", html)
    assert row and "beat baseline.noise" in row.group(0)
    assert "data-metric='srg' data-beating='1' data-compared='2'" in row.group(0)


def test_the_dataset_report_counts_the_methods_beating_noise_and_ranks_by_srg(registered, tmp_path):
    image, region = tiles_image()

    def model(batch):
        redness = (batch[:, region, 0] - batch[:, region, 1:].mean(axis=-1)).mean(axis=1).clip(0, 1)
        return np.stack([1 - redness, redness], axis=1)

    good = registered(Fixed("test.object", region.astype(np.float32)))
    away = registered(Fixed("test.away", (~region).astype(np.float32)))
    xaihub.explain_many(model, [image, image[::-1, ::-1].copy()], [good, away, "baseline.noise"], targets=[1],
                        out=tmp_path / "run", metrics=["srg"], model_id="redness")
    html = open(xaihub.dataset_report(tmp_path / "run", tmp_path / "d.html"), encoding="utf-8").read()
    row = re.search(r"<tr class='discrimination'.*?</tr>", html)
    assert row and "data-metric='srg' data-beating='1' data-compared='2'" in row.group(0)
    assert "Ranked by <b>SRG ↑</b>" in html  # the galleries order images by SRG
