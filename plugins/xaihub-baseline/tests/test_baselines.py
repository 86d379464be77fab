import numpy as np
import pytest

import xaihub
from xaihub.registry.plugins import get_method

from toy_models import linear_model

IMAGE = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
BASELINES = ["baseline.noise", "baseline.centre", "baseline.edges"]


def test_baselines_are_black_box_references_that_cost_no_forward_passes():
    result = xaihub.explain(linear_model(), IMAGE, methods=BASELINES, targets=[0, 2])
    assert result.ok
    for method in BASELINES:
        assert get_method(method).explainer.family == "baseline"
        assert get_method(method).explainer.requires.kind == xaihub.BLACK_BOX
        assert result.forward_passes[method] == 0
        assert all(e.attribution.shape == (30, 40) for e in result.by_method(method))


def test_noise_is_seeded_per_target_and_can_be_smoothed():
    def noise(seed, sigma=0.0):
        result = xaihub.explain(linear_model(), IMAGE, methods=["baseline.noise"], targets=[0, 1], seed=seed,
                                params={"baseline.noise": {"sigma": sigma}})
        return [result.get("baseline.noise", t).attribution for t in (0, 1)]

    first, again, other = noise(0), noise(0), noise(1)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.allclose(first[0], first[1]) and not np.allclose(first[0], other[0])
    assert abs(first[0].mean()) < 0.2 and 0.8 < first[0].std() < 1.2
    smooth = noise(0, sigma=3.0)[0]
    neighbours = np.corrcoef(smooth[:, :-1].ravel(), smooth[:, 1:].ravel())[0, 1]
    assert neighbours > 0.8  # neighbouring pixels of smoothed noise agree; raw noise's do not
    assert abs(np.corrcoef(first[0][:, :-1].ravel(), first[0][:, 1:].ravel())[0, 1]) < 0.15


def test_centre_prior_peaks_in_the_middle_and_falls_off_with_sigma():
    result = xaihub.explain(linear_model(), IMAGE, methods=["baseline.centre"], targets=[0, 1],
                            params={"baseline.centre": {"sigma": 0.2}})
    prior = result.get("baseline.centre", 0).attribution
    np.testing.assert_array_equal(prior, result.get("baseline.centre", 1).attribution)
    rows, columns = np.unravel_index(np.argmax(prior), prior.shape)
    assert rows in (14, 15) and columns in (19, 20) and prior.max() <= 1
    assert prior[0, 0] < 0.01 and np.allclose(prior, prior[::-1, ::-1])


@pytest.mark.parametrize("method, sigma", [("baseline.noise", -1), ("baseline.centre", 0),
                                           ("baseline.centre", "wide")])
def test_bad_sigma_is_refused_upfront_naming_it(method, sigma):
    with pytest.raises(xaihub.InputError, match=f"{method}: parameter 'sigma' must be a number"):
        xaihub.explain(linear_model(), IMAGE, methods=[method], params={method: {"sigma": sigma}})


def test_edges_are_the_sobel_magnitude_of_the_grayscale_on_both_axes_the_same_for_every_target():
    image = np.zeros((20, 24, 3), dtype=np.uint8)
    image[:, 12:] = 200  # a vertical edge between columns 11 and 12
    image[15:, :] = 100  # and a horizontal one above row 15
    result = xaihub.explain(linear_model(), image, methods=["baseline.edges"], targets=[0, 1])
    edges = result.get("baseline.edges", 0).attribution
    np.testing.assert_array_equal(edges, result.get("baseline.edges", 1).attribution)
    assert edges.dtype == np.float32 and edges.min() >= 0
    assert edges[5, 11] > 0 and edges[5, 12] > 0 and edges[5, 3] == 0 and edges[5, 20] == 0  # vertical edge
    assert edges[14, 4] > 0 and edges[15, 4] > 0 and edges[10, 4] == 0  # horizontal edge: both axes are used
    # the magnitude is not clipped: a step of 200 gives 4 × 200 across it (Sobel's weights 1, 2, 1)
    assert edges[5, 11] == pytest.approx(800.0)
    assert xaihub.Explanation(0, edges).degenerate is None
