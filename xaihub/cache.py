"""`RunCache`: work that the methods of one `explain` call share."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any, Callable, Hashable, TypeVar

import numpy as np

T = TypeVar("T")


class RunCache:
    """A per-call store of results several methods need: superpixels, perturbation sets.

    The runner gives each ``explain`` call a fresh cache (``model.cache``), so nothing
    outlives the call and nothing is shared between images. ``hits`` counts reuse per
    kind of result, so tests and benchmarks can see that sharing happened.
    """

    def __init__(self) -> None:
        self._store: dict[Hashable, Any] = {}
        self.hits: Counter[str] = Counter()

    def get_or_compute(self, kind: str, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value for ``(kind, key)``, computing and storing it on first use."""
        full_key = (kind, key)
        if full_key in self._store:
            self.hits[kind] += 1
            return self._store[full_key]
        value = compute()
        self._store[full_key] = value
        return value


def array_key(array: np.ndarray) -> tuple[tuple[int, ...], str, str]:
    """A hashable identity for an array's contents."""
    contiguous = np.ascontiguousarray(array)
    return contiguous.shape, str(contiguous.dtype), hashlib.blake2b(contiguous.tobytes(), digest_size=16).hexdigest()
