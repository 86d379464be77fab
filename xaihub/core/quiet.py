"""Silencing what a wrapped library prints, logs or warns while it works."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from typing import Iterator


@contextlib.contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """Within the block: stdout and stderr swallowed, warnings ignored, the named loggers at ERROR
    (their levels are put back after)."""
    named = [logging.getLogger(name) for name in loggers]
    levels = [logger.level for logger in named]
    for logger in named:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(named, levels):
            logger.setLevel(level)
