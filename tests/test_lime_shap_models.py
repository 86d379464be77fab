"""lime.image, shap.kernel and shap.partition on the trained demo models (plugins xaihub-lime, xaihub-shap)."""

import numpy as np
import pytest

import xaihub

pytest.importorskip("lime")
pytest.importorskip("shap")

PARAMS = {"lime.image": {"num_samples": 300}, "shap.kernel": {"num_samples": 300},
          "shap.partition": {"max_evals": 300}}


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_library_methods_find_the_object_on_a_real_model(framework, request, object_image):
    model = request.getfixturevalue(f"{framework}_model")
    image, mask, label = object_image
    was_training = getattr(model, "training", None)
    result = xaihub.explain(model, image, methods=list(PARAMS), targets=label, params=PARAMS)
    assert result.ok, result.failures
    assert getattr(model, "training", None) == was_training
    for method in ("lime.image", "shap.kernel"):
        explanation = result.get(method, label)
        top = explanation.top_segments(1)
        assert (top & mask).sum() > 0.9 * top.sum(), method  # the best superpixel is the disc
        assert explanation.forward_passes <= 302
    partition = result.get("shap.partition", label)
    attribution = partition.attribution
    assert attribution[mask].mean() > 5 * np.abs(attribution[~mask]).mean()
    assert attribution.sum() == pytest.approx(partition.score - partition.extras["masked_score"], abs=1e-4)
