import numpy as np
import pytest

from xaihub import ValidationError
from xaihub_shap.layout import values_per_output

FEATURES = (4, 5, 3)


def expected(n_outputs: int) -> np.ndarray:
    return np.arange(n_outputs * np.prod(FEATURES), dtype=float).reshape(n_outputs, *FEATURES)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_list_with_one_array_per_output(n_outputs):
    want = expected(n_outputs)
    np.testing.assert_array_equal(values_per_output([w[None] for w in want], n_outputs, FEATURES), want)
    np.testing.assert_array_equal(values_per_output(list(want), n_outputs, FEATURES), want)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_trailing_output_axis(n_outputs):
    want = expected(n_outputs)
    trailing = np.moveaxis(want, 0, -1)
    np.testing.assert_array_equal(values_per_output(trailing[None], n_outputs, FEATURES), want)
    np.testing.assert_array_equal(values_per_output(trailing, n_outputs, FEATURES), want)


def test_single_output_without_output_axis():
    want = expected(1)
    np.testing.assert_array_equal(values_per_output(want, 1, FEATURES), want)
    np.testing.assert_array_equal(values_per_output(want[0], 1, FEATURES), want)


def test_vector_features_as_kernel_shap_gives_them():
    weights = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])  # 3 superpixels × 2 outputs
    np.testing.assert_array_equal(values_per_output(weights[None], 2, (3,)), weights.T)


@pytest.mark.parametrize("values, message", [
    ([np.zeros((1, *FEATURES))], "1 outputs, expected 2"),
    ([np.zeros((1, 4, 5)), np.zeros((1, 4, 5))], "shape"),
    (np.zeros((1, *FEATURES, 3)), "expected 2 output"),
    (np.zeros((2, *FEATURES, 2)), "expected 2 output"),
])
def test_other_layouts_are_refused(values, message):
    with pytest.raises(ValidationError, match=message):
        values_per_output(values, 2, FEATURES)

