"""Resolving the ``targets`` argument into class indices."""

from __future__ import annotations

import re
from typing import Sequence, Union

import numpy as np

from xaihub.core.errors import InputError

Targets = Union[int, Sequence[int], str, None]
_TOP_K = re.compile(r"^top-?(\d+)$")


def resolve_targets(targets: Targets, probabilities: np.ndarray) -> list[int]:
    """Class indices to explain.

    :param targets: ``None`` (the top class), an int, a sequence of ints, or ``"top-k"``
        (the ``k`` highest-scoring classes, best first).
    :param probabilities: the model's scores for the image, shape ``K``.
    """
    k = len(probabilities)
    if targets is None:
        targets = "top-1"
    if isinstance(targets, str):
        match = _TOP_K.match(targets.strip().lower())
        if not match or int(match.group(1)) < 1:
            raise InputError(f"targets string must look like 'top-5', got {targets!r}")
        n = min(int(match.group(1)), k)
        return [int(i) for i in np.argsort(-probabilities, kind="stable")[:n]]
    if isinstance(targets, (int, np.integer)) and not isinstance(targets, bool):
        targets = [int(targets)]
    try:
        indices = [_as_index(t) for t in targets]
    except TypeError:
        raise InputError(f"targets must be an int, a list of ints or 'top-k', got {targets!r}") from None
    if not indices:
        raise InputError("targets is empty")
    bad = [i for i in indices if not 0 <= i < k]
    if bad:
        raise InputError(f"target class {bad[0]} is out of range: the model has {k} classes (0..{k - 1})")
    return list(dict.fromkeys(indices))


def check_targets(targets: Targets) -> None:
    """Refuse ``targets`` that no model could resolve (a malformed ``"top-k"``, a non-integer or negative
    class, an empty list), before any image is scored; the range is checked per model by :func:`resolve_targets`."""
    if targets is None:
        return
    if isinstance(targets, str):
        match = _TOP_K.match(targets.strip().lower())
        if not match or int(match.group(1)) < 1:
            raise InputError(f"targets string must look like 'top-5', got {targets!r}")
        return
    resolve_targets(targets, np.ones(1 + max(_indices(targets)), dtype=np.float32))


def _indices(targets: Targets) -> list[int]:
    if isinstance(targets, (int, np.integer)) and not isinstance(targets, bool):
        targets = [int(targets)]
    try:
        indices = [_as_index(t) for t in targets]  # type: ignore[union-attr]
    except TypeError:
        raise InputError(f"targets must be an int, a list of ints or 'top-k', got {targets!r}") from None
    if not indices:
        raise InputError("targets is empty")
    negative = [i for i in indices if i < 0]
    if negative:
        raise InputError(f"target class {negative[0]} is out of range: class indices start at 0")
    return indices


def _as_index(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"target {value!r} is not a class index (int)")
    return int(value)
