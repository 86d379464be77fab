"""Damaged index lines and files: statistics, the dataset report and resume skip, report and redo them."""

import hashlib
import io
import json
import os
import shutil
import zipfile

import numpy as np
import pytest
from adversarial.cases import IMAGES, assert_trustworthy, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xaihub
from xaihub.run.run_directory import INDEX_NAME, completed_pairs, read_index

IDS = [str(i) for i in range(4)]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=8)


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("good") / "run"
    run(IMAGES[:4], out, metrics=["deletion"])
    return out


def copy(run_dir, tmp_path):
    return shutil.copytree(run_dir, tmp_path / f"copy{len(os.listdir(tmp_path))}")


def lines_of(out):
    return (out / INDEX_NAME).read_text().splitlines()


def write_lines(out, lines):
    (out / INDEX_NAME).write_text("".join(line + "\n" for line in lines))


def report(out, gallery_size=1):
    stats = xaihub.dataset_statistics(out)
    page = open(xaihub.dataset_report(out, out.parent / f"{out.name}.html", gallery_size=gallery_size),
                encoding="utf-8").read()
    completed_pairs(out)
    return stats, page


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_random_damage_to_index_lines_never_breaks_statistics_report_or_resume(good_run, tmp_path, data):
    out = copy(good_run, tmp_path)
    lines = lines_of(out)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(lines) - 1))
        kind = data.draw(st.sampled_from(["field", "drop-field", "bytes", "json", "cut"]))
        try:
            line = json.loads(lines[at])
        except ValueError:
            line = None
        if kind in ("field", "drop-field") and isinstance(line, dict) and line:
            name = data.draw(st.sampled_from(sorted(line)))
            if kind == "field":
                line[name] = data.draw(JSON)
            else:
                del line[name]
            lines[at] = json.dumps(line)
        elif kind == "bytes":
            lines[at] = data.draw(st.text(max_size=40)).replace("\n", " ")
        elif kind == "json":
            lines[at] = json.dumps(data.draw(JSON))
        else:
            lines[at] = lines[at][: data.draw(st.integers(0, len(lines[at])))]
    write_lines(out, lines)
    stats, page = report(out)
    assert stats.damaged_lines <= 4 and "<h1>" in page


@pytest.mark.parametrize("file", ["../../x.npz", "/tmp/x.npz", "explanations/../../x.npz", "explanations/0/../../x.npz",
                                  "explanations/0", "explanations//x.npz", "explanations/0/x.npz\0"])
def test_a_line_pointing_outside_is_damaged_never_read(good_run, tmp_path, file):
    out = copy(good_run, tmp_path)
    outside = tmp_path / "x.npz"
    lines = [json.loads(line) for line in lines_of(out)]
    shutil.copy(out / lines[0]["file"], outside)
    lines[0]["file"] = file if not file.startswith("/") else str(outside)
    write_lines(out, [json.dumps(line) for line in lines])
    stats, page = report(out)
    assert stats.damaged_lines == 1 and "is not a path inside explanations/" in page
    assert (lines[0]["image"], lines[0]["method"]) not in completed_pairs(out)
    resumed = run(IMAGES[:4], out, metrics=["deletion"])
    assert resumed.done == 2 and resumed.skipped == 6  # the pair the damaged line belonged to is redone
    assert_trustworthy(out, IDS)


def test_the_reported_crashes_are_damaged_lines_or_items(good_run, tmp_path):
    out = copy(good_run, tmp_path)
    lines = [json.loads(line) for line in lines_of(out)]
    shown = max(lines[:2], key=lambda line: line["score"])  # image 0's line in the gallery
    bomb = io.BytesIO()
    np.lib.format.write_array_header_1_0(bomb, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 50_000)})
    meta = zipfile.ZipFile(out / shown["file"]).read("meta.npy")
    with zipfile.ZipFile(out / shown["file"], "w") as archive:  # a file declaring 40 GB, recorded as intact
        archive.writestr("meta.npy", meta)
        archive.writestr("attribution.npy", bomb.getvalue())
    data = (out / shown["file"]).read_bytes()
    shown.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    lines[2]["metrics"] = ["deletion", 0.3]  # was an AttributeError
    lines[3]["targets"] = [[0], 1]  # was a TypeError (unhashable)
    text = [json.dumps(line) for line in lines] + ["x" * (2 * 2**20), '{"image": "0", "meth']
    write_lines(out, text)
    stats, page = report(out)
    assert stats.damaged_lines == 4 and "longer than" in page and "Damaged index lines (4)" in page
    resumed = run(IMAGES[:4], out, metrics=["deletion"])
    assert resumed.done == 2 and resumed.skipped == 6  # image 1 lost both lines; image 0's forged file
    assert "cannot show the map" in report(out, gallery_size=4)[1]  # matches its forged checksum: only loading refuses it


def test_altered_missing_and_swapped_files_are_reported_in_their_items_and_redone(good_run, tmp_path):
    out = copy(good_run, tmp_path)
    lines = [json.loads(line) for line in lines_of(out)]
    top = {}
    for line in lines:  # the gallery shows each image's most probable target
        if line["image"] not in top or line["score"] > top[line["image"]]["score"]:
            top[line["image"]] = line
    altered, missing, swapped, other = list(top.values())
    with open(out / altered["file"], "r+b") as fh:
        fh.seek(50)
        fh.write(b"\xff\xff")
    os.remove(out / missing["file"])
    swapped_line = next(line for line in lines if line["image"] == swapped["image"] and line is not swapped)
    shutil.copy(out / swapped_line["file"], out / swapped["file"])  # another target's file, recorded as this one
    data = (out / swapped["file"]).read_bytes()
    swapped.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    write_lines(out, [json.dumps(line) for line in lines])
    page = open(xaihub.dataset_report(out, tmp_path / "r.html", gallery_size=4), encoding="utf-8").read()
    assert page.count("cannot show the map") == 3
    assert "SHA-256" in page and "is missing" in page and "not the explanation its index line describes" in page
    assert run(IMAGES[:4], out, metrics=["deletion"]).done == 4  # altered and missing: both targets redone
    assert sum(line["status"] == "ok" for line in read_index(out)) == 12
