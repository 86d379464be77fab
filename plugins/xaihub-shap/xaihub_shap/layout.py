"""One place that reads shap's output layouts, which differ across explainers and versions."""

from __future__ import annotations

from typing import Any

import numpy as np

from xaihub import ValidationError


def values_per_output(values: Any, n_outputs: int, feature_shape: tuple[int, ...]) -> np.ndarray:
    """shap values for one explained sample as an array ``n_outputs × *feature_shape``.

    Accepts the layouts shap has used: a list with one array per output (older shap,
    each ``1×features`` or ``features``); one array with a trailing output axis
    (``1×features×outputs`` or ``features×outputs``); and, for a single output, an array
    without an output axis. Anything else raises :class:`~xaihub.ValidationError`.
    """
    if isinstance(values, (list, tuple)):
        if len(values) != n_outputs:
            raise ValidationError(f"shap returned {len(values)} outputs, expected {n_outputs}")
        return np.stack([_one_sample(np.asarray(v), feature_shape) for v in values])
    array = np.asarray(values)
    if array.shape in ((1, *feature_shape, n_outputs), (*feature_shape, n_outputs)):
        return np.moveaxis(array.reshape(*feature_shape, n_outputs), -1, 0)
    if n_outputs == 1 and array.shape in ((1, *feature_shape), feature_shape):
        return array.reshape(1, *feature_shape)
    raise ValidationError(
        f"shap returned values of shape {array.shape}; expected {n_outputs} output(s) of shape {feature_shape} "
        f"for one sample, as a list or with a trailing output axis"
    )


def _one_sample(array: np.ndarray, feature_shape: tuple[int, ...]) -> np.ndarray:
    if array.shape not in ((1, *feature_shape), feature_shape):
        raise ValidationError(
            f"shap returned an output of shape {array.shape}; expected {feature_shape} for one sample"
        )
    return array.reshape(feature_shape)
