"""The on-disk layout of an `explain_many` run, and what in it counts as done.

``out/``
  ``index.jsonl``   one JSON line per image × method × target (see :data:`RECORD_FIELDS`),
  ``run.json``      the seed, targets and per-method parameters the results were made with,
  ``explanations/<image id>/<method>__<target>.npz``  one saved :class:`~xaihub.Explanation` each.

Every file is written to a temporary name and renamed; an index line is appended (and fsynced)
only after the file it names is on disk. An (image, method) pair is done when its latest lines
cover every target of the image with ``status: ok`` and each file still has the recorded size
and SHA-256; anything else (a failure, a missing or altered file, a line cut short) is redone.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Iterable

import numpy as np

from xaihub.errors import InputError
from xaihub.explanation import Explanation

INDEX_NAME = "index.jsonl"
SETTINGS_NAME = "run.json"
EXPLANATIONS_DIR = "explanations"
RECORD_FIELDS = (
    "image", "method", "target", "status", "label", "score", "seconds", "forward_passes",
    "reused_seconds", "reused_forward_passes",
    "file", "bytes", "sha256", "targets", "seed", "error", "message", "extras", "metrics",
)
"""Keys of every index line, ``None`` where they do not apply (e.g. ``file`` of a failure)."""


def record(**values: Any) -> dict[str, Any]:
    """An index line with every field of :data:`RECORD_FIELDS`."""
    unknown = set(values) - set(RECORD_FIELDS)
    if unknown:
        raise ValueError(f"unknown index fields {sorted(unknown)}")
    return {name: values.get(name) for name in RECORD_FIELDS}


def read_index(directory: str | os.PathLike) -> list[dict[str, Any]]:
    """Every readable line of ``directory/index.jsonl`` in order; lines cut short by a crash are skipped."""
    path = os.path.join(directory, INDEX_NAME)
    if not os.path.exists(path):
        return []
    records = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                records.append(value)
    return records


def latest_records(records: Iterable[dict[str, Any]]) -> dict[tuple[Any, Any, Any], dict[str, Any]]:
    """The last line written for each (image, method, target)."""
    return {(r.get("image"), r.get("method"), r.get("target")): r for r in records}


def current_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines of each (image, method)'s latest attempt: what a run directory holds now.

    The latest line of a pair decides: a failure of the whole method or image (``target`` is
    ``None``) stands alone; otherwise the latest line of each of its ``targets`` counts, so a failure
    that a later run repaired is not reported again.
    """
    records = list(records)
    latest = latest_records(records)
    last_of_pair = {(r.get("image"), r.get("method")): r for r in records}
    current = []
    for (image, method), line in last_of_pair.items():
        targets = line.get("targets")
        if line.get("target") is None or not isinstance(targets, list):
            current.append(line)
            continue
        current += [latest[(image, method, t)] for t in targets if (image, method, t) in latest]
    return current


def completed_pairs(directory: str | os.PathLike) -> dict[tuple[str, str], int]:
    """(image id, method) pairs whose results are all on disk and intact, with their number of targets."""
    by_pair: dict[tuple[str, str], dict[Any, dict[str, Any]]] = {}
    for (image, method, target), line in latest_records(read_index(directory)).items():
        by_pair.setdefault((image, method), {})[target] = line
    done = {}
    for pair, by_target in by_pair.items():
        ok = [line for line in by_target.values() if line.get("status") == "ok"]
        if not ok or not isinstance(ok[-1].get("targets"), list):
            continue
        lines = [by_target.get(target) for target in ok[-1]["targets"]]
        if all(line is not None and line.get("status") == "ok" and _intact(directory, line) for line in lines):
            done[pair] = len(lines)
    return done


class IndexWriter:
    """Appends lines to ``index.jsonl``, each batch flushed and fsynced before returning."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.path = os.path.join(directory, INDEX_NAME)
        self._start_on_a_fresh_line()

    def append(self, records: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, default=_jsonable) + "\n" for r in records)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    def _start_on_a_fresh_line(self) -> None:
        """After a crash mid-line, the next line must not be glued to the broken one."""
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return
        with open(self.path, "rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")


def explanation_file(image_id: str, method: str, target: int) -> str:
    """Where an explanation lives, relative to the run directory."""
    return os.path.join(EXPLANATIONS_DIR, image_directory(image_id), f"{safe_name(method)}__{target}.npz")


def image_directory(image_id: str) -> str:
    """A file-system-safe folder name for an image id; ids that needed changing get a hash suffix."""
    safe = safe_name(image_id)
    if safe == image_id and safe not in ("", ".", ".."):
        return safe
    return f"{safe}-{hashlib.sha256(image_id.encode()).hexdigest()[:10]}"


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def save_durably(explanation: Explanation, path: str) -> tuple[int, str]:
    """Save ``explanation`` (atomically, then fsynced) and return the file's size and SHA-256."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    explanation.save(path)
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
        data = fh.read()
    return len(data), hashlib.sha256(data).hexdigest()


def reconcile_settings(directory: str | os.PathLike, settings: dict[str, Any]) -> None:
    """Record ``settings`` (seed, targets, params per method) in ``run.json``.

    A directory made with another seed or targets, or other parameters for a method both runs
    share, is refused: mixing them would make results that cannot be compared. New methods are added.
    """
    path = os.path.join(directory, SETTINGS_NAME)
    settings = json.loads(json.dumps(settings, default=_jsonable))
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as fh:
                before = json.load(fh)
            before_params = dict(before["params"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path!r} is not a readable xaihub run description: {exc}") from exc
        differences = [key for key in ("seed", "targets") if before.get(key) != settings[key]]
        differences += [f"params of {m}" for m, p in settings["params"].items()
                        if m in before_params and before_params[m] != p]
        if differences:
            raise InputError(
                f"{os.fspath(directory)!r} holds results made with a different {', '.join(differences)} "
                f"(before: {before}, now: {settings}); use another out directory"
            )
        settings["params"] = {**before_params, **settings["params"]}
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(settings, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _intact(directory: str | os.PathLike, line: dict[str, Any]) -> bool:
    if not isinstance(line.get("file"), str):
        return False
    path = os.path.join(directory, line["file"])
    try:
        if os.path.getsize(path) != line.get("bytes"):
            return False
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest() == line.get("sha256")
    except OSError:
        return False


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return f"<array {value.shape} {value.dtype}>"
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return repr(value)
