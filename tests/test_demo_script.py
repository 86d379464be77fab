"""The `make demo` script: its budgets name real parameters, and it runs end to end on the real model."""

from __future__ import annotations

import importlib.util
import os

import pytest

import xaihub
from xaihub.run.runner import check_params

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def demo_script():
    spec = importlib.util.spec_from_file_location("xaihub_demo_script", os.path.join(ROOT, "examples", "demo.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("budgets", ["BUDGETS", "DEMO_BUDGETS"])
def test_every_budget_is_a_valid_parameter_of_a_registered_method(demo_script, budgets):
    chosen = getattr(demo_script, budgets)
    unknown = set(chosen) - {r.explainer.name for r in xaihub.list_methods()}
    assert not unknown, f"the demo budgets {unknown}, which no plugin registers"
    check_params(chosen, list(chosen))  # as explain checks them


def test_the_demo_families_exist_and_choose_methods_from_four_libraries_besides_xaihubs(demo_script,
                                                                                      imagenet_torch, coffee):
    from xaihub.method_benchmark import default_methods
    from xaihub.models import ModelOptions

    model = xaihub.adapt(imagenet_torch.model, ModelOptions(preprocess=imagenet_torch.preprocess))
    model.predict(coffee[None])
    methods = default_methods(model, coffee, demo_script.FAMILIES)
    assert len(methods) == len(demo_script.FAMILIES) + 2  # and the two baselines
    libraries = {m.split(".")[0] for m in methods} - {"gradients", "native", "baseline"}
    assert libraries >= {"captum", "omnixai", "lime", "xplique"}
    assert set(demo_script.DEMO_BUDGETS) <= set(methods)


@pytest.mark.slow
def test_the_demo_explains_both_photos_and_writes_its_report(demo_script, imagenet_torch, tmp_path, capsys):
    status = demo_script.main(["--out", str(tmp_path), "--methods", "native.lime,gradients.gradcam,baseline.centre"])
    assert status == 0
    output = capsys.readouterr().out
    assert "coffee: espresso" in output and "chelsea: Egyptian Mau" in output
    assert (tmp_path / "report.html").stat().st_size > 0
    for photo in demo_script.PHOTOS:
        assert len(os.listdir(tmp_path / "explanations" / photo)) >= 3
        assert list(tmp_path.glob(f"maps-{photo}*"))
