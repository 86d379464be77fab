"""The public controls: one budget (``budget=`` / ``samples=``) that every sampling method maps to its own
parameter, ``xaihub.describe`` and ``xaihub describe``, and the per-explanation views
(``Explanation.superpixel_view``, ``Explanation.plot``)."""

import numpy as np
import pytest

import xaihub
from xaihub import cli
from xaihub.core.params import BUDGETS, Integer, budget_samples
from xaihub.registry.plugins import get_method, list_methods

from toy_models import linear_model

IMAGE = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def sampling_methods():
    return [m.explainer for m in list_methods() if m.explainer.samples_parameter is not None]


def test_every_sampling_plugin_declares_its_own_parameter():
    declared = {e.name: e.samples_parameter for e in sampling_methods()}
    # the spellings the plugins use for "how many": each maps to its own
    assert {"num_samples", "n_samples", "nb_samples", "nt_samples", "nsamples", "max_evals", "steps", "n_steps",
            "nb_design"} <= set(declared.values())
    for name in ("native.lime", "native.kernelshap", "captum.integrated_gradients"):
        assert name in declared or get_method(name).explainer.libraries  # installed here: declared
    assert declared.get("native.lime") == "num_samples" and declared.get("gradients.integrated") == "steps"
    for explainer in sampling_methods():
        assert explainer.samples_parameter in explainer.defaults


def test_equal_samples_give_each_sampling_method_that_many_of_its_own_unit():
    for explainer in sampling_methods():
        params = xaihub.run.runner.budgeted(None, [explainer.name], samples=64)
        assert params == {explainer.name: {explainer.samples_parameter: 64}}
    assert xaihub.run.runner.budgeted(None, ["baseline.noise"], samples=64) == {}  # it does not sample


def test_budget_levels_scale_each_default_within_its_constraint():
    lime = get_method("native.lime").explainer  # default "auto": samples_default scales
    assert budget_samples("native.lime", lime, "fast") == {"num_samples": lime.samples_default // 4}
    assert budget_samples("native.lime", lime, "thorough") == {"num_samples": lime.samples_default * 4}
    assert budget_samples("native.lime", lime, "default") == {}
    ig = get_method("gradients.integrated").explainer
    assert budget_samples("gradients.integrated", ig, "fast") == {"steps": round(ig.defaults["steps"] * BUDGETS["fast"])}

    class Tiny:
        samples_parameter, defaults, constraints = "n", {"n": 4}, {"n": Integer(3, 10)}

    assert budget_samples("t", Tiny(), "fast") == {"n": 3}  # clamped into what the method accepts
    assert budget_samples("t", Tiny(), "thorough") == {"n": 10}


@pytest.mark.parametrize("kwargs, message", [
    ({"budget": "quick"}, "budget must be one of"), ({"samples": 0}, "samples must be a positive int"),
    ({"samples": 2.5}, "samples must be a positive int"), ({"budget": "fast", "samples": 3}, "not both"),
])
def test_bad_budgets_are_refused_before_anything_runs(kwargs, message):
    with pytest.raises(xaihub.InputError, match=message):
        xaihub.explain(linear_model(), IMAGE, methods=["baseline.noise"], **kwargs)


def test_budget_is_applied_recorded_and_loses_to_explicit_params():
    result = xaihub.explain(linear_model(), IMAGE, methods=["native.lime", "native.kernelshap", "baseline.noise"],
                            samples=24, params={"native.kernelshap": {"num_samples": 30}})
    assert result.get("native.lime").params["num_samples"] == 24  # recorded in the explanation
    assert result.get("native.lime").forward_passes == 24  # 24 perturbations (the unperturbed image among them)
    assert result.get("native.kernelshap").params["num_samples"] == 30  # the user's own value wins
    assert "num_samples" not in result.get("baseline.noise").params


def test_explain_many_and_benchmark_take_the_budget(tmp_path):
    from xaihub.run.run_directory import current_records, read_index

    def used(run):
        lines = [line for line in current_records(read_index(run)) if line.get("method") == "native.lime"]
        assert len(lines) == 2
        return {xaihub.Explanation.load(run / line["file"]).params["num_samples"] for line in lines}

    images = np.stack([IMAGE, IMAGE[::-1]])
    xaihub.explain_many(linear_model(), images, ["native.lime"], out=tmp_path / "run", samples=20)
    assert used(tmp_path / "run") == {20}
    xaihub.benchmark(linear_model(), images, out=tmp_path / "bench", methods=["native.lime"], metrics=[],
                     budget="fast", reliability=False)
    lime = get_method("native.lime").explainer
    assert used(tmp_path / "bench") == {lime.samples_default // 4}  # the budget asked, not the benchmark's own


def test_describe_lists_parameters_constraints_family_and_samples(capsys):
    text = str(xaihub.describe("native.lime"))
    assert text.startswith("native.lime: ")
    assert "family:         lime (LIME (Ribeiro et al. 2016))" in text
    assert "plugin:         " in text and "scikit-image " in text
    assert "needs:          predictions (any model)" in text
    assert "samples:        num_samples (budget=: fast 250, default 'auto', thorough 4000" in text
    assert "    num_samples = 'auto': one of 'auto' or an int" in text or "num_samples = 'auto'" in text
    assert "    kernel_width = 0.25" in text
    description = xaihub.describe("baseline.noise")
    assert description.samples_parameter is None and "samples:        none" in str(description)
    with pytest.raises(xaihub.UnknownMethodError, match="unknown method 'no.such'"):
        xaihub.describe("no.such")
    assert cli.main(["describe", "native.lime"]) == 0
    assert capsys.readouterr().out.strip() == text
    assert cli.main(["describe", "no.such"]) == 2
    assert "unknown method 'no.such'" in capsys.readouterr().err


def test_superpixel_view_and_plot_are_public():
    explanation = xaihub.explain(linear_model(), IMAGE, methods=["native.lime"], samples=30).get("native.lime")
    few, many = explanation.superpixel_view(coverage=0.1), explanation.superpixel_view(coverage=1.0)
    assert few.shape == IMAGE.shape and few.dtype == np.uint8
    assert (few != IMAGE).sum() < (many != IMAGE).sum()  # more superpixels tinted
    from xaihub.report import render

    assert np.array_equal(render.superpixel_view(explanation, 0.1), few)  # one home
    with pytest.raises(xaihub.InputError, match="coverage must be a number in"):
        explanation.superpixel_view(coverage=0)
    plain = xaihub.explain(linear_model(), IMAGE, methods=["baseline.noise"]).get("baseline.noise")
    with pytest.raises(xaihub.InputError, match="gives no superpixels"):
        plain.superpixel_view()
    figure = explanation.plot()
    assert len(figure.axes) == 3  # the input, the map over it, its colour bar
    assert figure.axes[1].get_title() == f"native.lime: {explanation.label or f'class {explanation.target}'}"
    limit = figure.axes[1].images[-1].get_clim()
    assert -limit[0] == limit[1] > 0  # symmetric: 0 is uncoloured


def test_declared_forward_passes_are_the_counted_ones():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()
    declared = [m.explainer for m in list_methods()
                if m.explainer.expected_forward_passes(dict(m.explainer.defaults), 1) is not None]
    runnable = [e for e in declared if e.name in ("lime.image", "captum.smoothgrad", "captum.gradient_shap")]
    assert len(runnable) == 3  # every method's declaration: tests/test_costs.py
    for targets in ([0], [0, 2]):
        result = xaihub.explain(net, IMAGE, methods=[e.name for e in runnable], targets=targets, samples=6)
        assert not result.failures
        for explainer in runnable:
            params = result.get(explainer.name).params
            assert result.forward_passes[explainer.name] == explainer.expected_forward_passes(params, len(targets))
    assert "forward passes: 1000 per image for one target, with the defaults" in str(xaihub.describe("lime.image"))
