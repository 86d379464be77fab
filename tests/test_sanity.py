"""sanity.randomization: the model-parameter randomisation test (Adebayo et al. 2018)."""

import numpy as np
import pytest

import xaihub
from xaihub import Explanation
from xaihub.core.maps import DegenerateMapError
from xaihub.metrics import sanity

PREFIX = "sanity.randomization"
SMOOTH = "sanity.smooth_randomization"
CASCADING = "sanity.cascading"


class Brightness(xaihub.Explainer):
    """Ignores the model: the map is the image's brightness, the same for any weights."""

    name = "test.brightness"

    def explain(self, model, image, targets, *, seed):
        return [Explanation(target=t, attribution=image.mean(axis=2)) for t in targets]


def _torch_state(module):
    hooks = [(name, m.training, tuple(m._forward_hooks), tuple(m._forward_pre_hooks), tuple(m._backward_hooks))
             for name, m in module.named_modules()]
    return hooks, {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_gradients_change_on_a_randomised_torch_model_and_an_image_only_map_does_not(
        torch_model, object_image, registered):
    pytest.importorskip("xaihub_gradients")
    import torch

    image, _, label = object_image
    brightness = registered(Brightness())
    torch_model.train()  # the user's mode, restored by the adapter
    hooks, weights = _torch_state(torch_model)
    rng = torch.get_rng_state()
    result = xaihub.explain(torch_model, image, methods=["gradients.saliency", brightness], targets=label,
                            metrics=[PREFIX])
    assert result.ok, result.failures
    saliency, plain = result.get("gradients.saliency").metrics, result.get(brightness).metrics
    assert saliency[f"{PREFIX}.spearman"] < 0.4 and saliency[f"{PREFIX}.ssim"] < 0.3
    assert saliency[f"{PREFIX}.flagged"] == 0.0
    assert plain == pytest.approx({f"{PREFIX}.spearman": 1.0, f"{PREFIX}.ssim": 1.0, f"{PREFIX}.flagged": 1.0,
                                   f"{PREFIX}.emprt": 0.0, f"{PREFIX}.emprt_passes": 0.0})
    assert saliency[f"{PREFIX}.emprt"] > sanity.DEFAULT_EMPRT_THRESHOLD and saliency[f"{PREFIX}.emprt_passes"] == 1.0
    # one re-run of saliency: one forward pass, charged to the metric, not the method
    assert result.get("gradients.saliency").extras["metric_costs"][PREFIX]["forward_passes"] == 1
    assert result.forward_passes["gradients.saliency"] == 1
    # the user's model and torch's global random state are untouched
    assert torch_model.training
    torch_model.eval()
    after_hooks, after_weights = _torch_state(torch_model)
    assert after_hooks[1:] == [(n, False, *rest) for n, _, *rest in hooks[1:]]
    assert all(torch.equal(weights[k], after_weights[k]) for k in weights)
    assert torch.equal(rng, torch.get_rng_state())


def test_the_randomised_copy_is_made_once_per_call(torch_model, object_image, registered, monkeypatch):
    made = []
    original = sanity.randomised_adapter
    monkeypatch.setattr(sanity, "randomised_adapter", lambda model, seed: made.append(seed) or original(model, seed))
    image, _, label = object_image
    first, second = registered(Brightness()), registered(type("Again", (Brightness,), {"name": "test.again"})())
    xaihub.explain(torch_model, image, methods=[first, second], targets=[label, 0], seed=3, metrics=[PREFIX])
    assert made == [3]


def test_torch_randomisation_is_seeded_and_replaces_every_parameter(torch_model):
    import torch

    first, again, other = (sanity.randomised_torch(torch_model, seed) for seed in (0, 0, 1))
    originals = dict(torch_model.named_parameters())
    for name, parameter in first.named_parameters():
        assert torch.equal(parameter, dict(again.named_parameters())[name])
        assert not torch.equal(parameter, dict(other.named_parameters())[name])
        if parameter.numel() > 1:
            assert not torch.equal(parameter, originals[name]), name


def test_a_parameter_outside_any_resettable_layer_is_redrawn():
    torch = pytest.importorskip("torch")

    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.linspace(1.0, 2.0, 6))

        def forward(self, x):
            return x.flatten(1)[:, :6] * self.scale

    model = Scaled()
    randomised = sanity.randomised_torch(model, 0)
    assert not torch.equal(randomised.scale, model.scale)
    assert torch.equal(model.scale, torch.linspace(1.0, 2.0, 6))


def test_keras_randomisation_is_seeded_and_leaves_the_model_alone(keras_model, object_image):
    pytest.importorskip("xaihub_gradients")
    before = [w.copy() for w in keras_model.get_weights()]
    first, again = sanity.randomised_keras(keras_model, 0), sanity.randomised_keras(keras_model, 0)
    kernels = [(a, b, o) for a, b, o in zip(first.get_weights(), again.get_weights(), before) if a.ndim > 1]
    assert kernels and all(np.array_equal(a, b) and not np.allclose(a, o) for a, b, o in kernels)
    assert all(np.array_equal(w, b) for w, b in zip(keras_model.get_weights(), before))

    image, _, label = object_image
    result = xaihub.explain(keras_model, image, methods=["gradients.saliency"], targets=label, metrics=[PREFIX])
    assert result.ok, result.failures
    values = result.get("gradients.saliency").metrics
    assert values[f"{PREFIX}.spearman"] < 0.5 and values[f"{PREFIX}.flagged"] == 0.0
    assert all(np.array_equal(w, b) for w, b in zip(keras_model.get_weights(), before))


def test_map_ssim_of_identical_and_unrelated_maps():
    ramp = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
    assert sanity.map_ssim(ramp, ramp * 7) == pytest.approx(1.0)
    noise = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    assert sanity.map_ssim(ramp, noise) < 0.2
    assert np.isnan(sanity.map_ssim(ramp, np.zeros_like(ramp)))


def test_threshold_is_checked_upfront(torch_model, object_image):
    with pytest.raises(xaihub.InputError, match="threshold is a Spearman correlation"):
        xaihub.explain(torch_model, object_image[0], metrics={PREFIX: {"threshold": 2}}, methods=["native.lime"])


class Constant(xaihub.Explainer):
    """A map that ranks nothing."""

    name = "test.constant"

    def explain(self, model, image, targets, *, seed):
        return [Explanation(target=t, attribution=np.full(image.shape[:2], 0.5, np.float32)) for t in targets]


def test_entropy_of_a_histogram_and_emprt_of_a_map_that_gets_noisier():
    ramp = np.linspace(0, 1, 10_000).reshape(100, 100)  # one value in every one of the 100 bins
    assert sanity.discrete_entropy(ramp) == pytest.approx(np.log(100), rel=1e-3)
    assert sanity.discrete_entropy(np.zeros((4, 4))) == 0.0
    blob = np.exp(-((np.arange(64)[:, None] - 32) ** 2 + (np.arange(64)[None] - 32) ** 2) / 50.0)
    noise = np.random.default_rng(0).random((64, 64))
    assert sanity.emprt(blob, noise) > 0.5  # the map got noisier: the method followed the weights
    assert sanity.emprt(blob, blob * 3) == pytest.approx(0.0)  # same map, any scale: no rise
    with pytest.raises(DegenerateMapError, match="original map is a constant map"):
        sanity.emprt(np.ones((8, 8)), noise[:8, :8])
    with pytest.raises(DegenerateMapError, match="randomised model's map is a all-zero map"):
        sanity.emprt(noise[:8, :8], np.zeros((8, 8)))


def test_the_edge_control_fails_every_randomisation_check_and_saliency_passes_them(object_model):
    """Known answers: an image-only map (Adebayo's edge detector) is the same for any weights; the gradient of
    a trained model is not."""
    pytest.importorskip("xaihub_baseline")
    pytest.importorskip("xaihub_gradients")
    from xaihub import ground_truth

    task = ground_truth.task("object", n=3, seed=1)  # the third image: on the first, a random CNN's gradient
    # follows the image's structure too (ρ 0.64 before and after smoothing; benchmarks/randomisation_thresholds.py)
    metrics = {PREFIX: {}, SMOOTH: {"samples": 3}, CASCADING: {"groups": 3}}
    result = xaihub.explain(object_model.model, task.images[2], methods=["baseline.edges", "gradients.saliency"],
                            targets=int(task.labels[2]), preprocess=object_model.preprocess, metrics=metrics)
    assert result.ok, result.failures
    edges, saliency = result.get("baseline.edges").metrics, result.get("gradients.saliency").metrics
    assert edges[f"{PREFIX}.emprt"] == pytest.approx(0.0) and edges[f"{PREFIX}.emprt_passes"] == 0.0
    assert edges[f"{SMOOTH}.spearman"] == pytest.approx(1.0) and edges[f"{SMOOTH}.flagged"] == 1.0
    assert [edges[f"{CASCADING}.{k}"] for k in (1, 2, 3)] == pytest.approx([1.0] * 3)
    assert f"{CASCADING}.4" not in edges
    assert saliency[f"{PREFIX}.emprt"] > sanity.DEFAULT_EMPRT_THRESHOLD and saliency[f"{PREFIX}.emprt_passes"] == 1.0
    assert saliency[f"{SMOOTH}.flagged"] == 0.0 and saliency[f"{SMOOTH}.spearman"] < sanity.DEFAULT_THRESHOLD
    assert saliency[f"{CASCADING}.3"] < 0.3 and saliency[f"{CASCADING}.auc"] < edges[f"{CASCADING}.auc"] - 0.3
    # the costs: sMPRT reruns 2 × 3 − 1 times (one pass each for saliency), cascading once per group
    costs = result.get("gradients.saliency").extras["metric_costs"]
    assert costs[SMOOTH]["forward_passes"] == 5 and costs[CASCADING]["forward_passes"] == 3
    assert "costs 2 × samples − 1 method runs" in sanity.SmoothRandomization.summary


def test_a_constant_map_gets_nan_and_a_reason_never_a_pass(torch_model, object_image, registered):
    constant = registered(Constant())
    image, _, label = object_image
    result = xaihub.explain(torch_model, image, methods=[constant], targets=label,
                            metrics=[PREFIX, SMOOTH, CASCADING, "deletion"])
    assert result.ok, result.failures
    explanation = result.get(constant)
    assert explanation.degenerate == "constant map (every pixel 0.5)"
    assert explanation.metrics and all(np.isnan(v) for v in explanation.metrics.values())
    assert explanation.metrics.keys() >= {f"{PREFIX}.emprt_passes", f"{PREFIX}.flagged", f"{SMOOTH}.flagged",
                                          "deletion"}
    assert explanation.extras["metric_skipped"] == dict.fromkeys([PREFIX, SMOOTH, CASCADING, "deletion"],
                                                                 "constant map (every pixel 0.5)")
    assert explanation.extras["metric_costs"][PREFIX]["forward_passes"] == 0  # nothing ran
    assert "degenerate: constant map" in result.summary()


def test_cascading_randomises_the_output_layers_first_and_ends_with_the_full_randomisation(torch_model):
    import torch

    steps = sanity.cascading_torch(torch_model, 0, 3)
    full = dict(sanity.randomised_torch(torch_model, 0).named_parameters())
    original = dict(torch_model.named_parameters())
    weighted = list(dict.fromkeys(name.rsplit(".", 1)[0] for name in original))
    assert len(steps) == 3 and len(weighted) >= 3

    def randomised_layers(network):
        return {name.rsplit(".", 1)[0] for name, p in network.named_parameters() if torch.equal(p, full[name])
                and not torch.equal(p, original[name])}

    done = [randomised_layers(step) for step in steps]
    assert weighted[-1] in done[0] and weighted[0] not in done[0]  # the output layer first
    assert done[0] < done[1] < done[2] == set(weighted)  # cumulative, all at the end
    assert all(torch.equal(p, original[n]) for n, p in torch_model.named_parameters())  # the model untouched
    assert sanity.layer_groups(["a", "b", "c", "d", "e"], 2) == [["e", "d", "c"], ["b", "a"]]
    assert sanity.layer_groups(["a"], 4) == [["a"]]


def test_cascading_on_keras_replaces_top_layers_first(keras_model):
    steps = sanity.cascading_keras(keras_model, 0, 2)
    full = sanity.randomised_keras(keras_model, 0)
    weighted = [layer.name for layer in keras_model.layers if layer.weights]
    first, last = weighted[0], weighted[-1]

    def same(network, source, name):
        return all(np.array_equal(a, b) for a, b in zip(network.get_layer(name).get_weights(),
                                                         source.get_layer(name).get_weights()))

    assert same(steps[0], full, last) and same(steps[0], keras_model, first)
    assert same(steps[1], full, first) and same(steps[1], full, last)


@pytest.mark.parametrize("metric, params, message", [
    (PREFIX, {"emprt_threshold": -2}, "emprt_threshold is a relative rise"),
    (SMOOTH, {"samples": 0}, "samples is a count"), (SMOOTH, {"noise": 2.0}, "noise is a fraction"),
    (CASCADING, {"groups": 9}, "groups is a count of layer groups, 1 to 8")])
def test_the_new_parameters_are_checked_upfront(metric, params, message, torch_model, object_image):
    with pytest.raises(xaihub.InputError, match=message):
        xaihub.explain(torch_model, object_image[0], metrics={metric: params}, methods=["native.lime"])
