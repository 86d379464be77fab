"""Whatever a model returns, `explain` either explains it or raises a clear xaihub error — never another
exception, never a silent wrong answer."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xaihub
from xaihub import InputError, ModelError

IMAGE = np.random.default_rng(0).integers(0, 255, (16, 16, 3)).astype(np.uint8)

dtypes = st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_, np.complex64])
shapes = st.one_of(st.just(()), hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4))


def raw_output(draw, batch: int):
    kind = draw(st.sampled_from(["array", "tuple", "dict", "list", "none", "scalar"]))
    if kind == "none":
        return None
    if kind == "scalar":
        return draw(st.floats(allow_nan=True))
    shape = draw(st.one_of(st.just((batch, draw(st.integers(0, 5)))), shapes))
    array = draw(hnp.arrays(draw(dtypes), shape, elements=None)) if np.prod(shape) < 64 else np.zeros(shape)
    if kind == "tuple":
        return (array, np.zeros((batch, 2)))
    if kind == "dict":
        return {draw(st.sampled_from(["logits", "scores"])): array}
    if kind == "list":
        return list(array) if array.ndim else [array]
    return array


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_model_output_is_explained_or_refused_clearly(data):
    def model(batch):
        return raw_output(data.draw, len(batch))

    try:
        result = xaihub.explain(model, IMAGE, methods=["baseline.noise"])
    except (InputError, ModelError):
        return
    probabilities = result.probabilities
    assert probabilities.ndim == 1 and len(probabilities) >= 1
    assert np.isfinite(probabilities).all() and (probabilities >= 0).all() and (probabilities <= 1).all()
    assert all(0 <= t < len(probabilities) for t in result.targets)
