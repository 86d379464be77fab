import numpy as np
import pytest

import xaihub
from toy_models import region_model, tiles_image

SIZE = 64


def quadrants(ids=(0, 1, 2, 3)) -> np.ndarray:
    segments = np.empty((SIZE, SIZE), np.int64)
    half = SIZE // 2
    segments[:half, :half], segments[:half, half:], segments[half:, :half], segments[half:, half:] = ids
    return segments


def test_lime_image_finds_the_region_the_class_depends_on(capsys):
    image, region = tiles_image(tile=16)  # quickshift merges smaller tiles into larger superpixels
    result = xaihub.explain(region_model(region), image, methods=["lime.image"], targets=[1, 0],
                            params={"lime.image": {"num_samples": 150, "segmentation": "quickshift"}})
    assert not result.failures
    for_one, for_zero = result.get("lime.image", 1), result.get("lime.image", 0)
    assert for_one.attribution[region].min() > 0.2  # blacking out the region drops p(1) by 0.43
    apart = ~np.isin(for_one.segments, np.unique(for_one.segments[region]))  # superpixels not touching it
    assert np.abs(for_one.attribution[apart]).max() < 0.1 * for_one.attribution[region].min()
    assert for_zero.attribution[region].max() < 0
    top = for_one.top_segments(1)
    assert (top & region).sum() / top.sum() > 0.9
    assert for_one.forward_passes == for_zero.forward_passes == 150
    assert capsys.readouterr().err == ""  # lime's own progress bar is kept off the user's terminal


def test_given_segments_are_renumbered_and_weighted_one_by_one():
    image, region = tiles_image()
    result = xaihub.explain(region_model(region), image, methods=["lime.image"], targets=1,
                            params={"lime.image": {"num_samples": 100, "segments": quadrants((7, 3, 40, 9))}})
    explanation = result.get("lime.image", 1)
    np.testing.assert_array_equal(explanation.segments, quadrants((1, 0, 3, 2)))
    np.testing.assert_array_equal(explanation.attribution, explanation.segment_weights[explanation.segments])
    assert np.argmax(explanation.segment_weights) == 0  # the top-right quadrant holds the region
    assert explanation.extras["n_segments"] == 4


def test_weights_are_those_lime_gives_when_called_directly():
    lime_image = pytest.importorskip("lime.lime_image")
    image, region = tiles_image()
    segments = quadrants()
    ours = xaihub.explain(region_model(region), image, methods=["lime.image"], targets=[0, 1], seed=3,
                          params={"lime.image": {"num_samples": 60, "segments": segments}})
    direct = lime_image.LimeImageExplainer(random_state=3).explain_instance(
        image, lambda batch: region_model(region)(batch / 255.0), labels=[0, 1], hide_color=0, top_labels=None, num_samples=60,
        segmentation_fn=lambda _: segments, random_seed=3)
    for target in (0, 1):
        expected = np.zeros(4)
        for segment, weight in direct.local_exp[target]:
            expected[segment] = weight
        np.testing.assert_allclose(ours.get("lime.image", target).segment_weights, expected, atol=1e-6)
        assert ours.get("lime.image", target).extras["intercept"] == pytest.approx(direct.intercept[target])


def test_seed_decides_the_result():
    image, region = tiles_image()
    run = lambda seed: xaihub.explain(region_model(region), image, methods=["lime.image"], targets=1, seed=seed,
                                      params={"lime.image": {"num_samples": 40}}).get("lime.image", 1)
    first, again, other = run(1), run(1), run(2)
    np.testing.assert_array_equal(first.attribution, again.attribution)
    np.testing.assert_array_equal(first.segments, again.segments)
    assert not np.array_equal(first.attribution, other.attribution)


def test_mean_colour_hiding_cannot_hide_a_uniform_superpixel():
    image, region = tiles_image()
    result = xaihub.explain(region_model(region), image, methods=["lime.image"], targets=1,
                            params={"lime.image": {"num_samples": 40, "hide_color": None, "segments": region.astype(int)}})
    np.testing.assert_allclose(result.get("lime.image", 1).segment_weights, 0, atol=1e-9)


@pytest.mark.parametrize(("params", "message"), [
    ({"hide_color": 300}, "parameter 'hide_color' must be None or a number in"),
    ({"num_samples": 1}, "parameter 'num_samples' must be an int in"),
    ({"kernel_width": 0}, "parameter 'kernel_width' must be a number > 0"),
])
def test_bad_parameters_are_refused_upfront(params, message):
    image, region = tiles_image()
    with pytest.raises(xaihub.InputError, match=message):
        xaihub.explain(region_model(region), image, methods=["lime.image", "native.lime"],
                       params={"lime.image": params, "native.lime": {"num_samples": 10}})


def test_segments_of_another_shape_fail_that_method_only():
    image, region = tiles_image()
    result = xaihub.explain(region_model(region), image, methods=["lime.image", "native.lime"],
                            params={"lime.image": {"segments": np.zeros((3, 3), int)}, "native.lime": {"num_samples": 10}})
    assert "segments must be" in result.failure("lime.image").message
    assert result.get("native.lime") is not None
