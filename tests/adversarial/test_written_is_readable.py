"""What is written is readable: the writer enforces the reader's limits (index lines of at most
``MAX_LINE_BYTES``, explanation headers of at most ``MAX_HEADER_CHARS``), so nothing a run's summary called
saved is skipped on read; and numbers JSON allows but a float cannot hold never raise in the readers."""

import json
import shutil

import numpy as np
import pytest
from adversarial.cases import IMAGES, run

import xaihub
from xaihub import InputError
from xaihub.core.explanation import MAX_HEADER_CHARS
from xaihub.evaluation.recommendation import recommend
from xaihub.run.run_directory import INDEX_NAME, MAX_LINE_BYTES, current_records, read_index, scan_index


def readable_lines(out):
    """Every line of the index, checked to be read back: none skipped as too long or damaged."""
    scan = scan_index(out)
    written = (out / INDEX_NAME).read_bytes().splitlines()
    assert scan.problems == [] and len(scan.records) == len(written)
    assert max(len(line) for line in written) <= MAX_LINE_BYTES
    return scan.records


def test_a_label_too_long_for_an_index_line_fails_that_explanation_clearly(tmp_path):
    long = "x" * (MAX_LINE_BYTES + 10)  # fits an explanation's header, not an index line
    summary = run(IMAGES[:2], tmp_path / "run", targets=[0, 1], labels=[long, "g", "b"])
    lines = readable_lines(tmp_path / "run")
    failed = [line for line in lines if line["status"] == "failed"]
    assert {(line["image"], line["target"]) for line in failed} == {("0", 0), ("1", 0)}
    assert all("over the 1048576 bytes the index reader takes" in line["message"] and "label" in line["message"]
               for line in failed)
    assert [line["target"] for line in lines if line["status"] == "ok"] == [1, 1]
    assert summary.failed == 2 and summary.done == 2


def test_a_label_too_long_for_a_header_is_refused_when_saved(tmp_path):
    long = "x" * (MAX_HEADER_CHARS + 10)
    run(IMAGES[:1], tmp_path / "run", targets=[0], labels=[long, "g", "b"])
    [line] = readable_lines(tmp_path / "run")
    assert line["status"] == "failed" and "over the 4194304 that load() reads" in line["message"]


def test_explanation_save_refuses_a_header_load_would_refuse(tmp_path):
    explanation = xaihub.Explanation(target=0, attribution=np.zeros((8, 8), np.float32),
                                     extras={"notes": "y" * MAX_HEADER_CHARS})
    with pytest.raises(InputError, match="its header .* over the 4194304 that load\\(\\) reads"):
        explanation.save(tmp_path / "e.npz")
    assert list(tmp_path.iterdir()) == []
    explanation.extras = {"notes": "y" * 1000}
    explanation.save(tmp_path / "e.npz")
    assert xaihub.Explanation.load(tmp_path / "e.npz").extras == explanation.extras


def test_a_huge_failure_message_is_cut_not_lost(tmp_path):
    def shouting(batch):
        raise ValueError("no " * 1_000_000)

    summary = run(IMAGES[:2], tmp_path / "run", model=shouting)
    lines = readable_lines(tmp_path / "run")
    assert summary.failed == len(lines) == 2
    assert all(line["message"].endswith("more characters cut)") for line in lines)


HUGE = "1" + "0" * 400  # valid JSON, an int no float can hold


@pytest.fixture(scope="module")
def benchmarked(tmp_path_factory):
    out = tmp_path_factory.mktemp("big") / "run"
    run(IMAGES[:3], out, methods=["native.lime", "native.random"], metrics=["deletion"], targets="top-1")
    return out


@pytest.mark.parametrize("field", ["score", "seconds", "reused_seconds", "forward_passes", "metrics"])
def test_an_integer_too_large_for_a_float_never_raises(benchmarked, tmp_path, field):
    out = tmp_path / "run"
    shutil.copytree(benchmarked, out)
    lines = []
    for text in (out / INDEX_NAME).read_text().splitlines():
        line = json.loads(text)
        if line["status"] == "ok" and line["image"] == "0":
            line[field] = {"deletion": "HUGE"} if field == "metrics" else "HUGE"
        lines.append(json.dumps(line).replace('"HUGE"', HUGE))
    (out / INDEX_NAME).write_text("\n".join(lines) + "\n")
    stats = xaihub.dataset_statistics(out)
    quantity = "metrics.deletion" if field == "metrics" else field
    assert stats.methods["native.lime"].quantities[quantity].n == 2  # the huge value counts as missing
    xaihub.dataset_report(out, tmp_path / "report.html")
    assert recommend(current_records(read_index(out)), ["native.random"]) is not None


def test_a_run_description_too_long_for_run_json_is_refused_before_the_run(tmp_path):
    from xaihub.run.run_directory import MAX_SETTINGS_BYTES

    labels = ["x" * (MAX_SETTINGS_BYTES // 2 + 10), "g", "b" * (MAX_SETTINGS_BYTES // 2)]
    with pytest.raises(InputError, match="run.json.* over the 16777216 a resume reads; its largest parts: labels"):
        run(IMAGES[:1], tmp_path / "run", labels=labels)
    assert not (tmp_path / "run").exists()
