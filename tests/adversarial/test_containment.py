"""Nothing is read or written outside the run directory: links inside it are never followed."""

import json
import os

import pytest
from adversarial.cases import IMAGES, assert_trustworthy, run

import xaihub
from xaihub import InputError
from xaihub.run.run_directory import INDEX_NAME, LOCK_NAME, SETTINGS_NAME, explanation_file, file_name, read_index


@pytest.fixture
def elsewhere(tmp_path):
    """A folder outside the run directory, with a file of the user's in it."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "precious.txt").write_text("mine")
    return folder


def untouched(folder):
    assert sorted(os.listdir(folder)) == ["precious.txt"] and (folder / "precious.txt").read_text() == "mine"


def test_a_linked_image_folder_is_not_written_through(tmp_path, elsewhere):
    out = tmp_path / "run"
    (out / "explanations").mkdir(parents=True)
    os.symlink(elsewhere, out / "explanations" / file_name("0"))
    summary = run(IMAGES[:2], out)
    untouched(elsewhere)
    assert summary.done == 2 and summary.failed == 2  # image 0 fails alone, saying why
    assert all("symbolic link" in f["message"] for f in summary.failures)
    os.remove(out / "explanations" / file_name("0"))
    assert run(IMAGES[:2], out).done == 2  # once the link is gone, the run completes
    assert_trustworthy(out, ["0", "1"])


@pytest.mark.parametrize("name", [INDEX_NAME, SETTINGS_NAME, LOCK_NAME, "explanations", ".tmp"])
def test_a_linked_index_settings_lock_or_folder_is_refused(tmp_path, elsewhere, name):
    out = tmp_path / "run"
    out.mkdir()
    target = elsewhere / "precious.txt" if name not in ("explanations", ".tmp") else elsewhere
    os.symlink(target, out / name)
    with pytest.raises(InputError, match="symbolic link"):
        run(IMAGES[:2], out)
    untouched(elsewhere)
    if name == INDEX_NAME:
        with pytest.raises(InputError, match="symbolic link"):
            xaihub.dataset_statistics(out)


def test_a_linked_explanation_file_is_neither_read_nor_written_through(tmp_path, elsewhere):
    out = tmp_path / "run"
    run(IMAGES[:1], out)
    line = read_index(out)[0]
    os.replace(out / line["file"], elsewhere / "moved.npz")
    os.symlink(elsewhere / "moved.npz", out / line["file"])  # same bytes, reached through a link
    page = open(xaihub.dataset_report(out, tmp_path / "r.html", gallery_size=1), encoding="utf-8").read()
    assert "symbolic link" in page
    assert run(IMAGES[:1], out).done == 2  # not intact: the pair is redone, the link replaced by a file
    assert not os.path.islink(out / line["file"]) and (elsewhere / "moved.npz").exists()
    assert_trustworthy(out, ["0"])


def test_run_json_from_elsewhere_is_not_shown_in_the_report(tmp_path, elsewhere):
    out = tmp_path / "run"
    run(IMAGES[:1], out)
    os.remove(out / SETTINGS_NAME)
    (elsewhere / "secret.json").write_text(json.dumps({"params": {}, "password": "hunter2"}))
    os.symlink(elsewhere / "secret.json", out / SETTINGS_NAME)
    page = open(xaihub.dataset_report(out, tmp_path / "r.html"), encoding="utf-8").read()
    assert "hunter2" not in page


def test_a_fifo_in_place_of_a_file_does_not_hang(tmp_path):
    out = tmp_path / "run"
    run(IMAGES[:1], out)
    line = read_index(out)[0]
    os.remove(out / line["file"])
    os.mkfifo(out / line["file"])
    page = open(xaihub.dataset_report(out, tmp_path / "r.html", gallery_size=2), encoding="utf-8").read()
    assert "not a regular file" in page
    assert run(IMAGES[:1], out).done == 2


def test_the_run_directory_itself_may_be_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    assert run(IMAGES[:1], tmp_path / "link").done == 2
    assert_trustworthy(tmp_path / "real", ["0"])
    assert explanation_file("0", "native.lime", 1) in {line["file"] for line in read_index(tmp_path / "real")}


@pytest.mark.parametrize("name", [INDEX_NAME, SETTINGS_NAME, LOCK_NAME])
def test_a_folder_in_place_of_a_file_is_an_input_error(tmp_path, name):
    (tmp_path / name).mkdir()
    with pytest.raises(InputError, match="not a regular file|Is a directory"):
        run(IMAGES[:1], tmp_path)
    if name == INDEX_NAME:
        with pytest.raises(InputError, match="not a regular file"):
            xaihub.dataset_report(tmp_path, tmp_path / "r.html")
