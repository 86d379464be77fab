"""Shared by the adversarial tests: small images, a cheap method, and the integrity check every
test ends with (what a user must be able to trust about a run directory after anything happened)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

import xaihub
from xaihub.run.run_directory import TEMP_DIR, completed_pairs, load_explanation, scan_index

LIME = {"native.lime": {"num_samples": 10}}
IMAGES = np.random.default_rng(0).integers(30, 256, (6, 16, 16, 3), dtype=np.uint8)
TESTS = str(Path(__file__).resolve().parents[1])
"""The folder holding toy_models.py, for subprocesses."""


def run(images, out, **kwargs):
    from toy_models import channel_means

    kwargs.setdefault("methods", ["native.lime"])
    kwargs.setdefault("params", LIME)
    kwargs.setdefault("targets", "top-2")
    return xaihub.explain_many(kwargs.pop("model", channel_means), images, out=out, **kwargs)


def assert_trustworthy(out, ids, methods=("native.lime",), targets=2):
    """Every image × method is complete: its ``targets`` ok lines are the latest, each file has
    its recorded size and SHA-256 and loads as what its line says; nothing is left in ``.tmp``."""
    done = completed_pairs(out)
    assert done == {(str(i), m): targets for i in ids for m in methods}
    ok = [line for line in scan_index(out).records if line["status"] == "ok"]
    latest = {(line["image"], line["method"], line["target"]): line for line in ok}
    files = [line["file"] for line in latest.values()]
    assert len(set(files)) == len(files), "two results share one file"
    for line in latest.values():
        explanation = load_explanation(out, line)
        assert (explanation.method, explanation.target) == (line["method"], line["target"])
    assert os.listdir(os.path.join(out, TEMP_DIR)) == []


def subprocess_env() -> dict[str, str]:
    """The environment for a child Python that imports xaihub and toy_models."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([TESTS, *sys.path]), "XAIHUB_PLUGINS": "native"}
