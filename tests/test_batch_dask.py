import numpy as np
import pytest

import xaihub
from xaihub import Explanation
from xaihub.run.executors import local_cluster
from xaihub.run.run_directory import read_index

from toy_models import CountingPickles, refuses_dark_images

distributed = pytest.importorskip("distributed")

LIME = {"native.lime": {"num_samples": 25, "fill": "mean"}}


def images():
    """22 images: 20 fine, one with NaN (refused) and one black (the model raises)."""
    batch = list(np.random.default_rng(5).integers(30, 256, (20, 16, 16, 3), dtype=np.uint8))
    return batch[:7] + [np.full((16, 16, 3), np.nan)] + batch[7:15] + [np.zeros((16, 16, 3), np.uint8)] + batch[15:]


@pytest.fixture(scope="module")
def client():
    with local_cluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                       dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


def test_starting_a_cluster_leaves_the_environment_alone(client):
    import os

    assert "__DASK_PARENT_PID" not in os.environ


def by_key(out):
    return {(r["image"], r["method"], r["target"]): r for r in read_index(out)}


def test_a_dask_run_equals_the_in_process_run(tmp_path, client):
    model = CountingPickles(refuses_dark_images)
    local = xaihub.explain_many(model, images(), targets="top-2", params=LIME, out=tmp_path / "local", methods=["native.lime"])
    assert CountingPickles.pickled == 0
    remote = xaihub.explain_many(model, images(), targets="top-2", params=LIME, out=tmp_path / "dask",
                                 executor=client, methods=["native.lime"])
    assert 1 <= CountingPickles.pickled <= 2  # shipped once (per worker at most), not once per image
    assert (remote.done, remote.failed) == (local.done, local.failed) == (40, 2)
    local_lines, remote_lines = by_key(tmp_path / "local"), by_key(tmp_path / "dask")
    assert local_lines.keys() == remote_lines.keys()
    for key, line in local_lines.items():
        other = remote_lines[key]
        assert (other["status"], other["error"], other["score"]) == (line["status"], line["error"], line["score"])
        if line["status"] == "ok":
            np.testing.assert_allclose(Explanation.load(tmp_path / "dask" / other["file"]).attribution,
                                       Explanation.load(tmp_path / "local" / line["file"]).attribution, atol=1e-6)
    assert {line["image"] for line in remote_lines.values() if line["status"] == "failed"} == {"7", "16"}
    again = xaihub.explain_many(model, images(), targets="top-2", params=LIME, out=tmp_path / "dask",
                                executor=client, methods=["native.lime"])
    assert (again.done, again.skipped, again.failed) == (0, 40, 2)


def test_executor_dask_starts_a_local_cluster_and_closes_it(tmp_path, monkeypatch):
    started = []

    class RecordedCluster(distributed.LocalCluster):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(distributed, "LocalCluster", RecordedCluster)
    summary = xaihub.explain_many(refuses_dark_images, images()[:3], methods=["native.lime"], params=LIME,
                                  out=tmp_path, executor="dask")
    assert summary.done == 3
    assert len(started) == 1 and started[0].status.name == "closed"


def test_a_model_that_cannot_be_shipped_is_refused_clearly(tmp_path, client):
    import functools
    import threading

    model = functools.partial(refuses_dark_images)
    model.lock = threading.Lock()  # a callable holding a lock: works here, cannot be pickled
    with pytest.raises(xaihub.InputError, match="cannot ship the model to the Dask workers"):
        xaihub.explain_many(model, images()[:2], params=LIME, out=tmp_path, executor=client, methods=["native.lime"])
