"""The register_metrics hook: run-time and entry-point metric plugins, the registry's rules, lower_is_better."""

import os
import subprocess
import sys

import numpy as np
import pytest

import xaihub
from xaihub import Explanation, InputError, MethodUnavailableError, Metric, XaihubError
from xaihub.contracts.explainer import Requirement
from xaihub.contracts.metric import WEIGHTS
from xaihub.registry.plugins import LOWER_IS_BETTER, get_metric, list_metrics, lower_is_better

from toy_models import region_model, tiles_image

IMAGE, REGION = tiles_image(tile=2)


class Mass(Metric):
    """Share of |attribution| inside a box; asks the model ``passes`` times, as a real metric might."""

    name = "mine.mass"
    summary = "share of |attribution| inside the box"
    lower_is_better = {"mine.mass": False, "mine.mass.outside": True}
    defaults = {"passes": 2}
    required = ("box",)

    def check_params(self, params):
        if len(params["box"]) != 4:
            raise InputError(f"box is (top, left, bottom, right), got {params['box']!r}")

    def compute(self, model, explanation, *, seed, box, passes):
        model.predict(np.repeat(explanation.image[None], passes, axis=0))
        magnitude = np.abs(explanation.attribution)
        top, left, bottom, right = box
        inside = magnitude[top:bottom, left:right].sum() / magnitude.sum()
        return {"mine.mass": inside, "mine.mass.outside": 1 - inside}


class Region(xaihub.Explainer):
    """The region itself as the map; one forward pass."""

    name = "test.region"

    def explain(self, model, image, targets, *, seed):
        model.predict(image[None])
        return [Explanation(target=t, attribution=REGION.astype(np.float32)) for t in targets]


@pytest.fixture
def mass():
    xaihub.register(Mass())
    yield "mine.mass"
    xaihub.unregister("mine.mass")


def test_a_run_time_metric_runs_with_its_parameters_and_its_own_forward_passes(registered, mass):
    method = registered(Region())
    rows, cols = np.nonzero(REGION)
    box = (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1)
    result = xaihub.explain(region_model(REGION), IMAGE, methods=[method], targets=1,
                            metrics={mass: {"box": box, "passes": 3}, "deletion": None})
    explanation = result.get(method)
    assert explanation.metrics["mine.mass"] == pytest.approx(1.0)
    assert explanation.metrics["mine.mass.outside"] == pytest.approx(0.0)
    assert "deletion" in explanation.metrics
    assert explanation.forward_passes == result.forward_passes[method] == 1
    assert explanation.extras["metric_costs"][mass]["forward_passes"] == 3
    assert explanation.extras["metric_costs"]["deletion"]["forward_passes"] == 21
    assert mass in [m.metric.name for m in list_metrics()] and get_metric(mass).plugin == mass
    assert lower_is_better("mine.mass") is False and lower_is_better("mine.mass.outside") is True
    assert "mine.mass.outside" in LOWER_IS_BETTER


def test_unregistering_a_metric_removes_it_and_its_values(mass):
    xaihub.unregister(mass)
    assert lower_is_better("mine.mass") is None
    with pytest.raises(InputError, match="unknown metric 'mine.mass'; registered metrics: .*deletion"):
        get_metric(mass)
    xaihub.register(Mass())  # for the fixture's teardown


def test_metric_parameters_are_checked_before_any_method_runs(registered, mass):
    calls = []

    class Spy(Region):
        name = "test.spy"

        def explain(self, model, image, targets, *, seed):
            calls.append(1)
            return super().explain(model, image, targets, seed=seed)

    spy = registered(Spy())
    with pytest.raises(InputError, match=r"metric mine.mass needs parameter\(s\) \['box'\]"):
        xaihub.explain(region_model(REGION), IMAGE, methods=[spy], metrics=[mass])
    with pytest.raises(InputError, match="box is"):
        xaihub.explain(region_model(REGION), IMAGE, methods=[spy], metrics={mass: {"box": (1, 2)}})
    with pytest.raises(InputError, match=r"unknown parameter\(s\) \['colour'\]; it accepts \['box', 'passes', 'reading'\]"):
        xaihub.explain(region_model(REGION), IMAGE, methods=[spy], metrics={mass: {"box": (0, 0, 1, 1),
                                                                                  "colour": 1}})
    assert calls == []


def test_a_metric_the_model_cannot_serve_is_refused_before_any_method_runs(registered):
    calls = []

    class Spy(Region):
        name = "test.spy"

        def explain(self, model, image, targets, *, seed):
            calls.append(1)
            return super().explain(model, image, targets, seed=seed)

    spy = registered(Spy())
    with pytest.raises(MethodUnavailableError, match=r"sanity.randomization needs weights \(torch, keras\) but the "
                                                     r"model is a 'callable' model"):
        xaihub.explain(region_model(REGION), IMAGE, methods=[spy], metrics=["sanity.randomization"])
    assert calls == []


def test_a_metric_returning_undeclared_values_is_a_failure_beside_the_explanation_and_the_others_are_kept(registered):
    class Sloppy(Metric):
        name = "mine.sloppy"
        lower_is_better = {"mine.sloppy": False}

        def compute(self, model, explanation, *, seed):
            return {"mine.sloppy": 1.0, "surprise": 2.0}

    method = registered(Region())
    xaihub.register(Sloppy())
    try:
        result = xaihub.explain(region_model(REGION), IMAGE, methods=[method], metrics=["mine.sloppy", "deletion"])
    finally:
        xaihub.unregister("mine.sloppy")
    assert set(result.get(method).metrics) == {"deletion"} and not result.failures  # kept beside the explanation
    assert "undeclared value(s) ['surprise']" in result.get(method).extras["metric_failures"]["mine.sloppy"]


@pytest.mark.parametrize("name, values, message", [
    ("bare", {"bare": True}, "namespaced"),
    ("mine.odd", {"other": True}, "value names start with 'mine.odd.'"),
    ("mine.none", {}, "must declare its values"),
    ("mine.clash", {"mine.clash": True, "deletion": True}, "value names start with"),
    ("deletion", {"deletion": True}, "namespaced"),
])
def test_registry_rules(name, values, message):
    class Odd(Metric):
        lower_is_better = values

        def compute(self, model, explanation, *, seed):
            return {}

    Odd.name = name
    with pytest.raises(XaihubError, match=message):
        xaihub.register(Odd())
    assert name not in [m.metric.name for m in list_metrics()] or name == "deletion"


def test_a_metric_name_or_value_cannot_be_registered_twice(mass):
    class Twin(Mass):
        name = "mine.mass.outside"
        lower_is_better = {"mine.mass.outside": True}

    with pytest.raises(XaihubError, match="metric 'mine.mass' is already registered by plugin 'mine.mass'"):
        xaihub.register(Mass(), name="another")
    with pytest.raises(XaihubError, match="value 'mine.mass.outside' of metric 'mine.mass.outside' is already "
                                          "produced by 'mine.mass'"):
        xaihub.register(Twin())
    assert "mine.mass.outside" not in [m.metric.name for m in list_metrics()]


def test_builtin_metrics_are_registered_by_the_core_with_their_directions():
    builtins = {m.metric.name: m.plugin for m in list_metrics() if m.plugin == "xaihub.metrics"}
    assert builtins == dict.fromkeys(["degradation", "deletion", "insertion", "pointing_game", "relevance_mass",
                                      "sanity.cascading", "sanity.randomization", "sanity.smooth_randomization",
                                      "srg"], "xaihub.metrics")
    assert [lower_is_better(v) for v in ("deletion", "insertion", "degradation", "degradation_top1")] == [
        True, False, True, None]
    assert [lower_is_better(v) for v in ("srg", "srg_morf", "srg_lerf")] == [False, True, False]
    assert lower_is_better("sanity.randomization.spearman") is True
    assert [lower_is_better(f"sanity.randomization.{v}") for v in ("emprt", "emprt_passes")] == [False, None]
    assert lower_is_better("sanity.cascading.auc") is True and lower_is_better("sanity.smooth_randomization.spearman")
    assert lower_is_better("no.such.value") is None
    # the old constant reads the registry too
    assert {"deletion", "degradation", "sanity.randomization.ssim"} <= LOWER_IS_BETTER
    assert "insertion" not in LOWER_IS_BETTER and "degradation_top1" not in LOWER_IS_BETTER
    assert get_metric("sanity.randomization").metric.requires == Requirement(WEIGHTS, ("torch", "keras"))


def test_builtin_metrics_work_with_no_plugin_loaded(tmp_path):
    code = ("import numpy as np, xaihub;"
            "print(sorted(m.metric.name for m in xaihub.list_metrics()), sorted(m.explainer.name for m in "
            "xaihub.list_methods()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "XAIHUB_PLUGINS": ""}).stdout
    assert out.strip() == ("['degradation', 'deletion', 'insertion', 'pointing_game', 'relevance_mass', "
                           "'sanity.cascading', 'sanity.randomization', 'sanity.smooth_randomization', 'srg'] []")


def test_a_metric_plugin_that_fails_to_register_is_recorded_and_the_others_still_load(tmp_path):
    dist = tmp_path / "broken_metrics-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-metrics\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[xaihub]\nbrokenmetrics = broken_metrics_module\n")
    (tmp_path / "broken_metrics_module.py").write_text(
        "from xaihub import Metric, hookimpl\n"
        "class Partial(Metric):\n"
        "    name = 'broken.partial'\n"
        "    lower_is_better = {'broken.partial': True}\n"
        "    def compute(self, model, explanation, *, seed):\n"
        "        return {}\n"
        "@hookimpl\n"
        "def register_metrics(register):\n"
        "    register(Partial())\n"
        "    raise RuntimeError('cannot find its library')\n")
    code = "from xaihub.cli import main; main(['list'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)}).stdout
    assert "brokenmetrics: RuntimeError: cannot find its library" in out
    assert "broken.partial" not in out  # registered before the error, removed with its plugin
    assert "deletion" in out and "native.lime" in out


def test_cli_list_shows_metrics_with_their_plugin_and_needs(capsys):
    from xaihub.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    methods, metrics = out.split("\nmetric ")
    assert "native.lime" in methods
    row = next(line for line in metrics.splitlines() if line.startswith("sanity.randomization"))
    assert "xaihub.metrics" in row and "weights (torch, keras)" in row and "available" in row
