"""The one progress-bar rule of `explain` and `explain_many`."""

from __future__ import annotations

import sys
from typing import Any


def progress_bar(iterable: Any = None, *, progress: bool | None, **options: Any) -> Any:
    """A tqdm bar, shown when ``progress`` is true or, when it is ``None``, when stderr is a terminal."""
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    return tqdm(iterable, disable=not show, **options)
