import numpy as np
import pytest

import xaihub
from xaihub.core.superpixels import fill_image, perturb
from xaihub_native.surrogate import cosine_distance_to_original, fit_weighted_ridge, lime_kernel

from toy_models import region_model, tiles_image


def test_native_lime_finds_the_region_the_class_depends_on():
    image, region = tiles_image(16)
    result = xaihub.explain(region_model(region), image, methods=["native.lime"], targets=[1, 0],
                            params={"native.lime": {"num_samples": 200, "segmentation": "quickshift"}})
    for_one, for_zero = result.get("native.lime", 1), result.get("native.lime", 0)
    assert for_one.attribution[region].min() > 0.3  # switching the region off drops the score by 0.43
    assert np.abs(for_one.attribution[~region]).max() < 0.05 * for_one.attribution[region].min()
    assert for_zero.attribution[region].mean() < 0
    top = for_one.top_segments(1)
    assert (top & region).sum() / top.sum() > 0.9


def test_all_targets_share_one_set_of_forward_passes():
    image, region = tiles_image(16)
    params = {"native.lime": {"num_samples": 150}}
    one = xaihub.explain(region_model(region), image, methods=["native.lime"], targets=1, params=params)
    both = xaihub.explain(region_model(region), image, methods=["native.lime"], targets=[1, 0], params=params)
    assert one.get("native.lime", 1).forward_passes == both.get("native.lime", 0).forward_passes == 150
    np.testing.assert_array_equal(one.get("native.lime", 1).attribution, both.get("native.lime", 1).attribution)


def test_auto_sample_count_stops_when_the_top_superpixels_are_stable_and_equals_the_fixed_count():
    image, region = tiles_image(16)
    auto = xaihub.explain(region_model(region), image, methods=["native.lime"], targets=[1, 0],
                          params={"native.lime": {"segmentation": "quickshift"}}).get("native.lime", 1)
    used = auto.extras["num_samples"]
    assert auto.extras["stability"]["rule_met"] and used < 1000 and used % 50 == 0
    assert auto.extras["stability"]["bootstrap_top_agreement"][0] >= 0.9
    fixed = xaihub.explain(region_model(region), image, methods=["native.lime"], targets=[1, 0],
                           params={"native.lime": {"segmentation": "quickshift", "num_samples": used}})
    np.testing.assert_array_equal(auto.attribution, fixed.get("native.lime", 1).attribution)
    capped = xaihub.explain(region_model(region), image, methods=["native.lime"], targets=[1, 0], params={
        "native.lime": {"segmentation": "quickshift", "max_samples": 100, "stable_top": 20}}).get("native.lime", 1)
    assert capped.extras["num_samples"] == 100 and capped.extras["stability"]["rule_met"] is False


def test_tiny_images_get_superpixels_sized_to_them_and_few_superpixels_warn():
    image, region = tiles_image(4)  # 32×32
    result = xaihub.explain(region_model(region), image, methods=["native.lime"], targets=1,
                            params={"native.lime": {"num_samples": 60}})
    assert result.get("native.lime").extras["n_segments"] >= 20 and "warning" not in result.get("native.lime").extras
    coarse = xaihub.explain(region_model(region), image, methods=["native.lime"], targets=1,
                            params={"native.lime": {"num_samples": 60, "segmentation": "quickshift"}})
    assert "superpixels: the map can hardly point" in coarse.get("native.lime").extras["warning"]


@pytest.mark.parametrize("fill", ["zero", "mean", "blur"])
def test_fills(fill):
    image, _ = tiles_image(16)
    segments = np.arange(128 * 128).reshape(128, 128) // (128 * 32)
    background = fill_image(image, segments, fill)
    assert background.shape == image.shape and np.isfinite(background).all()
    masks = np.array([[1, 1, 1, 1], [0, 1, 0, 1]], np.uint8)
    out = perturb(image, background, segments, masks)
    np.testing.assert_array_equal(out[0], image)
    np.testing.assert_array_equal(out[1][segments == 0], background[segments == 0])
    np.testing.assert_array_equal(out[1][segments == 1], image[segments == 1])
    if fill == "mean":
        np.testing.assert_allclose(background[segments == 0],
                                   image[segments == 0].mean(axis=0)[None].repeat((segments == 0).sum(), 0), rtol=1e-5)


def test_bad_parameters_fail_clearly():
    image, region = tiles_image(16)
    with pytest.raises(xaihub.InputError, match="parameter 'fill' must be one of"):
        xaihub.explain(region_model(region), image, methods=["native.lime"], params={"native.lime": {"fill": "purple"}})
    result = xaihub.explain(region_model(region), image, methods=["native.lime"],
                            params={"native.lime": {"segments": np.zeros((3, 3), int)}})
    assert "segments must be" in result.failure("native.lime").message


def test_surrogate_agrees_with_lime_given_the_same_masks_and_predictions():
    lime_base = pytest.importorskip("lime.lime_base")
    rng = np.random.default_rng(0)
    masks = rng.binomial(1, 0.5, size=(150, 12)).astype(np.uint8)
    masks[0] = 1
    predictions = rng.random((150, 3))
    distances = cosine_distance_to_original(masks)
    weights = lime_kernel(distances, 0.25)
    ours = fit_weighted_ridge(masks, predictions, weights, alpha=1.0)
    base = lime_base.LimeBase(lambda d: lime_kernel(d, 0.25), random_state=0)
    for label in range(3):
        intercept, features, score, _ = base.explain_instance_with_data(
            masks, predictions, distances, label, num_features=100000)
        theirs = np.zeros(12)
        for index, weight in features:
            theirs[index] = weight
        np.testing.assert_allclose(ours.coef[label], theirs, atol=1e-4)
        assert ours.intercept[label] == pytest.approx(intercept, abs=1e-4)
        assert ours.r2[label] == pytest.approx(score, abs=1e-4)


def test_distances_match_scikit_learn_cosine():
    metrics = pytest.importorskip("sklearn.metrics")
    masks = np.random.default_rng(1).binomial(1, 0.5, size=(40, 9))
    masks[3] = 0
    expected = metrics.pairwise_distances(masks, np.ones((1, 9)), metric="cosine").ravel()
    np.testing.assert_allclose(cosine_distance_to_original(masks), expected, atol=1e-12)
