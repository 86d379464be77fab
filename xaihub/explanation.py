"""`Explanation`: one method's answer for one target class on one image."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from xaihub.errors import InputError

FORMAT_VERSION = 1
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

    def save(self, path: str | os.PathLike) -> None:
        """Write to ``path`` as a compressed ``.npz``: arrays plus a JSON header, no pickle."""
        arrays = {k: np.asarray(getattr(self, k)) for k in _ARRAY_FIELDS if getattr(self, k) is not None}
        meta = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _ARRAY_FIELDS}
        meta["format_version"] = FORMAT_VERSION
        arrays["meta"] = np.array(json.dumps(meta, default=_json_default, allow_nan=True))
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Explanation":
        """Read a file written by :meth:`save`; a damaged file raises :class:`InputError`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {k: data[k] for k in _ARRAY_FIELDS if k in data.files}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as exc:
            raise InputError(f"{os.fspath(path)!r} is not a readable xaihub explanation: {exc}") from exc
        if not isinstance(meta, dict) or meta.pop("format_version", None) != FORMAT_VERSION:
            raise InputError(f"{os.fspath(path)!r} has no header of a known format version")
        known = {f.name for f in fields(cls)}
        try:
            explanation = cls(**{k: v for k, v in meta.items() if k in known}, **arrays)
        except TypeError as exc:
            raise InputError(f"{os.fspath(path)!r} is missing fields: {exc}") from exc
        problem = _inconsistency(explanation)
        if problem:
            raise InputError(f"{os.fspath(path)!r} is not a consistent xaihub explanation: {problem}")
        return explanation


def _inconsistency(explanation: Explanation) -> str | None:
    """What makes a loaded explanation unusable (a tampered file), or ``None``."""
    if isinstance(explanation.target, bool) or not isinstance(explanation.target, int):
        return f"target is {explanation.target!r}, not a class index"
    for name in _ARRAY_FIELDS:
        array = getattr(explanation, name)
        if array is not None and array.dtype.kind not in "iuf":
            return f"{name} holds {array.dtype}, not numbers"
    shape = explanation.attribution.shape
    if len(shape) != 2:
        return f"attribution has shape {shape}, expected H×W"
    expected = {"image": (*shape, 3), "segments": shape}
    for name, want in expected.items():
        array = getattr(explanation, name)
        if array is not None and array.shape != want:
            return f"{name} has shape {array.shape}, expected {want} to match the attribution"
    if explanation.channels is not None and (explanation.channels.ndim != 3 or explanation.channels.shape[:2] != shape):
        return f"channels has shape {explanation.channels.shape}, expected {shape + ('C',)}"
    weights, segments = explanation.segment_weights, explanation.segments
    if weights is not None and (segments is None or weights.ndim != 1 or
                                (segments.size and weights.shape[0] <= segments.max())):
        return "segment_weights do not match segments"
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return repr(value)
