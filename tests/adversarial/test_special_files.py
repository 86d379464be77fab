"""Files that are not regular files: a FIFO, a folder, a socket, a device, a link to one of them.

xaihub never replaces one (``--out /dev/null`` run as root must not replace ``/dev/null``), never opens one in a
way that can block (a FIFO with no writer waits forever), and never reads without a bound (``--labels /dev/zero``).
Every call here must return: :func:`returns` runs it in a thread and fails the test when it hangs.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from adversarial.cases import LIME

import xaihub
from xaihub import InputError, cli
from xaihub.core.files import atomic_output, open_regular_file, write_atomically

MODEL = "toy_models:channel_means"
HANG_SECONDS = 120


def returns(call, *args, **kwargs):
    """``call(*args, **kwargs)``'s result (or its exception, raised here); the test fails if it hangs."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = call(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_SECONDS)
    assert not thread.is_alive(), f"{getattr(call, '__name__', call)} hung on a special file"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def special(kind: str, path: Path) -> Path:
    """Make a file of ``kind`` at ``path``: a FIFO, a folder, a socket, or a link to a FIFO or to nothing."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        short = Path(os.path.relpath(path))  # AF_UNIX paths are short
        server.bind(os.fspath(short if len(os.fspath(short)) < len(os.fspath(path)) else path))
        server.close()
    elif kind == "link to a fifo":
        os.mkfifo(path.with_name("target"))
        os.symlink(path.with_name("target"), path)
    elif kind == "dangling link":
        os.symlink(path.with_name("nowhere"), path)
    return path


def kind_of(path: Path) -> int:
    return stat.S_IFMT(os.lstat(path).st_mode)


KINDS = ["fifo", "folder", "socket", "link to a fifo", "dangling link"]


@pytest.fixture
def photos(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    for name in ("a.png", "b.png"):
        pixels = np.random.default_rng(len(name) + ord(name[0])).integers(0, 256, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / "photos" / name)
    return tmp_path / "photos"


@pytest.fixture(scope="module")
def comparison():
    from toy_models import channel_means

    image = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    return xaihub.explain(channel_means, image, methods=["native.lime"], params=LIME)


WRITERS = {
    "write_atomically": lambda c, path: write_atomically(path, b"data"),
    "Explanation.save": lambda c, path: c.explanations[0].save(path),
    "report_many": lambda c, path: xaihub.report_many([c], path),
    "Comparison.report": lambda c, path: c.report(path),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_writers_replace_only_regular_files(tmp_path, comparison, writer, kind):
    path = special(kind, tmp_path / "out.html")
    before = kind_of(path)
    with pytest.raises(InputError, match="cannot write .*out.html.*: it is .*xaihub replaces only regular files"):
        returns(WRITERS[writer], comparison, path)
    assert kind_of(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {"out.html"} | ({"target"} if kind == "link to a fifo" else set())), "a temporary file was left behind"


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_regular_file_and_a_link_to_one_are_replaced(tmp_path, comparison, writer):
    (tmp_path / "old.html").write_text("old")
    os.symlink(tmp_path / "old.html", tmp_path / "link.html")
    for name in ("old.html", "link.html"):
        returns(WRITERS[writer], comparison, tmp_path / name)
        assert stat.S_ISREG(os.lstat(tmp_path / name).st_mode) and (tmp_path / name).read_bytes() != b"old"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_node_is_never_replaced_even_as_root(photos, comparison):
    """The stand-in for ``/dev/null``: a character device with its numbers, made in tmp_path."""
    device = photos.parent / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    for writer in WRITERS.values():
        with pytest.raises(InputError, match="it is a device"):
            returns(writer, comparison, device)
        assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert cli.main(["compare", "--model", MODEL, "--methods", "native.lime", "--image", "photos/a.png",
                     "--out", str(device)]) == 2
    assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_something_put_there_during_the_write_is_not_replaced(tmp_path):
    path = tmp_path / "out.html"
    with pytest.raises(InputError, match="it is a FIFO"):
        with atomic_output(path) as temporary:
            Path(temporary).write_bytes(b"data")
            os.mkfifo(path)
    assert stat.S_ISFIFO(os.lstat(path).st_mode) and os.listdir(tmp_path) == ["out.html"]


@pytest.mark.parametrize("command", ["compare", "benchmark"])
@pytest.mark.parametrize("out", ["fifo.html", "missing/report.html"])
def test_the_cli_refuses_a_bad_report_path_before_any_work(photos, capsys, monkeypatch, command, out):
    if out == "fifo.html":
        os.mkfifo(out)
    import xaihub.registry.loading

    def no_model(spec):
        raise AssertionError("the model was loaded before the report path was checked")

    monkeypatch.setattr(xaihub.registry.loading, "load_model", no_model)
    source = ["--images", "photos"] if command == "benchmark" else ["--image", "photos/a.png"]
    assert returns(cli.main, [command, "--model", MODEL, "--methods", "native.lime", *source, "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xaihub: error: cannot write") and out in err
    assert not os.path.exists("fifo-run") and not os.path.exists("report-run")


def test_benchmark_and_reports_refuse_a_missing_folder_before_any_work(photos, comparison):
    from toy_models import channel_means

    with pytest.raises(InputError, match="directory .*missing.* does not exist"):
        xaihub.benchmark(channel_means, "photos", out="run", methods=["native.lime"], params=LIME,
                         report="missing/report.html")
    assert not os.path.exists("run"), "the benchmark ran before its report path was checked"
    with pytest.raises(InputError, match="does not exist"):
        xaihub.report_many([comparison], "missing/report.html")
    with pytest.raises(InputError, match="does not exist"):
        xaihub.dataset_report("run", "missing/report.html")


@pytest.mark.parametrize("elements", [[5], [None], ["report.html"]])
def test_report_many_takes_only_comparisons(tmp_path, comparison, elements):
    with pytest.raises(InputError, match="report_many takes comparisons .*element 0 is"):
        xaihub.report_many(elements, tmp_path / "x.html")
    with pytest.raises(InputError, match="element 1 is"):
        xaihub.report_many([comparison, *elements], tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


# ---- reads ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "folder", "socket", "link to a fifo"])
def test_the_opener_refuses_what_is_not_a_regular_file(tmp_path, kind):
    path = special(kind, tmp_path / "x.png")
    with pytest.raises(InputError, match="not a regular file"):
        with returns(open_regular_file, path):
            pass
    with pytest.raises(InputError, match="image file .*x.png.* cannot be read: it is .*not a regular file"):
        returns(xaihub.core.images.to_rgb_uint8, path)


def test_a_fifo_in_an_images_folder_fails_alone(photos):
    from toy_models import channel_means

    os.mkfifo(photos / "c.png")
    summary = returns(xaihub.explain_many, channel_means, "photos", ["native.lime"], "top-1", out="run", params=LIME)
    assert (summary.images, summary.failed) == (3, 1)
    lines = xaihub.run.run_directory.current_records(xaihub.run.run_directory.read_index("run"))
    failed = [line for line in lines if line["status"] == "failed"]
    assert [line["image"] for line in failed] == ["c"] and "FIFO" in failed[0]["message"]
    assert sorted(line["image"] for line in lines if line["status"] == "ok") == ["a", "b"]


def test_a_fifo_in_a_benchmarked_folder_fails_alone(photos):
    from toy_models import channel_means

    os.mkfifo(photos / "c.png")  # sorts after a.png: the benchmark's first image is readable
    result = returns(xaihub.benchmark, channel_means, "photos", out="run", methods=["native.lime"], params=LIME,
                     metrics=[], targets="top-1")
    assert result.summary.failed == 1 and result.statistics.methods["native.lime"].explanations == 2


def test_a_fifo_as_a_mask_is_refused(photos):
    from xaihub.core.masks import object_masks

    (photos.parent / "masks").mkdir()
    os.mkfifo(photos.parent / "masks" / "a.png")
    with pytest.raises(InputError, match="cannot read the mask of image 'a'.*FIFO"):
        returns(object_masks, "masks")


@pytest.mark.parametrize("option, path, message", [
    ("--image", "fifo.png", "image file 'fifo.png' cannot be read: it is a FIFO"),
    ("--labels", "fifo.txt", "cannot read labels file 'fifo.txt': it is a FIFO"),
    ("--labels", "/dev/zero", "cannot read labels file '/dev/zero': it is a device"),
    ("--labels", "folder", "cannot read labels file 'folder': it is a folder"),
    ("--model", "fifo.pt", "model file 'fifo.pt' is a FIFO (named pipe), not a regular file"),
    ("--model", "folder.pt", "model file 'folder.pt' is a folder, not a model file"),
    ("--model", "folder.onnx", "model file 'folder.onnx' is a folder, not a model file"),
])
@pytest.mark.parametrize("command", ["compare", "benchmark", "list"])
def test_the_cli_refuses_special_inputs_without_hanging(photos, capsys, command, option, path, message):
    for name in ("fifo.png", "fifo.txt", "fifo.pt"):
        os.mkfifo(name)
    for name in ("folder", "folder.pt", "folder.onnx"):
        os.mkdir(name)
    if command == "list" and option == "--labels":
        pytest.skip("list takes no --labels")
    if command == "benchmark" and option == "--image":
        pytest.skip("benchmark takes --images")
    arguments = {"--model": MODEL, "--image": None, "--labels": None, option: path}
    if command == "list":
        argv = ["list", *[a for k, v in arguments.items() if v for a in (k, v) if k != "--labels"]]
    else:
        arguments["--image" if command == "compare" else "--images"] = arguments.pop("--image") or (
            "photos/a.png" if command == "compare" else "photos")
        argv = [command, "--methods", "native.lime", "--out", "x.html",
                *[a for k, v in arguments.items() if v for a in (k, v)]]
    assert returns(cli.main, argv) == 2
    assert message in capsys.readouterr().err
    assert not os.path.exists("x.html")


def test_a_labels_file_over_the_limit_is_refused(tmp_path, monkeypatch):
    from xaihub.registry import loading

    monkeypatch.setattr(loading, "MAX_LABELS_BYTES", 100)
    (tmp_path / "labels.txt").write_text("cat\n" * 26)
    with pytest.raises(InputError, match="holds 104 bytes, over the 100-byte limit"):
        loading.load_labels(str(tmp_path / "labels.txt"))
    (tmp_path / "labels.txt").write_text("cat\n" * 25)
    assert loading.load_labels(str(tmp_path / "labels.txt")) == ["cat"] * 25


@pytest.mark.parametrize("metric", ["deletion", "insertion", "srg"])
def test_curve_steps_have_an_upper_bound(metric):
    from xaihub.metrics.faithfulness import MAX_STEPS

    from toy_models import channel_means

    image = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    with pytest.raises(InputError, match=f"steps is {10**9}, over the limit of {MAX_STEPS}"):
        returns(xaihub.explain, channel_means, image, methods=["native.lime"], params=LIME,
                metrics={metric: {"steps": 10**9}})
