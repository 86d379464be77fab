"""`RunCache`: work that the methods of one `explain` call share, and what that work cost.

Costs are kept so that a method's reported cost does not depend on the order of ``methods``: a
method that finds a result in the cache is charged what computing it cost (see
:meth:`RunCache.begin_method`), so its figures say what it would cost run alone.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass
class Cost:
    """Wall seconds and model forward passes."""

    seconds: float = 0.0
    forward_passes: int = 0


@dataclass
class _Entry:
    value: Any
    own: Cost
    """What computing the entry cost, less the entries it computed inside (they have their own)."""
    needs: tuple[Hashable, ...]
    """The entries its computation used (computed or found), so a reuser is charged for them too."""


@dataclass
class Reuse:
    """What one method took from the cache instead of computing it: the cost of every entry it found
    (with the entries those needed), each entry counted once per method."""

    cost: Cost = field(default_factory=Cost)
    used: set[Hashable] = field(default_factory=set)
    """Entries this method computed or was charged for."""


@dataclass
class _Frame:
    started: float
    passes: int
    inner: Cost = field(default_factory=Cost)
    needs: list[Hashable] = field(default_factory=list)


class RunCache:
    """A per-call store of results several methods need: superpixels, perturbation sets.

    The runner gives each ``explain`` call a fresh cache (``model.cache``), so nothing
    outlives the call and nothing is shared between images. ``hits`` counts reuse per
    kind of result, so tests and benchmarks can see that sharing happened.

    :param forward_passes: reads the model's forward-pass counter, so each entry records how
        many passes computing it took; without it only seconds are recorded.
    """

    def __init__(self, forward_passes: Callable[[], int] | None = None) -> None:
        self._store: dict[Hashable, _Entry] = {}
        self._passes = forward_passes or (lambda: 0)
        self._frames: list[_Frame] = []
        self._reuse: Reuse | None = None
        self.hits: Counter[str] = Counter()

    def get_or_compute(self, kind: str, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value for ``(kind, key)``, computing and storing it on first use.

        A computation records its seconds and forward passes; after :meth:`begin_method`, finding a
        value charges its recorded cost to that method.
        """
        full_key = (kind, key)
        if self._frames:
            self._frames[-1].needs.append(full_key)
        entry = self._store.get(full_key)
        if entry is not None:
            self.hits[kind] += 1
            self._charge(full_key)
            return entry.value
        frame = _Frame(time.perf_counter(), self._passes())
        self._frames.append(frame)
        try:
            value = compute()
        finally:
            self._frames.pop()
        total = Cost(time.perf_counter() - frame.started, self._passes() - frame.passes)
        own = Cost(max(0.0, total.seconds - frame.inner.seconds),
                   max(0, total.forward_passes - frame.inner.forward_passes))
        self._store[full_key] = _Entry(value, own, tuple(frame.needs))
        if self._frames:  # the enclosing computation's own cost excludes this one
            self._frames[-1].inner.seconds += total.seconds
            self._frames[-1].inner.forward_passes += total.forward_passes
        if self._reuse is not None:
            self._reuse.used.add(full_key)
        return value

    def begin_method(self) -> Reuse:
        """From now on, charge reuse to a new method: the returned :class:`Reuse` collects the seconds
        and forward passes it does not spend because an earlier method of the call already had."""
        self._reuse = Reuse()
        return self._reuse

    def _charge(self, key: Hashable) -> None:
        reuse = self._reuse
        if reuse is None:
            return
        pending = [key]
        while pending:
            key = pending.pop()
            if key in reuse.used:
                continue
            reuse.used.add(key)
            entry = self._store[key]
            reuse.cost.seconds += entry.own.seconds
            reuse.cost.forward_passes += entry.own.forward_passes
            pending.extend(entry.needs)


def array_key(array: np.ndarray) -> tuple[tuple[int, ...], str, str]:
    """A hashable identity for an array's contents."""
    contiguous = np.ascontiguousarray(array)
    return contiguous.shape, str(contiguous.dtype), hashlib.blake2b(contiguous.tobytes(), digest_size=16).hexdigest()
