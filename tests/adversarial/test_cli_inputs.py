"""The command line never destroys what it reads, and runs no stray module from the working directory."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from adversarial.cases import subprocess_env

from xaihub import cli

MODULE = "xaihub_adversarial_model"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    from PIL import Image

    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent("""
        def predict(batch):
            return batch.mean(axis=(1, 2))

        def build_model():
            return predict

        def two_arguments(batch, weights):
            return batch

        class Net:
            def __call__(self, batch):
                return predict(batch)
    """))
    (tmp_path / "photos").mkdir()
    for name in ("a.png", "b.png"):
        pixels = np.random.default_rng(len(name)).integers(0, 256, (4, 4, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        Image.fromarray(pixels).save(tmp_path / "photos" / name)
    (tmp_path / "labels.txt").write_text("r\ng\nb\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    return tmp_path


def compare(*args):
    return cli.main(["compare", "--model", f"{MODULE}:predict", "--methods", "native.lime", "--top-k", "1", *args])


def contents(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("args", [
    ["--image", "photos/a.png", "--out", "photos/a.png"],
    ["--image", "photos/a.png", "--out", "photos/../photos/./a.png"],
    ["--image", "photos/a.png", "--out", "link.html"],  # a link to the photo
    ["--image", "photos/a.png", "--out", "hard.html"],  # a hard link to the photo
    ["--image", "photos/a.png", "--out", f"{MODULE}.py"],
    ["--image", "photos/a.png", "--labels", "labels.txt", "--out", "labels.txt"],
    ["--images", "photos", "--out", "photos/b.png"],
    ["--images", "photos", "--out", "x.html", "--run-dir", "photos"],
    ["--images", "photos", "--out", "x.html", "--run-dir", "photos/a.png"],
    ["--images", "photos/explanations", "--out", "x.html", "--run-dir", "photos"],
    ["--images", "photos", "--out", "run/index.jsonl", "--run-dir", "run"],
    ["--images", "photos", "--out", "photos", "--run-dir", "run"],
])
def test_no_output_may_be_an_input(workdir, capsys, args):
    os.symlink(workdir / "photos" / "a.png", workdir / "link.html")
    os.link(workdir / "photos" / "a.png", workdir / "hard.html")
    (workdir / "photos" / "explanations").mkdir()
    (workdir / "photos" / "explanations" / "c.png").write_bytes((workdir / "photos" / "a.png").read_bytes())
    before = contents(workdir)
    assert compare(*args) == 2
    err = capsys.readouterr().err
    assert err.startswith("xaihub: error: ") and ("input" in err or "run directory" in err or "directory" in err)
    assert contents(workdir) == before


def test_a_failed_write_leaves_the_old_report_and_no_temporary_file(workdir, monkeypatch):
    (workdir / "report.html").write_text("the old report")
    import xaihub.report

    def broken(comparisons, path, names):
        with open(path, "w") as fh:
            fh.write("half a rep")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xaihub.report, "report_many", broken)
    assert compare("--image", "photos/a.png", "--out", "report.html") == 2
    assert (workdir / "report.html").read_text() == "the old report"
    assert sorted(os.listdir(workdir)) == sorted([f"{MODULE}.py", "photos", "labels.txt", "report.html"])


@pytest.mark.parametrize("spec, message", [
    (f"{MODULE}:build_model", "cannot take a batch of images; if it builds the model"),
    (f"{MODULE}:two_arguments", "cannot take a batch"),
    (f"{MODULE}:Net", "is the class Net, not a model"),
    ("os:path", "is a module"),
])
def test_factories_classes_and_modules_are_usage_errors(workdir, capsys, spec, message):
    assert cli.main(["compare", "--model", spec, "--methods", "native.lime", "--image", "photos/a.png", "--out", "x.html"]) == 2
    assert message in capsys.readouterr().err and not (workdir / "x.html").exists()


def test_the_working_directory_does_not_stay_on_sys_path(workdir):
    assert compare("--image", "photos/a.png", "--out", "x.html") == 0
    assert str(workdir) not in sys.path


def test_a_stray_tqdm_in_the_working_directory_is_never_run(workdir):
    (workdir / "tqdm.py").write_text("import sys\nprint('stray tqdm ran')\nsys.exit(7)\n")
    command = [sys.executable, "-c", "import sys; from xaihub import cli; sys.exit(cli.main(sys.argv[1:]))",
               "compare", "--model", f"{MODULE}:predict", "--methods", "native.lime", "--images", "photos",
               "--out", "x.html", "--top-k", "1"]
    env = {**subprocess_env(), "PYTHONSAFEPATH": "1"}  # `python -c` would put the working directory first itself
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "stray tqdm ran" not in done.stdout and "report: x.html" in done.stdout


def test_a_shadowed_module_name_gets_a_hint(workdir, capsys):
    (workdir / "json.py").write_text("def predict(batch):\n    return batch.mean(axis=(1, 2))\n")
    assert cli.main(["compare", "--model", "json:predict", "--methods", "native.lime", "--image", "photos/a.png",
                     "--out", "x.html"]) == 2
    assert "shadows ./json.py: rename your file" in capsys.readouterr().err
