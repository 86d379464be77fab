import numpy as np
import pytest

from xaihub import InputError
from xaihub.core.images import to_rgb_uint8

RGB = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "given",
    [
        RGB,
        RGB.astype(np.float32) / 255,
        RGB.astype(np.float64),
        RGB.astype(np.int64),
        np.moveaxis(RGB, -1, 0),
        np.concatenate([RGB, np.full((20, 30, 1), 255, np.uint8)], axis=2),
        RGB[None],
    ],
    ids=["uint8", "float01", "float255", "int64", "channels-first", "rgba", "batch-of-one"],
)
def test_accepted_forms_convert_to_the_same_rgb(given):
    np.testing.assert_array_equal(to_rgb_uint8(given), RGB)


def test_grayscale_is_repeated_to_three_channels():
    gray = RGB[..., 0]
    for given in (gray, gray[..., None]):
        out = to_rgb_uint8(given)
        assert out.shape == (20, 30, 3) and (out == gray[..., None]).all()


def test_paths(tmp_path):
    from skimage import io

    io.imsave(tmp_path / "x.png", RGB)
    np.testing.assert_array_equal(to_rgb_uint8(tmp_path / "x.png"), RGB)
    with pytest.raises(InputError, match="does not exist"):
        to_rgb_uint8(tmp_path / "missing.png")


@pytest.mark.parametrize(
    "given, message",
    [
        (np.full((10, 10, 3), np.nan), "NaN"),
        (np.full((10, 10, 3), 300.0), r"\[0, 1\] or \[0, 255\]"),
        (np.full((10, 10, 3), -1), r"\[0, 1\] or \[0, 255\]"),
        (np.zeros((0, 10, 3)), "empty"),
        (np.zeros((1, 1, 3)), "at least"),
        (np.zeros((10, 10, 5)), "channels"),
        (np.zeros((2, 10, 10, 3)), "explain_many"),
        (np.zeros((10, 10, 3), bool), "dtype"),
        (np.array([["a"]]), "dtype"),
    ],
)
def test_bad_images_are_refused_with_the_reason(given, message):
    with pytest.raises(InputError, match=message):
        to_rgb_uint8(given)


def test_huge_images_are_refused():
    with pytest.raises(InputError, match="resize"):
        to_rgb_uint8(np.zeros((5000, 5000, 3), np.uint8))
