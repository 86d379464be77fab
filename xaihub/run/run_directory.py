"""The on-disk layout of an `explain_many` run, and the rules that make it a store users can trust.

``out/``
  ``index.jsonl``   one JSON line per image × method × target (see :data:`RECORD_FIELDS`),
  ``run.json``      the run's fingerprint (:mod:`xaihub.run.fingerprint`): model, preprocessing, output,
                    metrics, seed, targets and per-method parameters,
  ``explanations/<image folder>/<method>__<target>.npz``  one saved :class:`~xaihub.Explanation` each,
  ``run.lock``      locked (``flock``) by the one process writing the directory; holds its pid and host,
  ``.tmp/``         files being written, each renamed into place once complete.

* **One writer.** :meth:`RunDirectory.open` takes an exclusive lock; a second writer is refused with
  an :class:`InputError` naming the process (pid, host) that holds it. The lock dies with its process.
* **Atomic, durable.** A file is written under a temporary name unique to the writer, fsynced and
  renamed; an index line is appended (and fsynced) only after its file is on disk. A crash leaves at
  most a line cut short (skipped by readers) and temporary files (removed by the next writer).
* **Contained.** Every path read or written lies inside the directory and no symbolic link below it
  is followed (:mod:`xaihub.core.contained`); an index line naming a file elsewhere is damaged. The
  directory itself may be a link.
* **Verified and bounded.** A file counts only with its recorded size and SHA-256; index lines are read
  at most :data:`MAX_LINE_BYTES` at a time and checked field by field; explanations are read within
  the limits of :meth:`Explanation.load`. Damaged lines and files are reported and redone on resume,
  never fatal.
* **One setup.** A resume whose fingerprint differs is refused (``resume="check"``), unless the user
  starts over (``"overwrite"``) or mixes on purpose (``"force"``).

An (image, method) pair is done when its latest lines cover every target of the image with
``status: ok`` and each file is intact, and, when they record the image's content (``image_sha256``), the
image given now has that content: an image changed under the same id is explained again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterable, Iterator

import numpy as np

from xaihub.core import contained
from xaihub.core.errors import InputError
from xaihub.core.explanation import MAX_FILE_BYTES, Explanation
from xaihub.run.fingerprint import differences

INDEX_NAME = "index.jsonl"
SETTINGS_NAME = "run.json"
EXPLANATIONS_DIR = "explanations"
LOCK_NAME = "run.lock"
TEMP_DIR = ".tmp"
RESUME_MODES = ("check", "overwrite", "force")
"""``explain_many(resume=...)``: refuse a different fingerprint, start over, or accept it."""
RECORD_FIELDS = (
    "image", "method", "target", "status", "label", "score", "seconds", "forward_passes",
    "reused_seconds", "reused_forward_passes",
    "file", "bytes", "sha256", "targets", "seed", "error", "message", "extras", "metrics", "image_sha256",
    "true_label", "predicted",
)
"""Keys of every index line, ``None`` where they do not apply (e.g. ``file`` of a failure). ``image_sha256``
tells the image's content (:func:`xaihub.run.fingerprint.image_digest`), ``predicted`` the model's top-1 class
for it and ``true_label`` the class the user gave (``explain_many(true_labels=...)``); lines of an older xaihub
lack them."""
MAX_LINE_BYTES = 2**20
"""The longest index line read; a longer one is damaged."""
MAX_SETTINGS_BYTES = 16 * 2**20
MAX_EARLIER = 32
"""``run.json`` keeps the differing fields of at most this many earlier setups (``resume="force"``)."""
_REPORTED_PROBLEMS = 100
_PLAIN_NAME = re.compile(r"[a-z0-9_-](?:[a-z0-9._-]{0,98}[a-z0-9_-])?")
_WINDOWS_DEVICES = re.compile(r"(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def record(**values: Any) -> dict[str, Any]:
    """An index line with every field of :data:`RECORD_FIELDS`."""
    unknown = set(values) - set(RECORD_FIELDS)
    if unknown:
        raise ValueError(f"unknown index fields {sorted(unknown)}")
    return {name: values.get(name) for name in RECORD_FIELDS}


# -- names ---------------------------------------------------------------------------------------

def file_name(name: str) -> str:
    """A file or folder name for ``name`` (an image id, a method) that no other name maps to.

    Names of lowercase ASCII letters, digits and ``._-`` (neither starting nor ending with a dot, at
    most 100 characters, no Windows device name) are kept. Any other name becomes a readable prefix (unsafe
    characters replaced by ``_``, at most 64 characters) + ``~`` + 16 hex digits of the SHA-256 of the
    whole name. ``~`` never occurs in a kept name, so the two forms cannot collide; names that differ
    only in case get different hashes, so they stay apart on case-insensitive file systems too; and
    every result is at most 100 bytes, under the 255-byte limit of common file systems.
    """
    if _PLAIN_NAME.fullmatch(name) and not _WINDOWS_DEVICES.fullmatch(name):
        return name
    prefix = re.sub(r"[^A-Za-z0-9._-]", "_", name[:64]).lstrip(".")
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{prefix}~{digest}"


def explanation_file(image_id: str, method: str, target: int) -> str:
    """Where an explanation lives: a ``/``-separated path relative to the run directory."""
    return f"{EXPLANATIONS_DIR}/{file_name(image_id)}/{file_name(method)}__{target}.npz"


def managed_path(directory: str | os.PathLike, path: str | os.PathLike) -> bool:
    """Whether ``path`` is, or lies inside, an entry xaihub writes in the run directory ``directory``
    (its index, ``run.json``, ``explanations/``, lock or ``.tmp/``), links resolved."""
    relative = os.path.relpath(os.path.realpath(path), os.path.realpath(directory))
    return relative.split(os.sep)[0] in (INDEX_NAME, SETTINGS_NAME, EXPLANATIONS_DIR, LOCK_NAME, TEMP_DIR)


def _explanation_parts(file: Any) -> list[str] | None:
    """The components of an index line's ``file`` when it has the form :func:`explanation_file`
    writes (``explanations/<folder>/<name>.npz``, nothing absolute, no ``..``), else ``None``."""
    if not isinstance(file, str) or "\0" in file or "\\" in file:
        return None
    parts = file.split("/")
    if len(parts) != 3 or parts[0] != EXPLANATIONS_DIR or not parts[2].endswith(".npz"):
        return None
    if any(part in ("", ".", "..") or len(part.encode("utf-8", "surrogatepass")) > 255 for part in parts):
        return None
    return parts


# -- the index -----------------------------------------------------------------------------------

@dataclass
class IndexScan:
    """What ``index.jsonl`` holds: its usable lines, and how many were damaged and why."""

    records: list[dict[str, Any]] = field(default_factory=list)
    damaged: int = 0
    """Lines that were cut short, not JSON, too long, or had a field of the wrong type."""
    problems: list[str] = field(default_factory=list)
    """``"line N: why"`` for the first damaged lines."""

    def reject(self, number: int, problem: str) -> None:
        self.damaged += 1
        if len(self.problems) < _REPORTED_PROBLEMS:
            self.problems.append(f"line {number}: {problem}")


def scan_index(directory: str | os.PathLike) -> IndexScan:
    """Read ``directory/index.jsonl`` line by line (bounded), keeping lines that pass :func:`line_problem`.

    A missing index is empty; an index that is a link or not a regular file raises :class:`InputError`.
    """
    scan = IndexScan()
    try:
        with contained.open_for_reading(directory, INDEX_NAME) as fh:
            for number, raw in enumerate(_bounded_lines(fh), start=1):
                if raw is None:
                    scan.reject(number, f"longer than {MAX_LINE_BYTES} bytes")
                    continue
                if not raw.strip():
                    continue
                try:
                    value = json.loads(raw)
                except (ValueError, RecursionError):
                    scan.reject(number, "not valid JSON (cut short by a crash?)")
                    continue
                problem = line_problem(value)
                if problem:
                    scan.reject(number, problem)
                else:
                    scan.records.append(value)
    except FileNotFoundError:
        pass
    return scan


def read_index(directory: str | os.PathLike) -> list[dict[str, Any]]:
    """Every usable line of ``directory/index.jsonl`` in order (see :func:`scan_index`)."""
    return scan_index(directory).records


def line_problem(line: Any) -> str | None:
    """Why an index line cannot be used (a field of the wrong type, an ``ok`` line without an
    intact-looking file reference inside the run directory), or ``None``."""
    if not isinstance(line, dict):
        return "not a JSON object"
    if not isinstance(line.get("image"), str) or not isinstance(line.get("method"), str):
        return "image or method is not a string"
    status, target, targets = line.get("status"), line.get("target"), line.get("targets")
    if status not in ("ok", "failed"):
        return f"status {status!r} is neither 'ok' nor 'failed'"
    if target is not None and not _is_index(target):
        return f"target {target!r} is not a class index"
    if any(line.get(name) is not None and not _is_index(line[name]) for name in ("true_label", "predicted")):
        return "true_label or predicted is not a class index"
    if targets is not None and not (isinstance(targets, list) and all(_is_index(t) for t in targets)):
        return "targets is not a list of class indices"
    kinds = {"score": _is_number, "seconds": _is_number, "forward_passes": _is_int, "seed": _is_int,
             "bytes": _is_int, "label": _is_str, "error": _is_str, "message": _is_str, "sha256": _is_str,
             "file": _is_str, "extras": _is_dict, "metrics": _is_dict, "image_sha256": _is_str}
    wrong = [name for name, kind in kinds.items() if line.get(name) is not None and not kind(line[name])]
    if wrong:
        return f"{', '.join(wrong)} of the wrong type"
    if status == "ok":
        if target is None or not isinstance(targets, list) or target not in targets:
            return "an ok line's target is missing or not among its targets"
        if _explanation_parts(line.get("file")) is None:
            return f"file {line.get('file')!r} is not a path inside {EXPLANATIONS_DIR}/"
        if not _is_int(line.get("bytes")) or not _SHA256.fullmatch(line.get("sha256") or ""):
            return "an ok line has no size or SHA-256 of its file"
    return None


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
        current += [latest[(image, method, t)] for t in dict.fromkeys(targets) if (image, method, t) in latest]
    return current


def select_records(records: Iterable[dict[str, Any]], images: Iterable[str] | None = None,
                   methods: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The lines of these image ids and methods (``None``: all): what one call asked for, in a run directory
    that may hold more (other images, other methods of an earlier call)."""
    images = None if images is None else set(images)
    methods = None if methods is None else set(methods)
    return [line for line in records
            if (images is None or line.get("image") in images) and (methods is None or line.get("method") in methods)]


def accuracy(records: Iterable[dict[str, Any]]) -> tuple[float | None, int]:
    """The model's top-1 accuracy over the images whose lines record both ``predicted`` and ``true_label``
    (``explain_many(true_labels=...)``), and how many images that is; ``(None, 0)`` when none does. Each image
    counts once, by its latest such line."""
    by_image = {line.get("image"): (line["predicted"], line["true_label"]) for line in records
                if _is_index(line.get("predicted")) and _is_index(line.get("true_label"))}
    if not by_image:
        return None, 0
    return sum(predicted == true for predicted, true in by_image.values()) / len(by_image), len(by_image)


def completed_pairs(directory: str | os.PathLike) -> dict[tuple[str, str], int]:
    """(image id, method) pairs whose results are all on disk and intact, with their number of targets."""
    return {pair: targets for pair, (targets, _digest) in completed_images(directory).items()}


def completed_images(directory: str | os.PathLike) -> dict[tuple[str, str], tuple[int, str | None]]:
    """Like :func:`completed_pairs`, with the ``image_sha256`` of the image they explain (``None`` when the
    lines do not all record the same one, e.g. lines of an older xaihub)."""
    by_pair: dict[tuple[str, str], dict[Any, dict[str, Any]]] = {}
    for (image, method, target), line in latest_records(read_index(directory)).items():
        by_pair.setdefault((image, method), {})[target] = line
    done = {}
    for pair, by_target in by_pair.items():
        ok = [line for line in by_target.values() if line.get("status") == "ok"]
        if not ok:
            continue
        targets = list(dict.fromkeys(ok[-1]["targets"]))
        lines = [by_target.get(target) for target in targets]
        if all(line is not None and line.get("status") == "ok" and _intact(directory, line) for line in lines):
            digests = {line.get("image_sha256") for line in lines}
            done[pair] = len(lines), digests.pop() if len(digests) == 1 else None
    return done


# -- reading, verified ---------------------------------------------------------------------------

def verified_bytes(directory: str | os.PathLike, line: dict[str, Any]) -> bytes:
    """The bytes of an ``ok`` line's file, checked against its recorded size and SHA-256.

    :raises InputError: saying what is wrong (missing, outside the directory, altered, too large).
    """
    problem = line_problem(line)
    if problem or line.get("status") != "ok":
        raise InputError(f"index line of {line.get('image')!r} / {line.get('method')!r} is damaged: {problem}")
    name = contained.shown(directory, line["file"])
    try:
        with contained.open_for_reading(directory, line["file"]) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size != line["bytes"]:
                raise InputError(f"{name} has {size} bytes; the index recorded {line['bytes']} (altered or cut short)")
            if size > MAX_FILE_BYTES:
                raise InputError(f"{name} holds {size} bytes, over the {MAX_FILE_BYTES}-byte limit")
            data = fh.read(size + 1)
    except FileNotFoundError:
        raise InputError(f"{name} is missing") from None
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from exc
    if len(data) != size or hashlib.sha256(data).hexdigest() != line["sha256"]:
        raise InputError(f"{name} does not match the SHA-256 recorded in the index (altered since it was written)")
    return data


def load_explanation(directory: str | os.PathLike, line: dict[str, Any]) -> Explanation:
    """The explanation an ``ok`` index line names, verified (:func:`verified_bytes`), read within
    the limits of :meth:`Explanation.load`, and checked to be what the line says (method, target,
    with its image); any damage raises :class:`InputError`."""
    data = io.BytesIO(verified_bytes(directory, line))
    data.name = contained.shown(directory, line["file"])
    explanation = Explanation.load(data)
    if (explanation.method, explanation.target) != (line["method"], line["target"]) or explanation.image is None:
        raise InputError(f"{data.name} is not the explanation its index line describes "
                         f"({line['method']!r}, target {line['target']}, with its image)")
    return explanation


def read_settings(directory: str | os.PathLike) -> dict[str, Any] | None:
    """``run.json`` as a dict, or ``None`` when it is missing or unusable."""
    try:
        return _load_settings(directory)
    except InputError:
        return None


def _load_settings(directory: str | os.PathLike) -> dict[str, Any] | None:
    name = contained.shown(directory, SETTINGS_NAME)
    try:
        with contained.open_for_reading(directory, SETTINGS_NAME) as fh:
            text = fh.read(MAX_SETTINGS_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from exc
    try:
        if len(text) > MAX_SETTINGS_BYTES:
            raise ValueError(f"over {MAX_SETTINGS_BYTES} bytes")
        settings = json.loads(text)
        if not isinstance(settings, dict) or not isinstance(settings.get("params", {}), dict):
            raise ValueError("not a JSON object with a params object")
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{name} is not a readable xaihub run description: {exc}") from exc
    return settings


def _intact(directory: str | os.PathLike, line: dict[str, Any]) -> bool:
    """Whether the line's file has its recorded size and SHA-256 (read in chunks, never whole)."""
    try:
        with contained.open_for_reading(directory, line["file"]) as fh:
            if os.fstat(fh.fileno()).st_size != line["bytes"]:
                return False
            digest = hashlib.sha256()
            while chunk := fh.read(2**20):
                digest.update(chunk)
            return digest.hexdigest() == line["sha256"]
    except (OSError, InputError):
        return False


def _bounded_lines(fh: BinaryIO) -> Iterator[bytes | None]:
    """The lines of ``fh``; ``None`` in place of a line longer than :data:`MAX_LINE_BYTES` (skipped unread)."""
    while True:
        line = fh.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := fh.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line


# -- the writer ----------------------------------------------------------------------------------

class RunDirectory:
    """A run directory opened by its one writer (see the module docstring); use :meth:`open`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock: int | None = None
        self._index: int | None = None

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: str | os.PathLike) -> Iterator["RunDirectory"]:
        """Create ``path`` if needed and lock it for this process (unlocked on exit); a directory
        locked by another writer raises :class:`InputError`. Then remove what a crashed writer left
        in ``.tmp/`` (only the lock holder writes there) and refuse a link in place of ``explanations/``."""
        contained.require_posix()
        run = cls(os.fspath(path))
        if os.path.lexists(run.path) and not os.path.isdir(run.path):
            raise InputError(f"out {run.path!r} exists and is not a directory")
        try:
            os.makedirs(run.path, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the run directory {run.path!r}: {exc.strerror or exc}") from exc
        run._acquire_lock()
        try:
            contained.empty_folder(run.path, TEMP_DIR)
            with contained.input_errors(run.path, EXPLANATIONS_DIR):
                os.close(contained.open_folders(run.path, [EXPLANATIONS_DIR], create=True))
            yield run
        finally:
            run._close()

    def reconcile(self, fingerprint: dict[str, Any], resume: str = "check") -> None:
        """Record ``fingerprint`` in ``run.json``, against what the directory already holds.

        ``"check"``: a fingerprint that differs from the recorded one is refused with an
        :class:`InputError` listing the fields; methods not run before are added. ``"overwrite"``:
        start over (:meth:`start_over`). ``"force"``: accept the difference; ``run.json`` keeps the
        earlier values of the fields that differed under ``"earlier"`` (each distinct setup once, the last
        :data:`MAX_EARLIER`), so forced resumes cannot grow it without bound.
        """
        if resume not in RESUME_MODES:
            raise InputError(f"resume must be one of {RESUME_MODES}, got {resume!r}")
        if resume == "overwrite":
            self.start_over()
        try:
            before = _load_settings(self.path)
        except InputError as exc:
            if resume != "force":
                raise InputError(f"{exc}; pass resume='overwrite' to start over") from exc
            before = None
        settings = dict(fingerprint)
        if before is not None:
            found = differences(before, fingerprint)
            if found and resume == "check":
                raise InputError(
                    f"{self.path!r} holds results made with a different {', '.join(found)} "
                    f"(recorded: {_fields(before, found)}; now: {_fields(fingerprint, found)}); pass "
                    "resume='overwrite' to start over, resume='force' to mix them, or use another out directory"
                )
            settings["params"] = {**before.get("params", {}), **fingerprint["params"]}
            earlier = before.pop("earlier", [])
            if found:
                earlier = [e for e in earlier if e != {k: before.get(k) for k in found}]
                earlier.append({k: before.get(k) for k in found})
            settings["earlier"] = earlier[-MAX_EARLIER:]
            if not settings["earlier"]:
                del settings["earlier"]
        self.write_file(SETTINGS_NAME, json.dumps(settings, indent=1, default=_jsonable).encode())

    def start_over(self) -> None:
        """Delete what this directory's index says xaihub wrote (each file it names, then the index
        and ``run.json``) and the folders left empty; nothing else is touched."""
        folders = set()
        for line in read_index(self.path):
            parts = _explanation_parts(line.get("file"))
            if parts is not None:
                contained.remove(self.path, line["file"])
                folders.add(parts[1])
        for folder in folders:
            with contextlib.suppress(InputError):  # a folder still holding files of the user's stays
                contained.remove(self.path, f"{EXPLANATIONS_DIR}/{folder}", folder=True)
        self._close_index()
        contained.remove(self.path, INDEX_NAME)
        contained.remove(self.path, SETTINGS_NAME)

    def completed_pairs(self) -> dict[tuple[str, str], int]:
        """See :func:`completed_pairs`."""
        return completed_pairs(self.path)

    def completed_images(self) -> dict[tuple[str, str], tuple[int, str | None]]:
        """See :func:`completed_images`."""
        return completed_images(self.path)

    def save_explanation(self, explanation: Explanation, relative: str) -> tuple[int, str]:
        """Write ``explanation`` to ``relative`` (see :meth:`write_file`); return its size and SHA-256."""
        buffer = io.BytesIO()
        explanation.save(buffer)
        data = buffer.getvalue()
        self.write_file(relative, data)
        return len(data), hashlib.sha256(data).hexdigest()

    def write_file(self, relative: str, data: bytes) -> None:
        """Write ``data`` to ``relative`` (``/``-separated) atomically and durably, through ``.tmp/``
        (see :func:`xaihub.core.contained.replace_file`)."""
        contained.replace_file(self.path, relative, data, TEMP_DIR)

    def append_index(self, records: list[dict[str, Any]]) -> None:
        """Append ``records`` as lines of ``index.jsonl`` in one write, fsynced before returning."""
        if self._index is None:
            self._index = contained.open_file(self.path, INDEX_NAME, os.O_RDWR | os.O_APPEND | os.O_CREAT,
                                              create=False)
            size = os.fstat(self._index).st_size
            if size and os.pread(self._index, 1, size - 1) != b"\n":
                contained.write_all(self._index, b"\n")  # after a crash mid-line, start on a fresh line
        text = "".join(json.dumps(r, default=_jsonable) + "\n" for r in records)
        contained.write_all(self._index, text.encode())
        os.fsync(self._index)

    def _acquire_lock(self) -> None:
        import fcntl

        fd = contained.open_file(self.path, LOCK_NAME, os.O_RDWR | os.O_CREAT, create=False)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _lock_holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise InputError(f"cannot lock the run directory {self.path!r}: {exc.strerror or exc}") from exc
            raise InputError(
                f"the run directory {self.path!r} is in use by another xaihub run ({holder}); wait for it to "
                "finish or use another out directory"
            ) from None
        self._lock = fd
        note = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, note, 0)

    def _close_index(self) -> None:
        if self._index is not None:
            os.close(self._index)
            self._index = None

    def _close(self) -> None:
        import fcntl

        self._close_index()
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            os.close(self._lock)
            self._lock = None


def _lock_holder(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0))
        return f"pid {holder['pid']} on host {holder['host']}, since {holder['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not yet said who it is"


def _fields(settings: dict[str, Any], names: list[str]) -> dict[str, Any]:
    params = settings.get("params", {})
    return {name: (params.get(name.removeprefix("params of ")) if name.startswith("params of ") else settings.get(name))
            for name in names}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_index(value: Any) -> bool:
    return _is_int(value) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def _jsonable(value: Any) -> Any:
    """Index lines' extras as JSON: numpy scalars as numbers, arrays summarised (they live in the file)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return f"<array {value.shape} {value.dtype}>"
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return repr(value)
