"""The curve metrics' cost (issue 28): batches of the adapter's size, each image's endpoints scored once, and the
same values as the curves computed the old way (eight images a call, every point predicted)."""

import numpy as np
import pytest

from xaihub.core.cache import RunCache
from xaihub.metrics import faithfulness, regions
from xaihub.metrics.faithfulness import ENDPOINT_CACHE, deletion_auc, insertion_auc
from xaihub.metrics.regions import region_curves
from xaihub.models import ModelOptions
from xaihub.registry.plugins import adapt

IMAGE = np.random.default_rng(0).integers(0, 256, (24, 20, 3), dtype=np.uint8)
MAP = np.random.default_rng(1).normal(size=(24, 20))


def smooth_model(batch):
    """A nonlinear model of the whole image (no plateaus), so that every point of a curve matters."""
    x = batch.reshape(len(batch), -1, 3)
    logits = np.stack([np.tanh(x[:, ::3, 0].mean(1) * 3), x[:, 1::2, 1].mean(1) ** 2, np.sin(x[:, :, 2].mean(1) * 4)], 1)
    return logits * 4


def adapter(batch_size=64):
    model = adapt(smooth_model, ModelOptions(batch_size=batch_size, output="logits"))
    model.cache = RunCache(lambda: model.forward_passes)
    return model


def old_switching_curve(model, start, end, rank, counts, target):
    """The curve as it was computed before: eight images a call, the endpoints predicted like every point."""
    curve = []
    for chunk in np.array_split(counts, -(-len(counts) // 8)):
        switched = rank[None] < chunk[:, None, None]
        curve.append(model.predict(np.where(switched[..., None], end[None], start[None]))[:, target])
    return np.concatenate(curve)


def values(model):
    curves = region_curves(model, IMAGE, MAP, 1, patches=5, steps=10)
    return [deletion_auc(model, IMAGE, MAP, 1, 12), insertion_auc(model, IMAGE, MAP, 1, 12), curves.morf_auc,
            curves.lerf_auc]


def test_the_values_are_those_of_the_old_curves(monkeypatch):
    new = values(adapter())
    monkeypatch.setattr(faithfulness, "switching_curve", old_switching_curve)
    monkeypatch.setattr(regions, "switching_curve", old_switching_curve)
    old = values(adapter())
    assert new == pytest.approx(old, abs=1e-9)
    assert len(set(np.round(new, 6))) == 4  # four different numbers: the comparison can fail


def test_a_second_map_of_the_image_finds_the_endpoints_and_another_image_does_not():
    model = adapter()
    deletion_auc(model, IMAGE, MAP, 0, 10)
    assert model.forward_passes == 11
    model.reset_count()
    deletion_auc(model, IMAGE, -MAP, 0, 10)
    assert model.forward_passes == 9 and model.cache.hits[ENDPOINT_CACHE] == 2
    model.reset_count()
    insertion_auc(model, IMAGE, MAP, 2, 10)  # the image's score is there, the blurred image's is not
    assert model.forward_passes == 10
    model.reset_count()
    deletion_auc(model, IMAGE[::-1].copy(), MAP, 0, 10)  # another image, the same black end
    assert model.forward_passes == 10


def test_srg_scores_its_endpoints_once_for_both_curves():
    model = adapter()
    region_curves(model, IMAGE, MAP, 1, patches=4, steps=16)
    assert model.forward_passes == 2 * 15 + 2


class RecordingAdapter:
    """Wraps an adapter and records the size of every batch the metric asks ``predict`` for."""

    def __init__(self, model, per_batch):
        self.model, self.per_batch, self.sizes = model, per_batch, []

    def images_per_batch(self, height, width):
        return self.per_batch

    def predict(self, images):
        self.sizes.append(len(images))
        return self.model.predict(images)

    def __getattr__(self, name):
        return getattr(self.model, name)


@pytest.mark.parametrize("per_batch", [3, 64])
def test_curves_are_predicted_in_the_adapters_batches(per_batch):
    recording = RecordingAdapter(adapter(), per_batch)
    deletion_auc(recording, IMAGE, MAP, 0, 20)
    assert sorted(recording.sizes) == sorted([1, 1] + [per_batch] * (19 // per_batch) + [19 % per_batch] * (19 % per_batch > 0))
    assert max(recording.sizes) <= per_batch
