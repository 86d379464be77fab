"""Seeding libraries that draw from numpy's global random state (shap, OmniXAI) without changing the caller's."""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np


@contextlib.contextmanager
def seeded_global_numpy(seed: int) -> Iterator[None]:
    """Seed ``np.random``'s global state inside the block and restore the previous state after it."""
    saved = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        np.random.set_state(saved)
