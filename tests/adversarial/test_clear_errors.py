"""Mistakes a user can make get an xaihub error that names the mistake, before any work, never a raw exception
from deep inside torch, pickle or numpy: a model whose output is detached from its input, a TorchScript model
sent to Dask, ground-truth arguments that would train nothing or allocate without bound, NaN pixels."""

import numpy as np
import pytest
from adversarial.cases import LIME

import xaihub
from xaihub import InputError, ground_truth

torch = pytest.importorskip("torch")
GRADIENT_METHODS = ["gradients.saliency", "gradients.gradcam", "captum.saliency", "captum.integrated_gradients"]
IMAGE = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


class UnderNoGrad(Net):
    def forward(self, x):
        with torch.no_grad():
            return super().forward(x)


class ThroughNumpy(Net):
    def forward(self, x):
        return torch.from_numpy(super().forward(x).detach().float().numpy())


@pytest.mark.parametrize("model", [UnderNoGrad(), ThroughNumpy()], ids=["no_grad", "numpy"])
def test_a_detached_model_output_is_named_for_every_gradient_method(model):
    comparison = xaihub.explain(model, IMAGE, methods=[*GRADIENT_METHODS, "native.lime"], targets="top-1",
                                params=LIME, output="logits")
    assert [e.method for e in comparison.explanations] == ["native.lime"]  # predictions still work
    assert sorted(f.method for f in comparison.failures) == sorted(GRADIENT_METHODS)
    for failure in comparison.failures:
        assert failure.error == "ModelError" and "output is detached from its input" in failure.message, failure
        assert "does not require grad" not in failure.message


def test_an_attached_model_is_not_flagged():
    comparison = xaihub.explain(Net(), IMAGE, methods=GRADIENT_METHODS, targets="top-1", output="logits")
    assert comparison.failures == [] and len(comparison.explanations) == len(GRADIENT_METHODS)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_torchscript_with_dask_is_refused_before_any_work(tmp_path):
    scripted = torch.jit.script(Net())
    with pytest.raises(InputError, match="cannot be pickled.*TorchScript module.*pass a plain torch.nn.Module"):
        xaihub.explain_many(scripted, IMAGE[None], ["native.lime"], out=tmp_path / "run", executor="dask",
                            params=LIME)
    assert not (tmp_path / "run").exists()


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_with_dask_is_refused_by_the_cli(tmp_path, monkeypatch, capsys):
    from PIL import Image

    from xaihub import cli

    monkeypatch.chdir(tmp_path)
    torch.jit.script(Net()).save("net.pt")
    (tmp_path / "photos").mkdir()
    Image.fromarray(IMAGE).save("photos/a.png")
    assert cli.main(["compare", "--model", "net.pt", "--images", "photos", "--methods", "native.lime",
                     "--executor", "dask", "--out", "x.html"]) == 2
    assert "TorchScript module" in capsys.readouterr().err and not (tmp_path / "x-run").exists()


@pytest.mark.parametrize("arguments, message", [
    ({"epochs": 0}, "epochs must be an int of 1 to 1000 .0 would return an untrained model"),
    ({"epochs": -3}, "epochs must be"),
    ({"epochs": 2.5}, "epochs must be"),
    ({"epochs": 10**6}, "epochs must be"),
    ({"seed": -1}, "seed must be an int in"),
    ({"seed": 2**70}, "seed must be an int in"),
    ({"seed": 1.5}, "seed must be an int in"),
    ({"seed": "0"}, "seed must be an int in"),
    ({"size": 10**5}, "size must be an int of at least 64 pixels and at most 4096"),
    ({"size": 64.0}, "size must be an int"),
    ({"n": 10**9}, "n is 1000000000, over the limit"),
    ({"n": 250, "size": 4096}, "drawn at once take .* over the"),
])
def test_train_model_refuses_bad_arguments_upfront(arguments, message):
    with pytest.raises(InputError, match=message):
        ground_truth.train_model("object", **arguments)


@pytest.mark.parametrize("arguments, message", [
    ({"seed": -1}, "seed must be"), ({"size": 10**5}, "size must be"), ({"n": 10**9}, "over the limit"),
    ({"n": 50_000, "size": 224}, "drawn at once"),
])
def test_task_refuses_bad_arguments_upfront(arguments, message):
    with pytest.raises(InputError, match=message):
        ground_truth.task("object", **arguments)


@pytest.mark.parametrize("background, message", [
    (np.nan, "backgrounds contain NaN or infinite values"),
    (np.inf, "NaN or infinite"),
    (-1.0, r"whole pixel values in \[0, 255\]"),
    (300, r"whole pixel values in \[0, 255\]"),
    (0.5, "with fractions"),
])
def test_backgrounds_that_a_cast_would_change_are_refused(background, message):
    scenes = ground_truth.task("object", n=2, size=64).scenes
    backgrounds = np.full(scenes.backgrounds.shape, 100.0)
    backgrounds[0, 0, 0, 0] = background
    with pytest.raises(InputError, match=message):
        scenes.render(backgrounds=backgrounds)
    backgrounds[0, 0, 0, 0] = 7.0  # whole values in range are taken as they are
    assert scenes.render(objects=False, marks=False, backgrounds=backgrounds)[0, 0, 0, 0] == 7
