"""Superpixels sized to the image: on 32×32 and 48×48 images every superpixel method points at the object."""

import pytest

import xaihub
from xaihub.ground_truth import demo

SUPERPIXEL_METHODS = {
    "native.lime": {"num_samples": 200},
    "native.kernelshap": {"num_samples": 200},
    "lime.image": {"num_samples": 200},
    "shap.kernel": {"num_samples": 200},
    "omnixai.lime": {"num_samples": 200, "num_features": 1},
}
IMAGES = 10


@pytest.fixture(scope="module", params=[32, 48])
def small_problem(request):
    pytest.importorskip("torch")
    size = request.param
    model = demo.train_torch_model(seed=0, n=1500, size=size, epochs=10)
    data = demo.shapes_dataset(IMAGES, size=size, seed=7)
    return model, data


def points_at(explanation, mask) -> bool:
    """The highest-attributed pixels (the top superpixel) lie mostly on the object."""
    top = explanation.attribution >= explanation.attribution.max() - 1e-12
    return (top & mask).sum() / top.sum() >= 0.5


def test_superpixel_methods_point_at_the_object_on_small_images(small_problem):
    model, data = small_problem
    hits = {method: 0 for method in SUPERPIXEL_METHODS}
    for image, mask, label in zip(data.images, data.masks, data.labels):
        result = xaihub.explain(model, image, methods=list(SUPERPIXEL_METHODS), targets=int(label),
                                params=SUPERPIXEL_METHODS)
        assert result.ok, result.failures
        for method in SUPERPIXEL_METHODS:
            explanation = result.get(method)
            assert "warning" not in explanation.extras, explanation.extras["warning"]
            hits[method] += points_at(explanation, mask)
    assert all(count >= 0.8 * IMAGES for count in hits.values()), hits
