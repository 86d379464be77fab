"""Honest costs: a method that reuses shared work is charged that work's cost, so the costs reported for
each method are the same whatever the order of ``methods``."""

import time

import numpy as np
import pytest

import xaihub
from xaihub import Explainer, Explanation
from xaihub.core.cache import RunCache

from toy_models import linear_model

IMAGE = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)


class Counter:
    """A stand-in for the adapter's forward-pass counter."""

    def __init__(self):
        self.passes = 0

    def run(self, passes):
        self.passes += passes
        return passes


def test_a_reuser_is_charged_what_the_entry_cost_and_each_entry_once():
    counter = Counter()
    cache = RunCache(lambda: counter.passes)
    first = cache.begin_method()
    segments = cache.get_or_compute("segments", 1, lambda: counter.run(5))
    cache.get_or_compute("samples", 1, lambda: counter.run(100) + segments)
    assert first.cost.forward_passes == 0 and counter.passes == 105
    second = cache.begin_method()
    cache.get_or_compute("segments", 1, lambda: pytest.fail("recomputed"))
    cache.get_or_compute("samples", 1, lambda: pytest.fail("recomputed"))
    cache.get_or_compute("samples", 1, lambda: pytest.fail("recomputed"))
    assert second.cost.forward_passes == 105 and cache.hits == {"segments": 1, "samples": 2}


def test_an_entry_computed_inside_another_is_charged_once_with_it():
    counter = Counter()
    cache = RunCache(lambda: counter.passes)
    cache.begin_method()

    def samples():
        inner = cache.get_or_compute("segments", 1, lambda: counter.run(5))
        return counter.run(100) + inner

    cache.get_or_compute("samples", 1, samples)
    only_samples = cache.begin_method()
    cache.get_or_compute("samples", 1, samples)
    assert only_samples.cost.forward_passes == 105  # its segments came with it
    both = cache.begin_method()
    cache.get_or_compute("segments", 1, lambda: pytest.fail("recomputed"))
    cache.get_or_compute("samples", 1, samples)
    assert both.cost.forward_passes == 105  # segments are not charged twice


def test_a_method_that_reuses_in_its_own_computation_is_charged_for_it():
    counter = Counter()
    cache = RunCache(lambda: counter.passes)
    cache.begin_method()
    cache.get_or_compute("segments", 1, lambda: counter.run(5))
    later = cache.begin_method()
    cache.get_or_compute("samples", 1, lambda: counter.run(100) + cache.get_or_compute("segments", 1, int))
    assert later.cost.forward_passes == 5 and counter.passes == 105
    third = cache.begin_method()
    cache.get_or_compute("samples", 1, int)
    assert third.cost.forward_passes == 105


@pytest.mark.parametrize("order", [["native.lime", "native.kernelshap"], ["native.kernelshap", "native.lime"]])
def test_lime_and_kernelshap_cost_the_same_in_either_order(order):
    params = {"native.lime": {"num_samples": 60}, "native.kernelshap": {"num_samples": 60}}
    alone = {m: xaihub.explain(linear_model(), IMAGE, methods=[m], params={m: params[m]}) for m in order}
    together = xaihub.explain(linear_model(), IMAGE, methods=order, params=params)
    first, second = order
    for method in order:
        assert together.forward_passes[method] == alone[method].forward_passes[method]
        assert together.get(method).forward_passes == together.forward_passes[method]
    assert together.reused_forward_passes[first] == 0 and together.reused_seconds[first] == 0
    assert together.reused_forward_passes[second] == 60  # the shared perturbation set
    assert 0 < together.reused_seconds[second] <= together.timings[second]
    assert together.get(second).reused_forward_passes == 60


def test_the_cost_table_is_the_same_in_either_order(tmp_path):
    from report_cases import parse

    params = {"native.lime": {"num_samples": 60}, "native.kernelshap": {"num_samples": 60}}
    tables = []
    for order in (["native.lime", "native.kernelshap"], ["native.kernelshap", "native.lime"]):
        result = xaihub.explain(linear_model(), IMAGE, methods=order, params=params)
        page = open(result.report(tmp_path / f"{order[0]}.html", sort_by="name"), encoding="utf-8").read()
        timings = page.split("<table class='data timings'>")[1].split("</table>")[0]
        tables.append([(a["data-method"], a["data-forward-passes"]) for tag, a in parse(timings).tags
                       if tag == "tr" and "data-method" in a])
    assert tables[0] == tables[1] == [("native.kernelshap", "61"), ("native.lime", "60")]


class SharedSlow(Explainer):
    """Two methods sharing one slow, model-calling result through the run cache."""

    defaults = {}

    def __init__(self, name):
        self.name = name

    def explain(self, model, image, targets, *, seed):
        def shared():
            time.sleep(0.2)
            return model.predict(np.repeat(image[None], 7, axis=0))

        model.cache.get_or_compute("test.shared", 0, shared)
        model.predict(image[None])
        return [Explanation(target=t, attribution=np.ones(image.shape[:2])) for t in targets]


@pytest.mark.parametrize("order", [("test.a", "test.b"), ("test.b", "test.a")])
def test_shared_seconds_are_charged_to_every_user(registered, order):
    for name in order:
        registered(SharedSlow(name))
    result = xaihub.explain(linear_model(), IMAGE, methods=list(order))
    for method in order:
        assert result.forward_passes[method] == 8 and result.timings[method] >= 0.2
    assert result.reused_seconds[order[1]] >= 0.2 and result.reused_forward_passes[order[1]] == 7
    assert result.reused_seconds[order[0]] == 0


def test_costs_are_saved_and_loaded_with_the_explanation_and_in_the_run_index(registered, tmp_path):
    from xaihub.run.run_directory import read_index

    registered(SharedSlow("test.a"))
    registered(SharedSlow("test.b"))
    explanation = xaihub.explain(linear_model(), IMAGE, methods=["test.a", "test.b"]).get("test.b")
    explanation.save(tmp_path / "b.npz")
    loaded = xaihub.Explanation.load(tmp_path / "b.npz")
    assert (loaded.seconds, loaded.forward_passes, loaded.reused_seconds, loaded.reused_forward_passes) == (
        explanation.seconds, 8, explanation.reused_seconds, 7)
    xaihub.explain_many(linear_model(), [IMAGE], methods=["test.a", "test.b"], out=tmp_path / "run")
    lines = {line["method"]: line for line in read_index(tmp_path / "run")}
    assert lines["test.b"]["reused_forward_passes"] == 7 and lines["test.b"]["forward_passes"] == 8
    assert lines["test.a"]["reused_forward_passes"] == 0 and lines["test.b"]["reused_seconds"] >= 0.2


class Slow(Explainer):
    """Calls the model in three steps with pauses, as a long method does."""

    name = "test.slow"

    def explain(self, model, image, targets, *, seed):
        for _ in range(3):
            model.predict(np.repeat(image[None], 5, axis=0))
            time.sleep(0.15)  # past tqdm's redraw interval, so each step is drawn
        return [Explanation(target=t, attribution=np.ones(image.shape[:2])) for t in targets]


def test_progress_shows_the_forward_passes_of_the_running_method(registered, capsys):
    registered(Slow())
    model = xaihub.registry.plugins.adapt(linear_model())
    xaihub.explain(model, IMAGE, methods=["test.slow"], progress=True)
    shown = capsys.readouterr().err
    assert "test.slow: 10 forward passes" in shown and "1/1" in shown
    assert model.on_forward is None  # the display stops listening when explain returns
