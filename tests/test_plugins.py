import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xaihub
from xaihub import Explainer, Explanation, XaihubError, hookimpl
from xaihub.registry.plugins import list_methods, load_failures

from toy_models import linear_model

HERE = Path(__file__).parent


class Brightness(Explainer):
    """The plugin guide's (docs/howto/plugin.md) ten-line custom explainer: attribution = pixel brightness."""

    name = "mine.brightness"
    defaults = {"power": 1.0}

    def explain(self, model, image, targets, *, seed, power):
        attribution = (image.mean(axis=2) / 255.0) ** power
        return [Explanation(target=t, attribution=attribution) for t in targets]


def test_runtime_explainer_runs_beside_native_lime():
    xaihub.register(Brightness())
    try:
        image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
        result = xaihub.explain(linear_model(), image, methods=["mine.brightness", "native.lime"],
                                targets=[0, 2], params={"mine.brightness": {"power": 2.0}})
        assert result.ok, result.failures
        mine = result.get("mine.brightness", 2)
        np.testing.assert_allclose(mine.attribution, (image.mean(axis=2) / 255.0) ** 2, rtol=1e-6)
        assert mine.params == {"power": 2.0}
        assert {e.method for e in result} == {"mine.brightness", "native.lime"}
        assert "mine.brightness" in [m.explainer.name for m in list_methods()]
    finally:
        xaihub.unregister("mine.brightness")
    assert "mine.brightness" not in [m.explainer.name for m in list_methods()]


def test_register_accepts_a_hookimpl_module_like_object_and_rejects_duplicates():
    class Plugin:
        @hookimpl
        def register_explainers(self, register):
            register(Brightness())

    xaihub.register(Plugin(), name="brightness-plugin")
    try:
        with pytest.raises(XaihubError, match="already registered"):
            xaihub.register(Brightness())
    finally:
        xaihub.unregister("brightness-plugin")


def test_a_plugin_that_raises_while_registering_is_refused_with_its_error():
    class Broken:
        @hookimpl
        def register_explainers(self, register):
            raise RuntimeError("boom")

    with pytest.raises(XaihubError, match="boom"):
        xaihub.register(Broken(), name="broken")
    assert "broken" not in {m.plugin for m in list_methods()}


def test_names_must_be_namespaced():
    class Bare(Brightness):
        name = "bare"

    with pytest.raises(XaihubError, match="namespaced"):
        xaihub.register(Bare())


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory) -> str:
    """tests/plugin_dist installed (offline) into a private folder; returns that folder."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(HERE / "plugin_dist")],
        check=True, capture_output=True,
    )
    return str(target)


def _run(code: str, site: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": site, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, check=True)


def test_entry_point_plugin_is_listed_and_runs(installed_plugin):
    code = (
        "import numpy as np, xaihub;"
        "from xaihub.cli import main; main(['list']);"
        "r = xaihub.explain(lambda b: b.mean(axis=(1, 2)), np.zeros((16, 16, 3), np.uint8),"
        " methods=['constant.center', 'native.lime'], targets=0);"
        "print('OK', r.ok, r.get('constant.center').attribution[8, 8], r.get('constant.center').forward_passes)"
    )
    out = _run(code, installed_plugin).stdout
    assert "constant.center" in out and "constant" in out
    assert "OK True 1.0 1" in out


def test_env_var_limits_which_plugins_load(installed_plugin):
    code = "import xaihub; print(sorted(m.explainer.name for m in xaihub.list_methods()))"
    assert "constant.center" not in _run(code, installed_plugin, XAIHUB_PLUGINS="native").stdout
    only = _run(code, installed_plugin, XAIHUB_PLUGINS="constant").stdout
    assert "constant.center" in only and "native.lime" not in only


def test_a_plugin_that_fails_to_import_is_reported_and_others_still_load(tmp_path, installed_plugin):
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[xaihub]\nbroken = broken_plugin_module\n")
    (tmp_path / "broken_plugin_module.py").write_text("raise ImportError('needs a library that is not here')\n")
    site = f"{tmp_path}{os.pathsep}{installed_plugin}"
    out = _run("from xaihub.cli import main; main(['list'])", site).stdout
    assert "plugins that failed to load" in out
    assert "broken: ImportError: needs a library that is not here" in out
    assert "constant.center" in out and "native.lime" in out


def test_cli_list_shows_native_lime():
    out = subprocess.run([Path(sys.executable).parent / "xaihub", "list"], capture_output=True, text=True, check=True)
    assert "native.lime" in out.stdout and "predictions (any model)" in out.stdout


def test_load_failures_is_empty_for_the_full_install():
    assert load_failures() == []


def test_hooks_are_called_through_pluggy_for_the_new_plugin_alone():
    from xaihub.registry.plugins import _plugin_manager

    class Plugin:
        @hookimpl
        def register_explainers(self, register):
            register(Brightness())

    calls = []
    undo = _plugin_manager().add_hookcall_monitoring(
        lambda hook, impls, kwargs: calls.append((hook, [impl.plugin_name for impl in impls])), lambda *args: None)
    try:
        xaihub.register(Plugin(), name="traced")
    finally:
        undo()
        xaihub.unregister("traced")
    assert ("register_explainers", ["traced"]) in calls
    assert ("register_metrics", []) in calls  # asked of this plugin only; it offers none


def test_unregister_takes_the_name_register_was_given_or_derived():
    import types

    module = types.ModuleType("my_brightness_plugin")
    module.register_explainers = hookimpl(lambda register: register(Brightness()))
    xaihub.register(module)  # a module is named after its __name__
    assert xaihub.registry.plugins.get_method("mine.brightness").plugin == "my_brightness_plugin"
    xaihub.unregister("my_brightness_plugin")
    xaihub.register(Brightness)  # a class, instantiated; named after its method
    xaihub.unregister("mine.brightness")
    assert "mine.brightness" not in [m.explainer.name for m in list_methods()]


def test_unregister_takes_entry_point_names_and_a_plugin_can_come_back():
    import xaihub_baseline.plugin

    xaihub.unregister("baseline")
    try:
        assert not {"baseline.noise", "baseline.centre"} & {m.explainer.name for m in list_methods()}
    finally:
        xaihub.register(xaihub_baseline.plugin, name="baseline")
    assert xaihub.registry.plugins.get_method("baseline.noise").plugin == "baseline"


@pytest.mark.parametrize("name, message", [
    ("nothing-here", "no plugin named 'nothing-here'; registered plugins: .*native"),
    ("native.kernelshap", "'native.kernelshap' belongs to plugin 'native'"),
    ("xaihub.models", "core's own plugins"),
    ("xaihub.metrics", "core's own plugins"),
])
def test_unregister_refuses_what_is_not_a_removable_plugin(name, message):
    with pytest.raises(xaihub.InputError, match=message):
        xaihub.unregister(name)
    assert "native.lime" in {m.explainer.name for m in list_methods()}


def test_methods_are_required_the_core_names_no_default_method():
    import inspect

    for function in (xaihub.explain, xaihub.explain_many):
        assert inspect.signature(function).parameters["methods"].default is inspect.Parameter.empty
    with pytest.raises(xaihub.InputError, match="methods must be a list"):
        xaihub.explain(linear_model(), np.zeros((16, 16, 3), np.uint8), methods=None)


def test_methods_for_lists_the_methods_whose_needs_a_model_meets():
    from xaihub.registry.plugins import adapt, methods_for

    on_callable = methods_for(adapt(linear_model()))
    assert "native.lime" in on_callable and "gradients.saliency" not in on_callable
    assert all(xaihub.registry.plugins.get_method(m).explainer.requires.kind == xaihub.BLACK_BOX for m in on_callable)
