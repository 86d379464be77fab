"""Writing a user's file so that a crash or a second writer never leaves it half-written.

Every file xaihub writes outside a run directory (an explanation, a report) is first written to a
temporary name beside it, unique to the writer (process id + random), fsynced, then renamed over
the target in one step: readers see the old file or the new one, never a mixture.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import Iterator

from xaihub.core.errors import InputError

_TEMP_STEM_CHARS = 64
"""How much of the target's name a temporary name keeps: the rest of it must fit in 255 bytes."""


def temporary_name(name: str) -> str:
    """A hidden temporary name for ``name`` (a file name, no directory), unique to this writer."""
    return f".{name[:_TEMP_STEM_CHARS]}.{os.getpid()}-{secrets.token_hex(4)}.tmp"


def check_directory(path: str | os.PathLike) -> str:
    """The folder ``path`` will be written into; :class:`InputError` if it does not exist."""
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(directory):
        raise InputError(f"cannot write {os.fspath(path)!r}: directory {directory!r} does not exist")
    return directory


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; write it inside the block.

    When the block succeeds the temporary file is fsynced and renamed over ``path``; when it
    raises, the temporary file is removed and ``path`` is left as it was.
    """
    directory = check_directory(path)
    temporary = os.path.join(directory, temporary_name(os.path.basename(os.fspath(path))))
    try:
        yield temporary
        with open(temporary, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        raise InputError(f"cannot write {os.fspath(path)!r}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` by ``data`` through :func:`atomic_output`."""
    with atomic_output(path) as temporary:
        with open(temporary, "xb") as fh:
            fh.write(data)
