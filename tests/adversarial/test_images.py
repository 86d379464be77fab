"""Any array or file as an image: an H×W×3 uint8 result or an InputError saying why, never another error."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from xaihub import InputError
from xaihub.core.images import MAX_PIXELS, MIN_SIDE, to_rgb_uint8

DTYPES = st.sampled_from([np.uint8, np.uint16, np.int8, np.int32, np.int64, np.float16, np.float32, np.float64,
                          np.bool_, np.complex64])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=12)


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(DTYPES, SHAPES))
def test_any_array_converts_or_is_refused_clearly(array):
    try:
        rgb = to_rgb_uint8(array)
    except InputError:
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert min(rgb.shape[:2]) >= MIN_SIDE and rgb.shape[0] * rgb.shape[1] <= MAX_PIXELS


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_any_file_converts_or_is_refused_clearly(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("file") / "x.png"
    path.write_bytes(data)
    with pytest.raises(InputError):
        to_rgb_uint8(path)


# EXIF orientation → how the stored pixels must be turned to show the picture upright.
ORIENTATIONS = {1: lambda a: a, 2: np.fliplr, 3: lambda a: np.rot90(a, 2), 4: np.flipud,
                5: lambda a: np.rot90(np.fliplr(a), 1), 6: lambda a: np.rot90(a, -1),
                7: lambda a: np.rot90(np.fliplr(a), -1), 8: lambda a: np.rot90(a, 1)}


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_exif_orientation_is_applied(tmp_path, orientation):
    from PIL import Image

    stored = np.zeros((16, 32, 3), np.uint8)
    stored[:8, :8] = (255, 0, 0)  # a red corner: where it ends up shows the turn
    stored[8:, 24:] = (0, 0, 255)
    picture = Image.fromarray(stored)
    exif = picture.getexif()
    exif[0x0112] = orientation
    picture.save(tmp_path / "x.png", exif=exif)  # lossless, so pixels compare exactly
    np.testing.assert_array_equal(to_rgb_uint8(tmp_path / "x.png"), ORIENTATIONS[orientation](stored))


def test_a_phone_jpeg_comes_out_upright(tmp_path):
    from PIL import Image

    stored = np.zeros((24, 48, 3), np.uint8)
    stored[:, :24] = 250  # bright left half, stored landscape
    picture = Image.fromarray(stored)
    exif = picture.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    picture.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    upright = to_rgb_uint8(tmp_path / "phone.jpg")
    assert upright.shape == (48, 24, 3)
    assert upright[:20].mean() > 200 and upright[-20:].mean() < 50  # the bright half is now on top
