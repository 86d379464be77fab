"""sanity.randomization: the model-parameter randomisation test (Adebayo et al. 2018)."""

import numpy as np
import pytest

import xaihub
from xaihub import Explanation
from xaihub.metrics import sanity

PREFIX = "sanity.randomization"


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
    assert plain == pytest.approx({f"{PREFIX}.spearman": 1.0, f"{PREFIX}.ssim": 1.0, f"{PREFIX}.flagged": 1.0})
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
