"""`xaihub compare --model model.onnx`: the command line explains an ONNX file, and refuses bad ones."""

import shutil

import numpy as np
import pytest

from xaihub import cli

pytest.importorskip("onnxruntime")


@pytest.fixture
def workdir(tmp_path, monkeypatch, onnx_files):
    """A working directory with the exported CNN (and its weights file), a 32×32 image and class names."""
    from PIL import Image

    exported = onnx_files["dynamic"]
    for file in exported.parent.glob(exported.name + "*"):  # the model and its external weights (.data)
        shutil.copy(file, tmp_path)
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    (tmp_path / "labels.txt").write_text("a\nb\nc\nd\ne\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def compare(*args: str) -> int:
    return cli.main(["compare", *args])


def test_an_onnx_file_is_explained_into_a_report(workdir, capsys):
    assert compare("--model", "dynamic.onnx", "--image", "photo.png", "--labels", "labels.txt", "--top-k", "2",
                   "--methods", "native.lime,gradients.saliency", "--out", "report.html") == 0
    page = (workdir / "report.html").read_text(encoding="utf-8")
    assert page.count("data-method='native.lime' data-target=") == 2
    assert "needs gradients (torch, keras) but the model is a &#x27;onnx&#x27; model" in page
    assert "report: report.html" in capsys.readouterr().out


@pytest.mark.parametrize("model, message", [
    ("missing.onnx", "model file 'missing.onnx' does not exist"),
    ("text.onnx", "cannot load ONNX model file 'text.onnx' with ONNX Runtime (is it an ONNX model?)"),
])
def test_a_bad_onnx_file_exits_with_one_line(workdir, capsys, model, message):
    (workdir / "text.onnx").write_text("not a model")
    assert compare("--model", model, "--image", "photo.png", "--out", "never.html") == 2
    err = capsys.readouterr().err
    assert err.startswith("xaihub: error: ") and message in err and err.count("\n") == 1
    assert not (workdir / "never.html").exists()


def test_a_folder_is_explained_with_an_onnx_file_and_a_rerun_resumes(workdir, capsys):
    (workdir / "photos").mkdir()
    for name in ("one.png", "two.png"):
        shutil.copy(workdir / "photo.png", workdir / "photos" / name)
    args = ["--model", "dynamic.onnx", "--model-id", "small-cnn-v1", "--images", "photos", "--top-k", "1",
            "--methods", "native.lime", "--out", "photos.html"]
    assert compare(*args) == 0
    assert "2 images: 2 explanations saved, 0 skipped" in capsys.readouterr().out
    assert compare(*args) == 0
    assert "0 explanations saved, 2 skipped" in capsys.readouterr().out
