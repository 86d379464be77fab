import numpy as np
import pytest

import xaihub
from xaihub import ModelError
from xaihub.ground_truth import demo
from xaihub.models import ModelOptions
from xaihub.models.base import CallableAdapter
from xaihub.registry.plugins import adapt

IMAGES = demo.shapes_dataset(10, seed=3)


def test_callable_adapter_batches_counts_and_applies_preprocess():
    seen = []

    def model(batch):
        seen.append(batch.shape[0])
        return [[float(x.mean()), 1.0] for x in batch]  # a list, not an array

    adapter = adapt(model, ModelOptions(batch_size=4, preprocess=lambda b: b - 100, output="logits"))
    assert isinstance(adapter, CallableAdapter)
    probabilities = adapter.predict(IMAGES.images)
    assert seen == [4, 4, 2] and adapter.forward_passes == 10
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    means = IMAGES.images.reshape(10, -1).mean(axis=1) - 100
    np.testing.assert_allclose(probabilities[:, 0], 1 / (1 + np.exp(1.0 - means)), rtol=1e-5, atol=1e-12)


def test_output_kind_is_detected_once():
    adapter = adapt(lambda b: np.stack([b.mean(axis=(1, 2, 3)) * 10, np.zeros(len(b))], 1))
    adapter.predict(IMAGES.images)
    assert adapter.output_kind == "logits"
    probs = adapt(lambda b: np.tile([0.2, 0.8], (len(b), 1)))
    np.testing.assert_allclose(probs.predict(IMAGES.images[:2]), [[0.2, 0.8]] * 2)
    assert probs.output_kind == "probabilities"


def test_declared_probabilities_outside_unit_interval_are_refused():
    adapter = adapt(lambda b: np.full((len(b), 2), 3.0), ModelOptions(output="probabilities"))
    with pytest.raises(ModelError, match="output='logits'"):
        adapter.predict(IMAGES.images[:1])


def test_labels_must_match_the_number_of_classes():
    adapter = adapt(lambda b: np.full((len(b), 3), 1 / 3), ModelOptions(labels=["a", "b"]))
    with pytest.raises(ModelError, match="2 labels given but the model returns 3 classes"):
        adapter.predict(IMAGES.images[:1])


def test_preprocess_errors_name_the_preprocess():
    adapter = adapt(lambda b: b, ModelOptions(preprocess=lambda b: 1 / 0))
    with pytest.raises(ModelError, match="preprocess raised ZeroDivisionError"):
        adapter.predict(IMAGES.images[:1])


def test_torch_adapter_restores_training_mode_and_leaves_no_hooks(torch_model):
    import torch

    from xaihub.models.torch_adapter import TorchAdapter

    torch_model.train()
    try:
        adapter = adapt(torch_model, ModelOptions(batch_size=3))
        assert isinstance(adapter, TorchAdapter) and adapter.framework == "torch"
        probabilities = adapter.predict(IMAGES.images)
        assert torch_model.training
        with torch.no_grad():
            torch_model.eval()
            logits = torch_model(torch.from_numpy(IMAGES.images).permute(0, 3, 1, 2).float() / 255)
        np.testing.assert_allclose(probabilities, torch.softmax(logits, 1).numpy(), atol=1e-5)
        assert adapter.output_kind == "logits" and adapter.forward_passes == 10
        assert (probabilities.argmax(1) == IMAGES.labels).mean() >= 0.9
        for module in torch_model.modules():
            assert not module._forward_hooks and not module._backward_hooks and not module._forward_pre_hooks
        assert adapter.model_input(IMAGES.images[:2]).shape == (2, 3, 128, 128)
        assert adapter.differentiable_input(IMAGES.images[:2]).shape == (2, 3, 128, 128)
    finally:
        torch_model.eval()


def test_torch_adapter_gives_each_submodule_its_own_mode_back():
    """A model fine-tuned in train mode with its BatchNorm layers frozen in eval mode keeps both."""
    torch = pytest.importorskip("torch")

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten())
    net.train()
    net[1].eval()
    adapt(net).predict(IMAGES.images[:1])
    assert [module.training for module in net] == [True, False, True] and net.training


def test_torch_scores_of_a_sequential_ending_in_softmax_are_its_logits():
    """The adapter reads the logits before the final Softmax (probabilities were detected from predict)."""
    torch = pytest.importorskip("torch")

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4), torch.nn.Softmax(dim=1))
    with torch.no_grad():
        net[1].weight.mul_(100)  # logits far outside [0, 1]
    adapter = adapt(net)
    probabilities = adapter.predict(IMAGES.images[:2, :8, :8])
    assert adapter.output_kind == "probabilities" and adapter.score_kind == "logit"
    logits = adapter.scores(adapter.differentiable_input(IMAGES.images[:2, :8, :8]))
    np.testing.assert_allclose(torch.softmax(logits, 1).detach().numpy(), probabilities, atol=1e-6)


def test_keras_adapter_matches_the_model(keras_model):
    from xaihub.models.keras_adapter import KerasAdapter

    adapter = adapt(keras_model, ModelOptions(batch_size=4, labels=demo.CLASS_NAMES))
    assert isinstance(adapter, KerasAdapter)
    probabilities = adapter.predict(IMAGES.images)
    expected = keras_model.predict(IMAGES.images.astype("float32") / 255, verbose=0)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert adapter.output_kind == "probabilities" and adapter.forward_passes == 10
    assert (probabilities.argmax(1) == IMAGES.labels).mean() >= 0.9
    assert adapter.label(1) == "green disc"


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_explain_a_real_model_finds_the_object(framework, request, object_image):
    model = request.getfixturevalue(f"{framework}_model")
    image, mask, label = object_image
    result = xaihub.explain(model, image, methods=["native.lime"], targets="top-3", labels=demo.CLASS_NAMES)
    assert result.ok and result.targets[0] == label
    explanation = result.get("native.lime", label)
    assert explanation.label == "green disc" and explanation.score > 0.9
    assert explanation.attribution[mask].mean() > 5 * max(explanation.attribution[~mask].mean(), 1e-9)


def test_the_on_device_path_checks_scores_like_the_host_path(torch_model):
    import torch

    from xaihub.models.torch_adapter import TorchAdapter

    declared = TorchAdapter(torch_model, ModelOptions(output="probabilities"))
    pixels = torch.from_numpy(IMAGES.images[:2]).float()
    with pytest.raises(ModelError, match="output='logits'"):
        declared.predict_pixels(pixels)  # the demo CNN returns logits
    counted = TorchAdapter(torch_model, ModelOptions(labels=["a", "b"]))
    with pytest.raises(ModelError, match="2 labels given but the model returns 5 classes"):
        counted.predict_pixels(pixels)
    auto = TorchAdapter(torch_model)
    np.testing.assert_allclose(auto.predict_pixels(pixels).cpu().numpy(), auto.predict(IMAGES.images[:2]), atol=1e-5)


def test_module_restored_removes_hooks_and_restores_modes_set_inside():
    torch = pytest.importorskip("torch")
    from xaihub.models.torch_state import ModuleState, restored

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout())
    model[1].eval()
    kept = model[0].register_forward_hook(lambda *args: None)
    with restored(model):
        model[0].register_forward_hook(lambda *args: None)
        model[1].register_full_backward_hook(lambda *args: None)
        model.train()
        model(torch.ones(1, 2)).sum().backward()
    assert list(model[0]._forward_hooks) == [kept.id] and not model[1]._backward_hooks
    assert model.training and model[0].training and not model[1].training
    assert all(p.grad is None for p in model.parameters())
    state = ModuleState.capture(model)
    model[1].register_forward_hook(lambda *args: None)
    model.eval()
    assert state.changes(model) == ["hooks of 1", "train/eval mode"]
