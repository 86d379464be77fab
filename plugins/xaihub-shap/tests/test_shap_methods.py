import numpy as np
import pytest

import xaihub
from toy_models import region_model, tiles_image


def quadrants(size: int) -> np.ndarray:
    half = size // 2
    return (np.arange(size)[:, None] >= half) * 2 + (np.arange(size)[None, :] >= half)


def test_kernel_shap_gives_exact_shapley_values_of_an_additive_model():
    image, _ = tiles_image()
    region = np.zeros((64, 64), bool)
    region[16:48, 24:40] = True  # straddles all four quadrants unevenly
    segments = quadrants(64)
    result = xaihub.explain(region_model(region), image, methods=["shap.kernel"], targets=[1, 0],
                            params={"shap.kernel": {"segments": segments}})
    # With black fill, p(1) is a sum over quadrants of their share of the region's brightness.
    brightness = image.mean(axis=2) / 255.0
    expected = np.array([brightness[region & (segments == q)].sum() for q in range(4)]) / region.sum()
    for_one, for_zero = result.get("shap.kernel", 1), result.get("shap.kernel", 0)
    np.testing.assert_allclose(for_one.segment_weights, expected, atol=1e-6)
    np.testing.assert_allclose(for_zero.segment_weights, -expected, atol=1e-6)
    np.testing.assert_array_equal(for_one.attribution, for_one.segment_weights[segments])
    assert for_one.extras["filled_score"] == pytest.approx(0.0)


def test_kernel_shap_on_quickshift_superpixels_adds_up_and_finds_the_region():
    image, region = tiles_image(tile=16)
    result = xaihub.explain(region_model(region), image, methods=["shap.kernel"], targets=1,
                            params={"shap.kernel": {"num_samples": 300, "segmentation": "quickshift"}})
    explanation = result.get("shap.kernel", 1)
    assert explanation.forward_passes <= 300 + 2
    assert explanation.segment_weights.sum() == pytest.approx(explanation.score - explanation.extras["filled_score"],
                                                              abs=1e-5)
    top = explanation.top_segments(1)
    assert (top & region).sum() / top.sum() > 0.9
    assert explanation.attribution[region].min() > 0.5 * explanation.segment_weights.max()


@pytest.mark.parametrize("method, params", [
    ("shap.kernel", {"num_samples": 60, "segments": quadrants(64) * 4 + np.arange(64)[None, :] // 16}),
    ("shap.partition", {"max_evals": 60}),
])
def test_seeded_runs_repeat_and_leave_numpy_global_random_state_alone(method, params):
    image, region = tiles_image()
    np.random.seed(123)
    untouched = np.random.random()
    np.random.seed(123)
    run = lambda seed: xaihub.explain(region_model(region), image, methods=[method], targets=1, seed=seed,
                                      params={method: params}).get(method, 1)
    first, again = run(5), run(5)
    assert np.random.random() == untouched
    np.testing.assert_array_equal(first.attribution, again.attribution)


def test_partition_shap_adds_up_and_puts_the_mass_on_the_region():
    image, region = tiles_image(tile=4)  # 32×32
    result = xaihub.explain(region_model(region), image, methods=["shap.partition"], targets=[1, 0],
                            params={"shap.partition": {"max_evals": 300, "masker": 0}})
    for_one, for_zero = result.get("shap.partition", 1), result.get("shap.partition", 0)
    assert for_one.forward_passes <= 300
    assert for_one.channels.shape == (32, 32, 3)
    np.testing.assert_allclose(for_one.channels.sum(axis=2), for_one.attribution, atol=1e-6)
    # Owen values are efficient: the map sums to p(image) - p(everything masked).
    assert for_one.attribution.sum() == pytest.approx(for_one.score - for_one.extras["masked_score"], abs=1e-5)
    assert for_one.extras["masked_score"] == pytest.approx(0.0)
    # Owen values share credit inside clusters that were not split, so a little spills past the region.
    assert for_one.attribution[region].sum() > 0.8 * for_one.attribution.sum()
    assert for_one.attribution[region].mean() > 20 * np.abs(for_one.attribution[~region]).mean()
    assert for_zero.attribution[region].sum() < 0


@pytest.mark.parametrize("masker", ["inpaint_telea", "blur(4, 4)"])
def test_partition_shap_library_maskers(masker):
    image, region = tiles_image(tile=4)
    result = xaihub.explain(region_model(region), image, methods=["shap.partition"], targets=1,
                            params={"shap.partition": {"max_evals": 40, "masker": masker}})
    explanation = result.get("shap.partition", 1)
    assert explanation.attribution.sum() == pytest.approx(explanation.score - explanation.extras["masked_score"],
                                                          abs=1e-5)
    assert explanation.extras["masked_score"] != pytest.approx(0.0)  # the fill comes from the image itself


@pytest.mark.parametrize(("method", "params", "message"), [
    ("shap.kernel", {"fill": "purple"}, "parameter 'fill' must be one of"),
    ("shap.kernel", {"num_samples": 0}, "parameter 'num_samples' must be one of 'auto' or an int"),
    ("shap.partition", {"masker": "inpaint_magic"}, "parameter 'masker' must be 'inpaint_telea'"),
    ("shap.partition", {"masker": -1}, "parameter 'masker' must be"),
    ("shap.partition", {"max_evals": 2}, "parameter 'max_evals' must be an int in"),
])
def test_bad_parameters_are_refused_upfront(method, params, message):
    image, region = tiles_image()
    with pytest.raises(xaihub.InputError, match=message):
        xaihub.explain(region_model(region), image, methods=[method, "native.lime"],
                       params={method: params, "native.lime": {"num_samples": 10}})


def test_segments_of_another_shape_fail_that_method_only():
    image, region = tiles_image()
    result = xaihub.explain(region_model(region), image, methods=["shap.kernel", "native.lime"],
                            params={"shap.kernel": {"segments": np.zeros((3, 3), int)}, "native.lime": {"num_samples": 10}})
    assert "segments must be" in result.failure("shap.kernel").message
    assert result.get("native.lime") is not None
