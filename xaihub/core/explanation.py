"""`Explanation`: one method's answer for one target class on one image."""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field, fields
from typing import Any, BinaryIO

import numpy as np

from xaihub.core.errors import InputError
from xaihub.core.files import NotARegularFile, atomic_output, open_regular_file
from xaihub.core.images import MAX_PIXELS
from xaihub.core.maps import degenerate_reason

FORMAT_VERSION = 1
MAX_FILE_BYTES = 512 * 2**20
"""The largest explanation file :meth:`Explanation.load` reads, and the most its arrays may declare in all
(a 4096×4096 explanation with every array, in float32, takes about 400 MB)."""
MAX_HEADER_CHARS = 2**22
"""The longest JSON header (parameters, extras, ...) a file may declare."""
_MAX_CHANNELS = 16
_MAX_MEMBERS = 16
_ZIP_END_RECORD = 22
SETTLED_AGREEMENT = 0.5
"""The share of bootstrap refits keeping the top superpixels below which :attr:`Explanation.cautions` calls a
method's top-k unsettled."""
_ARRAY_FIELDS = ("image", "attribution", "channels", "segments", "segment_weights")


@dataclass
class Explanation:
    """A unified attribution result.

    Plugins set ``target`` and ``attribution`` (and ``channels``, ``segments``,
    ``segment_weights``, ``extras`` when they have them); the runner fills the rest
    from its own measurements, so timings and forward passes are never claimed by a
    plugin.
    """

    target: int
    attribution: np.ndarray
    """``H×W`` float32 map; positive values support the target."""
    method: str = ""
    label: str | None = None
    image: np.ndarray | None = None
    """The explained input, ``H×W×3`` uint8."""
    channels: np.ndarray | None = None
    """Per-channel map ``H×W×C`` float32, for methods that give one."""
    segments: np.ndarray | None = None
    """Superpixel id per pixel, ``H×W`` int32, for segment-based methods."""
    segment_weights: np.ndarray | None = None
    """Weight of each superpixel id (index = id), for segment-based methods."""
    score: float = float("nan")
    """The model's probability for ``target`` on the unperturbed image."""
    seconds: float = 0.0
    """Wall seconds the method call (all targets) would take alone: its own time plus the recorded cost
    of shared work (superpixels, perturbations) it took from another method of the same ``explain`` call."""
    forward_passes: int = 0
    """Images the model would evaluate for the method call alone (counted by the adapter, shared work included)."""
    reused_seconds: float = 0.0
    """The part of ``seconds`` that another method of the call had already paid; spent = seconds − reused."""
    reused_forward_passes: int = 0
    """The part of ``forward_passes`` another method of the call had already paid."""
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    versions: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    """Method-specific, JSON-serialisable facts (chosen layer, surrogate R², ...)."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Faithfulness scores by name (``"deletion"``, ...), when asked for; see :mod:`xaihub.metrics`."""

    @property
    def degenerate(self) -> str | None:
        """Why the map ranks no pixels (``"constant map ..."``, ``"all-zero map"``, ``"non-finite values ..."``),
        or ``None`` for a usable map; see :func:`xaihub.core.maps.degenerate_reason`. Metrics are not computed
        on a degenerate map (``extras["metric_skipped"]`` says why). An all-zero map of a class activation map
        method (its name has ``cam``) is called an ``"all-zero CAM"``: its ReLU cut a weighted sum that is
        negative everywhere."""
        reason = degenerate_reason(self.attribution)
        if reason == "all-zero map" and "cam" in self.method.lower():
            return "all-zero CAM (the ReLU of a weighted sum negative everywhere)"
        return reason

    @property
    def cautions(self) -> list[str]:
        """What a reader should know before trusting this explanation: a degenerate map, a sampling stopping
        rule that was not met, an unsettled top-k (bootstrap refits that keep the top superpixels less than
        :data:`SETTLED_AGREEMENT` of the time), metrics skipped; empty when nothing is amiss."""
        found = []
        reason = self.degenerate
        if reason:
            found.append(f"degenerate: {reason}")
        stability = self.extras.get("stability")
        if isinstance(stability, dict):
            if stability.get("rule_met") is False:
                found.append("stopping rule not met (the sample ceiling was reached)")
            agreement = _first_number(stability.get("bootstrap_top_agreement"))
            if agreement is not None and agreement < SETTLED_AGREEMENT:
                found.append(f"top-{stability.get('top', 'k')} unsettled (bootstrap agreement {agreement:.2f}, "
                             "lowest over the call's targets)")
        skipped = self.extras.get("metric_skipped")
        if isinstance(skipped, dict) and skipped and not reason:
            found.append("metrics skipped: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()))
        return found

    def top_segments(self, n: int = 4, positive_only: bool = True) -> np.ndarray:
        """Boolean ``H×W`` mask of the ``n`` highest-weighted superpixels."""
        if self.segments is None or self.segment_weights is None:
            raise InputError(f"{self.method or 'this method'} gives no superpixels; top_segments needs a segment-based method")
        weights = np.asarray(self.segment_weights)
        order = np.argsort(-weights, kind="stable")[:n]
        if positive_only:
            order = order[weights[order] > 0]
        return np.isin(self.segments, order)

    def masked_image(self, n: int = 4, fill: int = 0) -> np.ndarray:
        """The image with only the top-``n`` superpixels kept, the rest set to ``fill``."""
        keep = self.top_segments(n)
        out = np.full_like(self.image, fill)
        out[keep] = self.image[keep]
        return out

    def superpixel_view(self, coverage: float = 0.2) -> np.ndarray:
        """VisuaLIME-style view, ``H×W×3`` uint8, as the report draws it: the top ``coverage`` fraction of
        superpixels by ``|weight|`` tinted green (for the target) or red (against it) over the image.

        :raises InputError: for a method that gives no superpixels, or ``coverage`` outside ``(0, 1]``.
        """
        from xaihub.core.superpixels import superpixel_view

        if self.segments is None or self.segment_weights is None or self.image is None:
            raise InputError(f"{self.method or 'this method'} gives no superpixels; superpixel_view needs a "
                             "segment-based method (LIME, Kernel SHAP, ...)")
        return superpixel_view(self.image, self.segments, self.segment_weights, coverage)

    def plot(self, ax: Any = None, alpha: float = 0.6) -> Any:
        """A matplotlib figure of the image and the map over it, with a colour bar (matplotlib is imported only
        here): green supports the target, pink speaks against it, the colour limit is the 99th percentile of
        ``|attribution|``. With ``ax``, only the map over the image is drawn there. Returns the ``Figure``."""
        from matplotlib.figure import Figure

        from xaihub.core.maps import robust_limit

        if not 0 <= alpha <= 1:
            raise InputError(f"alpha must lie in [0, 1], got {alpha!r}")
        limit = robust_limit(self.attribution)
        label = self.label or f"class {self.target}"
        if ax is None:
            figure = Figure(figsize=(8.4, 4), layout="constrained")
            first, ax = figure.subplots(1, 2)
            if self.image is not None:
                first.imshow(self.image)
            first.set_title("input", fontsize=10)
            first.set_axis_off()
        figure = ax.figure
        if self.image is not None:
            ax.imshow(np.asarray(self.image, np.float32).mean(axis=2), cmap="gray", vmin=0, vmax=255)
        shown = ax.imshow(self.attribution, cmap="PiYG", vmin=-limit, vmax=limit,
                          alpha=alpha if self.image is not None else 1.0)
        ax.set_title(f"{self.method or 'map'}: {label}", fontsize=10)
        ax.set_axis_off()
        figure.colorbar(shown, ax=ax, shrink=0.8, label="attribution")
        return figure

    def save(self, path: str | os.PathLike | BinaryIO) -> None:
        """Write to ``path`` (or a binary file) as a compressed ``.npz``: arrays plus a JSON header, no pickle.

        A path is replaced atomically (see :mod:`xaihub.core.files`); a missing directory raises
        :class:`InputError`. What :meth:`load` would refuse (a NaN map, a non-numeric score, ...)
        is refused here, before anything is written.
        """
        problem = _problem(self)
        if problem:
            raise InputError(f"cannot save this explanation: {problem}")
        arrays = {k: np.asarray(getattr(self, k)) for k in _ARRAY_FIELDS if getattr(self, k) is not None}
        meta = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _ARRAY_FIELDS}
        meta["format_version"] = FORMAT_VERSION
        header = json.dumps(meta, default=_json_default, allow_nan=True)
        if len(header) > MAX_HEADER_CHARS:  # load() would refuse it
            raise InputError(f"cannot save this explanation: its header (parameters, extras, label, ...) takes "
                             f"{len(header)} characters as JSON, over the {MAX_HEADER_CHARS} that load() reads; "
                             "shorten its extras or parameters")
        arrays["meta"] = np.array(header)
        if not isinstance(path, (str, os.PathLike)):
            np.savez_compressed(path, **arrays)
            return
        with atomic_output(path) as temporary:
            with open(temporary, "xb") as fh:
                np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike | BinaryIO) -> "Explanation":
        """Read a file written by :meth:`save` (a path or a seekable binary file).

        Reading is bounded: the file may hold at most :data:`MAX_FILE_BYTES`, and every array's
        shape and type, declared in its header, is checked before any memory is allocated for it.
        Then the values are checked (finite maps, image values in ``[0, 255]``, a numeric score, ...);
        the image comes back as uint8. A damaged, oversized or inconsistent file raises :class:`InputError`.
        """
        name = repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else repr(getattr(path, "name", "file"))
        try:
            if isinstance(path, (str, os.PathLike)):
                with open_regular_file(path) as fh:
                    meta, arrays = _read_npz(fh)
            else:
                meta, arrays = _read_npz(path)
        except (_Refused, NotARegularFile) as exc:
            raise InputError(f"{name} is not a readable xaihub explanation: {exc}") from None
        except (OSError, ValueError, KeyError, EOFError, RecursionError, struct.error, zlib.error,
                zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError) as exc:  # RuntimeError: encrypted
            raise InputError(f"{name} is not a readable xaihub explanation: {exc}") from exc
        if not isinstance(meta, dict) or meta.pop("format_version", None) != FORMAT_VERSION:
            raise InputError(f"{name} has no header of a known format version")
        known = {f.name for f in fields(cls)}
        try:
            explanation = cls(**{k: v for k, v in meta.items() if k in known}, **arrays)
        except TypeError as exc:
            raise InputError(f"{name} is missing fields: {exc}") from exc
        problem = _problem(explanation)
        if problem:
            raise InputError(f"{name} is not a consistent xaihub explanation: {problem}")
        if explanation.image is not None and explanation.image.dtype != np.uint8:
            explanation.image = np.rint(explanation.image).astype(np.uint8)  # values checked to lie in [0, 255]
        return explanation


def _first_number(value: Any) -> float | None:
    """The smallest number in ``value`` (a number, or a list of them per target), ``None`` when there is none."""
    values = value if isinstance(value, (list, tuple)) else [value]
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    return min(numbers) if numbers else None


class _Refused(Exception):
    """A file declares something load() will not read (too large, wrong shape or type)."""


def _read_npz(fh: BinaryIO) -> tuple[Any, dict[str, np.ndarray]]:
    """The JSON header and the arrays of an npz file, each array's declared size checked first."""
    size = fh.seek(0, os.SEEK_END)
    if size > MAX_FILE_BYTES:
        raise _Refused(f"it holds {size} bytes, over the {MAX_FILE_BYTES}-byte limit")
    _check_zip_directory(fh, size)
    fh.seek(0)
    with zipfile.ZipFile(fh) as archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        wanted = [name for name in ("meta", *_ARRAY_FIELDS) if name in members]
        declared = {}
        for name in wanted:
            with archive.open(members[name]) as stream:
                declared[name] = _array_header(stream)
        _check_declared(declared)
        arrays = {}
        for name in wanted:
            with archive.open(members[name]) as stream:
                arrays[name] = np.lib.format.read_array(stream, allow_pickle=False)
    meta = json.loads(str(arrays.pop("meta")))
    return meta, arrays


def _check_zip_directory(fh: BinaryIO, size: int) -> None:
    """Refuse an archive whose directory lists more members, or takes more bytes, than a saved
    explanation's, before :mod:`zipfile` parses it into memory."""
    tail_size = min(size, _ZIP_END_RECORD + 65535)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _ZIP_END_RECORD:
        raise _Refused("it is not a zip archive (no end-of-directory record)")
    if at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        raise _Refused("it is a ZIP64 archive, which a saved explanation never is")
    entries, directory_bytes = struct.unpack("<HI", tail[at + 10 : at + 16])
    if entries > _MAX_MEMBERS or directory_bytes > _MAX_MEMBERS * 1024:
        raise _Refused(f"its zip directory lists {entries} members in {directory_bytes} bytes, "
                       f"more than a saved explanation's {_MAX_MEMBERS}")


def _array_header(stream: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise _Refused(f"npy format version {version} is not supported")
    return shape, dtype


def _check_declared(declared: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
    """Refuse, from the arrays' headers alone, any shape, type or total size a saved explanation cannot have."""
    if "meta" not in declared or "attribution" not in declared:
        raise _Refused("it has no meta or no attribution array")
    meta_shape, meta_dtype = declared["meta"]
    if meta_shape != () or meta_dtype.kind != "U" or meta_dtype.itemsize > MAX_HEADER_CHARS * 4:
        raise _Refused(f"its header is {meta_dtype} of shape {meta_shape}, expected one string "
                       f"of at most {MAX_HEADER_CHARS} characters")
    shape, _ = declared["attribution"]
    if len(shape) != 2 or min(shape) < 1 or shape[0] * shape[1] > MAX_PIXELS:
        raise _Refused(f"attribution has shape {shape}, expected H×W with at most {MAX_PIXELS} pixels")
    height, width = shape
    total = 0
    for name, (array_shape, dtype) in declared.items():
        if name == "meta":
            continue
        if dtype.hasobject or dtype.kind not in "iuf" or dtype.itemsize > 8:
            raise _Refused(f"{name} holds {dtype}, not numbers")
        expected = _DECLARED_SHAPES[name](array_shape, height, width)
        if not expected:
            raise _Refused(f"{name} has shape {array_shape}, which does not fit a {height}×{width} attribution")
        total += math.prod(array_shape) * dtype.itemsize
    if total > MAX_FILE_BYTES:
        raise _Refused(f"its arrays declare {total} bytes, over the {MAX_FILE_BYTES}-byte limit")


_DECLARED_SHAPES = {
    "attribution": lambda s, h, w: s == (h, w),
    "image": lambda s, h, w: s == (h, w, 3),
    "channels": lambda s, h, w: len(s) == 3 and s[:2] == (h, w) and 1 <= s[2] <= _MAX_CHANNELS,
    "segments": lambda s, h, w: s == (h, w),
    "segment_weights": lambda s, h, w: len(s) == 1 and 0 <= s[0] <= MAX_PIXELS,
}
"""For each array, whether its declared shape can belong to an ``h×w`` explanation."""


def _problem(explanation: Explanation) -> str | None:
    """What makes an explanation unusable (a tampered file, a broken object), or ``None``."""
    problem = _header_problem(explanation)
    if problem:
        return problem
    arrays = {}
    for name in _ARRAY_FIELDS:
        value = getattr(explanation, name)
        if value is None:
            continue
        try:
            array = np.asarray(value)
        except Exception as exc:
            return f"{name} is not an array: {exc}"
        if array.dtype.kind not in "iuf":
            return f"{name} holds {array.dtype}, not numbers"
        arrays[name] = array
    if "attribution" not in arrays:
        return "attribution is missing"
    shape = arrays["attribution"].shape
    if len(shape) != 2:
        return f"attribution has shape {shape}, expected H×W"
    expected = {"image": (*shape, 3), "segments": shape}
    for name, want in expected.items():
        if name in arrays and arrays[name].shape != want:
            return f"{name} has shape {arrays[name].shape}, expected {want} to match the attribution"
    channels = arrays.get("channels")
    if channels is not None and (channels.ndim != 3 or channels.shape[:2] != shape):
        return f"channels has shape {channels.shape}, expected {shape + ('C',)}"
    for name in ("attribution", "channels", "segment_weights"):
        if name in arrays and not np.all(np.isfinite(arrays[name])):
            return f"{name} holds NaN or infinite values"
    image = arrays.get("image")
    if image is not None and image.size and not (np.all(np.isfinite(image)) and image.min() >= 0 and image.max() <= 255):
        return "image values must be finite and lie in [0, 255]"
    weights, segments = arrays.get("segment_weights"), arrays.get("segments")
    if segments is not None and (segments.dtype.kind not in "iu" or (segments.size and segments.min() < 0)):
        return "segments must be non-negative integers"
    if weights is not None and (segments is None or weights.ndim != 1 or
                                (segments.size and weights.shape[0] <= segments.max())):
        return "segment_weights do not match segments"
    return None


def _header_problem(explanation: Explanation) -> str | None:
    """What is wrong with the JSON fields (target, score, timings, dictionaries), or ``None``."""
    target = explanation.target
    if not _is_int(target) or target < 0:
        return f"target is {target!r}, not a class index"
    if not isinstance(explanation.method, str):
        return f"method is {explanation.method!r}, not a string"
    if explanation.label is not None and not isinstance(explanation.label, str):
        return f"label is {explanation.label!r}, not a string"
    if not _is_number(explanation.score):
        return f"score is {explanation.score!r}, not a number"
    if not _is_number(explanation.seconds) or not explanation.seconds >= 0 or math.isinf(explanation.seconds):
        return f"seconds is {explanation.seconds!r}, not a finite number >= 0"
    if not _is_int(explanation.forward_passes) or explanation.forward_passes < 0:
        return f"forward_passes is {explanation.forward_passes!r}, not a count"
    if explanation.seed is not None and not _is_int(explanation.seed):
        return f"seed is {explanation.seed!r}, not an int"
    for name in ("params", "versions", "extras", "metrics"):
        if not isinstance(getattr(explanation, name), dict):
            return f"{name} is {type(getattr(explanation, name)).__name__}, not a dict"
    bad = {k: v for k, v in explanation.metrics.items() if not isinstance(k, str) or not _is_number(v)}
    if bad:
        return f"metrics {bad!r} are not numbers"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return repr(value)
