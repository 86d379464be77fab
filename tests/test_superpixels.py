"""xaihub.core.superpixels: "auto" never collapses an image into too few superpixels, and a method's minimum is
refused with its reason."""

import numpy as np
import pytest

from xaihub import MethodUnavailableError
from xaihub.core.superpixels import FEW_SUPERPIXELS, grid_segments, require_superpixels, segment
from xaihub.testing import zoo


@pytest.mark.parametrize("size", [8, 16, 32, 48, 64, 224])
def test_auto_gives_at_least_the_few_superpixels_limit_on_noise_where_slic_finds_one(size):
    from skimage.segmentation import slic

    noise = zoo.noise(size)
    segments = segment(noise, "auto", {}, seed=0)
    assert segments.shape == (size, size) and segments.min() == 0
    assert FEW_SUPERPIXELS <= int(segments.max()) + 1 <= size * size // 4
    if size >= 32:  # what "auto" saves the methods from
        assert len(np.unique(slic(noise, n_segments=60, compactness=10.0, start_label=0, channel_axis=-1))) == 1


def test_auto_still_follows_the_image_where_slic_finds_regions():
    image = zoo.image(224, 224)
    segments = segment(image, "auto", {}, seed=0)
    assert not np.array_equal(segments, grid_segments((224, 224), int(segments.max()) + 1))
    assert 100 <= int(segments.max()) + 1 <= 150


@pytest.mark.parametrize("shape, count", [((8, 8), 16), ((40, 48), 60), ((224, 224), 150), ((5, 300), 20), ((3, 3), 60)])
def test_a_grid_has_about_the_asked_cells_numbered_densely(shape, count):
    cells = grid_segments(shape, count)
    found = int(cells.max()) + 1
    assert cells.shape == shape and cells.dtype == np.int32
    assert np.array_equal(np.unique(cells), np.arange(found))
    assert found == min(count, shape[0] * shape[1]) or abs(found - count) <= count // 4


def test_too_few_superpixels_are_refused_with_the_methods_reason():
    require_superpixels(np.array([[0, 1]]), "m.ethod", 2, "a reason")
    with pytest.raises(MethodUnavailableError, match=r"m\.ethod needs at least 2 superpixels \(a reason\); "
                                                     r"the segmentation gave 1"):
        require_superpixels(np.zeros((4, 4), np.int32), "m.ethod", 2, "a reason")
