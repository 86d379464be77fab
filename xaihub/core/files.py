"""Writing and reading a user's files safely.

Writes: every file xaihub writes outside a run directory (an explanation, a report) is first written to a
temporary name beside it, unique to the writer (process id + random), fsynced, then renamed over
the target in one step: readers see the old file or the new one, never a mixture. Only a regular file
(or nothing) is replaced: a device, a FIFO, a socket, a folder, or a link to one of them is refused
(:func:`check_destination`), so ``--out /dev/null`` run as root never replaces ``/dev/null``.

Reads: every file xaihub reads by name (an image, a mask, a labels file, an explanation) is opened with
:func:`open_regular_file`: without blocking (a FIFO would wait for a writer forever), refused unless it is a
regular file, and, where the caller gives a limit, refused when larger than it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from typing import BinaryIO, Iterator

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


class NotARegularFile(InputError):
    """A path names something xaihub will not read or replace: a folder, a FIFO, a device, a socket, or a
    file over the caller's size limit. The message is the reason (``"it is a FIFO (named pipe)"``); the
    caller names the path."""


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, in words (``"a folder"``, ``"a FIFO (named pipe)"``, ...)."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


@contextlib.contextmanager
def open_regular_file(path: str | os.PathLike, max_bytes: int | None = None) -> Iterator[BinaryIO]:
    """``path`` opened for binary reading.

    The open never blocks (``O_NONBLOCK``: a FIFO with no writer would wait forever), and what it opened is
    checked on the open descriptor (no race with a rename): anything but a regular file, or a file over
    ``max_bytes``, raises :class:`NotARegularFile` with the reason. ``OSError`` (missing, no permission)
    passes through for the caller to word.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):  # a socket cannot be opened at all (ENXIO): say what it is
            raise NotARegularFile(f"it is {file_kind(mode)}, not a regular file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(f"it is {file_kind(info.st_mode)}, not a regular file")
        if max_bytes is not None and info.st_size > max_bytes:
            raise NotARegularFile(f"it holds {info.st_size} bytes, over the {max_bytes}-byte limit")
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def read_regular_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them (see :func:`open_regular_file`;
    a file that grows past the limit while it is read is refused too)."""
    with open_regular_file(path, max_bytes) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise NotARegularFile(f"it holds over {max_bytes} bytes, the limit")
    return data


def check_destination(path: str | os.PathLike) -> str:
    """The folder ``path`` will be written into, once ``path`` is known to be writable by replacing it.

    :raises InputError: when the folder does not exist, or ``path`` exists and is not a regular file (a
        device, a FIFO, a socket, a folder, or a symbolic link to one of them, or a dangling link): xaihub
        replaces only regular files.
    """
    directory = check_directory(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return directory
    except OSError as exc:
        raise InputError(f"cannot write {os.fspath(path)!r}: {exc.strerror or exc}") from exc
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        try:
            mode = os.stat(path).st_mode
        except OSError:
            raise InputError(f"cannot write {os.fspath(path)!r}: it is a symbolic link to nothing; "
                             "xaihub replaces only regular files") from None
        if not stat.S_ISREG(mode):
            raise InputError(f"cannot write {os.fspath(path)!r}: it is a symbolic link to {file_kind(mode)}; "
                             "xaihub replaces only regular files")
    elif not stat.S_ISREG(mode):
        raise InputError(f"cannot write {os.fspath(path)!r}: it is {file_kind(mode)}; xaihub replaces only "
                         "regular files")
    return directory


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; write it inside the block.

    When the block succeeds the temporary file is fsynced and renamed over ``path``; when it
    raises, the temporary file is removed and ``path`` is left as it was. ``path`` is checked with
    :func:`check_destination` before the block runs and again just before the rename (something put there
    meanwhile is not replaced either).
    """
    directory = check_destination(path)
    temporary = os.path.join(directory, temporary_name(os.path.basename(os.fspath(path))))
    try:
        yield temporary
        with open(temporary, "rb") as fh:
            os.fsync(fh.fileno())
        check_destination(path)
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
