"""A run killed at any moment resumes to complete, intact results; a second writer is refused."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from adversarial.cases import assert_trustworthy, run, subprocess_env

import xaihub
from xaihub import Explanation, InputError
from xaihub.run.run_directory import INDEX_NAME, LOCK_NAME, TEMP_DIR, RunDirectory, read_index

COUNT = 24
IMAGES = np.random.default_rng(1).integers(30, 256, (COUNT, 16, 16, 3), dtype=np.uint8)
IDS = [str(i) for i in range(COUNT)]
WRITER = """
import sys, time
import xaihub
from toy_models import channel_means
from adversarial.cases import LIME
from adversarial.test_crashes_and_writers import IMAGES

def slow_channel_means(batch):
    time.sleep(float(sys.argv[2]))
    return channel_means(batch)

summary = xaihub.explain_many(slow_channel_means, IMAGES, ["native.lime"], out=sys.argv[1], params=LIME, targets="top-2",
                              model_id="channel means")
print(summary.done, summary.skipped, summary.failed)
"""


def start_writer(out, pause=0.01):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(pause)], env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, process, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the writer made no progress"
        time.sleep(0.005)
    return True


def index_lines(out):
    try:
        return (out / INDEX_NAME).read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The same run without interruptions: what every resumed run must end up holding."""
    out = tmp_path_factory.mktemp("straight")
    run(IMAGES, out, model_id="channel means")
    return {(r["image"], r["target"]): Explanation.load(out / r["file"]).attribution for r in read_index(out)}


def assert_same_results(out, straight):
    latest = {(r["image"], r["target"]): r for r in read_index(out) if r["status"] == "ok"}
    assert latest.keys() == straight.keys()
    for key, line in latest.items():
        np.testing.assert_array_equal(Explanation.load(out / line["file"]).attribution, straight[key])


@pytest.mark.parametrize("kills", [(3, 17), (0, 9), (30,)])
def test_sigkill_mid_run_then_resume(tmp_path, straight, kills):
    out = tmp_path / "run"
    for lines in kills:  # kill the writer once its index holds this many lines (or when it ends)
        writer = start_writer(out, pause=0.003)
        if wait_for(lambda lines=lines: index_lines(out) >= lines, writer):
            os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    before = len(read_index(out))
    assert before < 2 * COUNT  # it really was cut short
    resumed = run(IMAGES, out, model_id="channel means")
    assert resumed.failed == 0 and resumed.done + resumed.skipped == 2 * COUNT
    assert_trustworthy(out, IDS)
    assert_same_results(out, straight)


def test_what_a_crash_can_leave_is_cleaned_up_or_redone(tmp_path, straight):
    out = tmp_path / "run"
    run(IMAGES[:4], out, model_id="channel means")
    lines = (out / INDEX_NAME).read_text().splitlines()
    (out / INDEX_NAME).write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:40])  # the last line cut short
    (out / TEMP_DIR / ".native.lime__0.npz.999-abcd.tmp").write_bytes(b"half a file")
    (out / "explanations" / "3" / "native.lime__7.npz").write_bytes(b"saved, never indexed")
    resumed = run(IMAGES, out, model_id="channel means")
    assert (resumed.done, resumed.skipped) == (2 * COUNT - 6, 6)  # image 3 lost a line: its pair is redone
    assert_trustworthy(out, IDS)
    assert_same_results(out, straight)
    assert xaihub.dataset_statistics(out).damaged_lines == 1  # the cut line, skipped


def test_a_second_writer_is_refused_and_nothing_is_corrupted(tmp_path, straight):
    out = tmp_path / "run"
    writer = start_writer(out, pause=0.02)
    assert wait_for(lambda: index_lines(out) >= 2, writer)
    with pytest.raises(InputError, match=f"in use by another xaihub run \\(pid {writer.pid} on host "
                                         f"{socket.gethostname()}"):
        run(IMAGES, out, model_id="channel means")
    stats = xaihub.dataset_statistics(out)  # readers need no lock
    assert stats.methods["native.lime"].failures == 0
    output, errors = writer.communicate(timeout=120)
    assert writer.returncode == 0, errors
    assert output.split() == [str(2 * COUNT), "0", "0"]  # the writer's summary is the truth
    assert len(read_index(out)) == 2 * COUNT
    assert_trustworthy(out, IDS)
    assert_same_results(out, straight)
    assert json.loads((out / LOCK_NAME).read_text())["pid"] == writer.pid  # who wrote last


def test_a_second_writer_in_the_same_process_is_refused(tmp_path):
    with RunDirectory.open(tmp_path):
        with pytest.raises(InputError, match=f"pid {os.getpid()}"):
            run(IMAGES[:1], tmp_path)
    assert run(IMAGES[:1], tmp_path).done == 2  # released on exit
