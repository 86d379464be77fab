"""`xaihub compare`: the demo run, module:object models, and clear one-line errors on bad input."""

import sys
import textwrap

import numpy as np
import pytest

from xaihub import cli
from xaihub.ground_truth import demo

MODULE = "xaihub_cli_model_under_test"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working directory holding a plain-callable model module, an image and a labels file."""
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent("""
        def predict(batch):
            return batch.mean(axis=(1, 2))

        def reverse_channels(batch):
            return batch[..., ::-1] / 255.0

        NOT_CALLABLE = 3
    """))
    image = np.zeros((32, 32, 3), np.uint8)
    image[..., 2] = 200  # blue
    from skimage import io

    io.imsave(tmp_path / "blue.png", image, check_contrast=False)
    (tmp_path / "labels.txt").write_text("red\ngreen\nblue\n")
    (tmp_path / "broken.png").write_text("not an image")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    return tmp_path


def compare(*args: str) -> int:
    methods = [] if "--methods" in args else ["--methods", "native.lime"]
    return cli.main(["compare", *methods, *args])


def test_demo_run_writes_a_report(monkeypatch, tmp_path, capsys):
    pytest.importorskip("torch")
    train = demo.train_torch_model
    monkeypatch.setattr(demo, "train_torch_model", lambda seed=0: train(seed, n=100, epochs=1))  # fast, same code
    out = tmp_path / "demo.html"
    assert compare("--demo", "--top-k", "2", "--metrics", "deletion", "--out", str(out)) == 0
    page = out.read_text(encoding="utf-8")
    assert page.count("data-method='native.lime' data-target=") == 2
    assert "green disc" in page and "deletion AUC" in page
    assert f"report: {out}" in capsys.readouterr().out


def test_module_object_plain_callable_with_labels_and_preprocess(workdir, capsys):
    args = ["--model", f"{MODULE}:predict", "--image", "blue.png", "blue.png", "--labels", "labels.txt",
            "--top-k", "1", "--out", "plain.html", "--methods", "native.lime"]
    assert compare(*args) == 0
    assert "native.lime  2       blue" in capsys.readouterr().out
    page = (workdir / "plain.html").read_text(encoding="utf-8")
    assert page.count("<section class='comparison'") == 2 and "Summary over 2 images" in page
    assert compare(*args, "--preprocess", f"{MODULE}:reverse_channels") == 0
    assert "native.lime  0       red" in capsys.readouterr().out  # blue read as red: preprocess was applied


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # TorchScript is deprecated, still supported
def test_torchscript_model_file(workdir, capsys):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    torch.jit.trace(net.eval(), torch.zeros(1, 3, 32, 32)).save(str(workdir / "net.pt"))
    assert compare("--model", "net.pt", "--image", "blue.png", "--top-k", "2", "--out", "ts.html") == 0
    assert (workdir / "ts.html").read_text(encoding="utf-8").count("data-method='native.lime' data-target=") == 2
    (workdir / "bad.pt").write_bytes(b"not a model")
    assert compare("--model", "bad.pt", "--image", "blue.png", "--out", "never.html") == 2
    assert capsys.readouterr().err.startswith("xaihub: error: cannot load model 'bad.pt'")


@pytest.mark.parametrize("args, message", [
    (["--model", f"{MODULE}:predict", "--image", "missing.png"], "image file 'missing.png' does not exist"),
    (["--model", f"{MODULE}:predict", "--image", "broken.png"], "cannot read image file 'broken.png'"),
    (["--model", "nothere.pt", "--image", "blue.png"], "model file 'nothere.pt' does not exist"),
    (["--model", "model.tflite", "--image", "blue.png"], "neither a .pt/.pth/.keras/.onnx file nor module:object"),
    (["--model", f"{MODULE}:missing", "--image", "blue.png"], f"module '{MODULE}' has no 'missing'"),
    (["--model", "no_such_module_xyz:f", "--image", "blue.png"], "cannot import module 'no_such_module_xyz'"),
    (["--model", f"{MODULE}:NOT_CALLABLE", "--image", "blue.png"], "don't know how to run a builtins.int"),
    (["--model", f"{MODULE}:predict", "--image", "blue.png", "--methods", "native.lime,nope.x"],
     "unknown method 'nope.x'"),
    (["--model", f"{MODULE}:predict", "--image", "blue.png", "--metrics", "auc"], "unknown metric(s) ['auc']"),
    (["--model", f"{MODULE}:predict", "--image", "blue.png", "--labels", "none.txt"], "cannot read labels file"),
    (["--model", f"{MODULE}:predict", "--image", "blue.png", "--preprocess", f"{MODULE}:NOT_CALLABLE"],
     "is not callable"),
    (["--model", f"{MODULE}:predict"], "compare needs --model and --image or --images"),
    (["--model", f"{MODULE}:predict", "--images", "nowhere"], "images 'nowhere' does not exist"),
    (["--model", f"{MODULE}:predict", "--images", "empty"], "folder 'empty' holds no image files"),
    (["--model", f"{MODULE}:predict", "--images", "blue.png"], "images 'blue.png' is a file"),
    (["--model", f"{MODULE}:predict", "--image", "blue.png", "--run-dir", "run"], "go with --images DIR"),
    (["--model", f"{MODULE}:predict", "--image", "blue.png", "--top-k", "0"], "--top-k must be at least 1"),
    (["--model", f"{MODULE}:predict", "--image", "blue.png", "--methods", ","], "--methods is empty"),
    (["--model", f"{MODULE}:predict", "--image", "blue.png", "--methods", "all,native.lime"], "stands alone"),
])
def test_bad_input_exits_non_zero_with_one_line(workdir, capsys, args, message):
    assert compare(*args, "--out", "never.html") == 2
    err = capsys.readouterr().err
    assert err.startswith("xaihub: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (workdir / "never.html").exists()


def test_list_with_a_model_says_which_methods_are_unavailable_for_it(workdir, capsys):
    assert cli.main(["list", "--model", f"{MODULE}:predict", "--image", "blue.png"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert lines["native.lime"].endswith("available") and "unavailable" not in lines["native.lime"]
    assert "unavailable for this model: gradients.saliency needs gradients" in lines["gradients.saliency"]
    assert cli.main(["list", "--image", "blue.png"]) == 2
    assert "list takes --image and --preprocess with --model" in capsys.readouterr().err


def test_without_methods_compare_runs_the_curated_default(workdir, capsys, monkeypatch):
    import xaihub
    from xaihub.method_benchmark import BASELINES, BUDGETS, default_methods
    from xaihub.registry.plugins import get_method

    chosen = []
    monkeypatch.setattr(cli, "_compare_images", lambda out, model, names, pixels, options: chosen.append(
        options) or 0)
    assert cli.main(["compare", "--model", f"{MODULE}:predict", "--image", "blue.png", "--out", "d.html"]) == 0
    [options] = chosen
    module = sys.modules[MODULE]
    image = np.zeros((32, 32, 3), np.uint8)
    image[..., 2] = 200
    expected = default_methods(xaihub.adapt(module.predict), image)
    assert options["methods"] == expected and set(BASELINES) <= set(expected)
    assert all(get_method(m).explainer.requires.kind == "predictions" for m in expected)  # the model is a function
    assert "lime.image" in expected or "native.lime" in expected  # one LIME, not all of them
    assert sum(get_method(m).explainer.family == "lime" for m in expected) == 1
    assert options["params"] == {m: BUDGETS[m] for m in expected if m in BUDGETS}
    assert "methods (the default: one per family" in capsys.readouterr().out


def test_methods_all_runs_every_method_whose_needs_the_model_meets(workdir, capsys, monkeypatch):
    from xaihub.registry.plugins import get_method, list_methods

    chosen = []
    monkeypatch.setattr(cli, "_compare_images", lambda out, model, names, pixels, options: chosen.extend(
        options["methods"]) or 0)
    assert compare("--model", f"{MODULE}:predict", "--image", "blue.png", "--methods", "all", "--out", "a.html") == 0
    black_box = [m.explainer.name for m in list_methods() if m.explainer.requires.kind == "predictions"]
    assert chosen == black_box and "native.lime" in chosen
    assert all(get_method(m).explainer.requires.kind == "predictions" for m in chosen)
    assert f"--methods all: {', '.join(black_box)}" in capsys.readouterr().out


def test_images_folder_writes_a_dataset_report_and_a_rerun_resumes(workdir, capsys):
    from PIL import Image

    (workdir / "photos").mkdir()
    for i in range(6):
        pixels = np.random.default_rng(i).integers(0, 256, (4, 4, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        Image.fromarray(pixels).save(workdir / "photos" / f"p{i}.png")
    args = ["--model", f"{MODULE}:predict", "--images", "photos", "--labels", "labels.txt", "--top-k", "1",
            "--metrics", "deletion", "--out", "photos.html"]
    assert compare(*args) == 0
    out = capsys.readouterr().out
    assert "6 images: 6 explanations saved, 0 skipped" in out and "report: photos.html" in out
    assert (workdir / "photos-run" / "index.jsonl").read_text().count("\n") == 6
    page = (workdir / "photos.html").read_text(encoding="utf-8")
    assert "<tr data-method='native.lime'>" in page and page.count("<figure class='item'") == 6
    assert "Ranked by <b>deletion AUC ↓</b>" in page
    assert compare(*args) == 0
    assert "0 explanations saved, 6 skipped (already done)" in capsys.readouterr().out
    assert compare(*args, "--run-dir", "elsewhere", "--top-k", "2") == 0
    assert (workdir / "elsewhere" / "index.jsonl").read_text().count("\n") == 12


def test_image_and_images_are_mutually_exclusive(workdir, capsys):
    with pytest.raises(SystemExit) as exit_:
        compare("--model", f"{MODULE}:predict", "--image", "blue.png", "--images", "photos")
    assert exit_.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_budget_and_samples_reach_explain_and_replace_the_default_budgets(workdir, capsys, monkeypatch):
    from xaihub.registry.plugins import get_method

    chosen, real = [], cli._compare_images
    monkeypatch.setattr(cli, "_compare_images", lambda out, model, names, pixels, options: chosen.append(
        options) or 0)
    assert cli.main(["compare", "--model", f"{MODULE}:predict", "--image", "blue.png", "--samples", "30"]) == 0
    [options] = chosen
    assert options["samples"] == 30 and options["budget"] is None
    assert all(get_method(m).explainer.samples_parameter is None for m in options["params"])  # no BUDGETS left
    with pytest.raises(SystemExit):
        cli.main(["compare", "--model", f"{MODULE}:predict", "--image", "blue.png", "--samples", "3",
                  "--budget", "fast"])
    assert "not allowed with argument" in capsys.readouterr().err
    monkeypatch.setattr(cli, "_compare_images", real)
    assert compare("--model", f"{MODULE}:predict", "--image", "blue.png", "--budget", "fast", "--out", "f.html") == 0
    assert "native.lime" in (workdir / "f.html").read_text(encoding="utf-8")
