"""What models return, and what xaihub makes of it: dicts, tuples, HuggingFace-style objects, bad outputs."""

from types import SimpleNamespace

import numpy as np
import pytest

import xaihub
from xaihub import InputError, ModelError
from xaihub.models import ModelOptions
from xaihub.registry.plugins import adapt

IMAGE = np.random.default_rng(0).integers(0, 255, (32, 32, 3)).astype(np.uint8)


def means(batch):
    return batch.mean(axis=(1, 2))


def explain(model, **kwargs):
    return xaihub.explain(model, IMAGE, methods=["native.lime"], params={"native.lime": {"num_samples": 10}}, **kwargs)


def test_a_dict_output_gives_its_logits_entry():
    result = explain(lambda b: {"aux": np.zeros((len(b), 2)), "logits": means(b) * 10})
    assert result.ok and len(result.probabilities) == 3


def test_a_huggingface_style_output_object_gives_its_logits():
    result = explain(lambda b: SimpleNamespace(logits=means(b) * 10, hidden_states=None))
    assert result.ok and len(result.probabilities) == 3


def test_a_tuple_output_explains_the_first_element_and_says_so():
    result = explain(lambda b: (means(b) * 10, np.zeros((len(b), 7))))
    assert len(result.probabilities) == 3
    assert any("returns 2 outputs; explaining the first" in note for note in result.notes)


def test_output_index_chooses_another_output_without_a_note():
    result = explain(lambda b: (np.zeros((len(b), 7)), means(b) * 10), output_index=1)
    assert len(result.probabilities) == 3 and result.notes == []
    keyed = explain(lambda b: {"main": means(b) * 10, "aux": np.zeros((len(b), 2))}, output_index="main")
    assert len(keyed.probabilities) == 3


@pytest.mark.parametrize("model, error, message", [
    (lambda b: {"aux": np.zeros((len(b), 2))}, ModelError, r"dict with keys \['aux'\] and no 'logits'"),
    (lambda b: np.zeros((len(b), 0)), ModelError, "scores for 0 classes"),
    (lambda b: np.zeros(len(b), dtype=np.int64), ModelError, "int64 values \\(class ids\\?\\)"),
    (lambda b: np.array(["a"] * len(b)), ModelError, "numeric class scores"),
    (lambda b: (_ for _ in ()).throw(ValueError("bad input")), ModelError, "the model raised ValueError: bad input"),
    (lambda b: np.zeros((len(b), 2, 2)), ModelError, r"N×K scores for N=1 images, got shape \(1, 2, 2\)"),
    (lambda b: (means(b),), InputError, r"output_index=3, but the model returns a tuple of 1"),
])
def test_unusable_outputs_are_clear_xaihub_errors(model, error, message):
    with pytest.raises(error, match=message):
        explain(model, output_index=3 if "output_index" in message else None)


def test_scores_in_the_unit_interval_that_do_not_sum_to_one_are_noted():
    result = explain(lambda b: means(b) / 255.0)
    assert any("do not sum to 1" in note for note in result.notes)
    assert explain(lambda b: np.tile([0.2, 0.8], (len(b), 1))).notes == []


def test_torch_models_returning_dicts_tuples_and_softmax():
    torch = pytest.importorskip("torch")

    class TwoHeads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)
            self.head = torch.nn.Linear(4, 3)
            self.aux = torch.nn.Linear(4, 5)

        def forward(self, x):
            features = self.conv(x).mean(dim=(2, 3))
            return {"aux": self.aux(features), "logits": self.head(features)}

    model = TwoHeads()
    result = xaihub.explain(model, IMAGE, methods=["gradients.saliency", "gradients.gradcam"])
    assert result.ok and len(result.probabilities) == 3
    softmaxed = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                    torch.nn.Linear(4, 3), torch.nn.Softmax(dim=1))
    adapter = adapt(softmaxed, ModelOptions())
    adapter.predict(IMAGE[None])
    assert adapter.output_kind == "probabilities" and adapter.score_kind == "logit"  # read before the softmax


def test_a_torch_model_raising_is_a_model_error():
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(3, 2)  # wrong input shape for an image
    with pytest.raises(ModelError, match="the model raised RuntimeError"):
        explain(model)


def test_a_torch_model_whose_forward_goes_through_numpy_stays_in_fp32_instead_of_failing():
    """bf16 autocast is tried on perturbations where the CPU has it natively; a forward through numpy (which has
    no bfloat16) fails in bf16, so the guard falls back to fp32 and the method runs."""
    import torch

    class ThroughNumpy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.conv = torch.nn.Conv2d(3, 2, 3)

        def forward(self, x):
            return torch.from_numpy(np.asarray(self.conv(x).mean(dim=(2, 3)).detach().numpy()))

    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    result = xaihub.explain(ThroughNumpy(), image, methods=["native.lime"], targets=0,
                            params={"native.lime": {"num_samples": 40}})
    assert not result.failures and len(result.explanations) == 1
