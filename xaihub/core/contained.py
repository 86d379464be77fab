"""Files inside a folder, reached without following any symbolic link below it.

Every path is ``/``-separated and relative to a root folder; each component is opened relative to
the one before (``openat``) with ``O_NOFOLLOW``, so a link planted anywhere below the root, or a
``..``, can never lead outside it. The root itself may be a link: it is the user's choice.
Every file-system error except "not found" becomes an :class:`InputError` naming the path.
Needs POSIX (Linux, macOS).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from typing import BinaryIO, Iterator

from xaihub.core.errors import InputError, XaihubError
from xaihub.core.files import temporary_name

_NOFOLLOW, _CLOEXEC = getattr(os, "O_NOFOLLOW", 0), getattr(os, "O_CLOEXEC", 0)
_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC
_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the open


def require_posix() -> None:
    """Refuse to work where files cannot be opened relative to a folder without following links."""
    if os.open not in os.supports_dir_fd or not _NOFOLLOW:
        raise XaihubError("run directories need a POSIX system (Linux, macOS): opening files relative to a "
                          "folder without following links is how xaihub keeps every path inside the run directory")


def shown(root: str | os.PathLike, relative: str) -> str:
    """``root/relative`` for messages."""
    return repr(os.path.join(os.fspath(root), relative))


@contextlib.contextmanager
def open_for_reading(root: str | os.PathLike, relative: str) -> Iterator[BinaryIO]:
    """``root/relative`` opened for reading.

    :raises FileNotFoundError: when it does not exist.
    :raises InputError: when a component is a link, or it is not a regular file.
    """
    fd = open_file(root, relative, _READ, create=False)
    with os.fdopen(fd, "rb") as fh:
        yield fh


def open_file(root: str | os.PathLike, relative: str, flags: int, create: bool) -> int:
    """A descriptor of the regular file ``root/relative`` opened with ``flags``; with ``create`` its
    folders (and, given ``os.O_CREAT`` in ``flags``, the file) are created."""
    require_posix()
    parts = relative.split("/")
    with input_errors(root, relative):
        parent = open_folders(root, parts[:-1], create=create)
        try:
            fd = os.open(parts[-1], flags | _NOFOLLOW | _CLOEXEC, 0o644, dir_fd=parent)
        finally:
            os.close(parent)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{shown(root, relative)} is not a regular file")
    return fd


def replace_file(root: str | os.PathLike, relative: str, data: bytes, temporary_folder: str) -> None:
    """Write ``data`` to ``root/relative`` atomically and durably: to ``root/temporary_folder`` under a
    name unique to this writer, fsynced, then renamed into place (a link there is replaced, not
    followed); folders are created as needed."""
    require_posix()
    parts = relative.split("/")
    with input_errors(root, relative):
        parent = open_folders(root, parts[:-1], create=True)
        try:
            temporary = open_folders(root, [temporary_folder], create=True)
            try:
                _replace_in(parent, temporary, parts[-1], data)
            finally:
                os.close(temporary)
        finally:
            os.close(parent)


def remove(root: str | os.PathLike, relative: str, folder: bool = False) -> None:
    """Remove the file (or empty folder) ``root/relative``, a link itself rather than its target;
    a missing one is fine."""
    require_posix()
    parts = relative.split("/")
    with input_errors(root, relative):
        try:
            parent = open_folders(root, parts[:-1], create=False)
        except FileNotFoundError:
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                if folder:
                    os.rmdir(parts[-1], dir_fd=parent)
                else:
                    os.unlink(parts[-1], dir_fd=parent)
        finally:
            os.close(parent)


def empty_folder(root: str | os.PathLike, relative: str) -> None:
    """Create ``root/relative`` if needed and remove every file in it."""
    require_posix()
    with input_errors(root, relative):
        folder = open_folders(root, relative.split("/"), create=True)
    try:
        for entry in os.scandir(folder):
            with contextlib.suppress(OSError):
                os.unlink(entry.name, dir_fd=folder)
    finally:
        os.close(folder)


def open_folders(root: str | os.PathLike, parts: list[str], create: bool) -> int:
    """A descriptor of the folder ``root/parts...``, each component opened with ``O_NOFOLLOW``
    (and created first when ``create``)."""
    fd = os.open(root, _FOLDER)
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    os.fsync(fd)
                except FileExistsError:
                    pass
            inner = os.open(part, _FOLDER | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def input_errors(root: str | os.PathLike, relative: str) -> Iterator[None]:
    """Turn every file-system error but "not found" into an :class:`InputError` naming the path;
    "this is a link" and "this is not a folder" say that no link is followed."""
    try:
        yield
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise InputError(
                f"{shown(root, relative)} (or a folder on its way) is a symbolic link or not a folder; "
                "xaihub follows no links inside a run directory"
            ) from None
        raise InputError(f"cannot use {shown(root, relative)}: {exc.strerror or exc}") from exc


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _replace_in(parent: int, temporary_folder: int, name: str, data: bytes) -> None:
    temporary = temporary_name(name)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644,
                 dir_fd=temporary_folder)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, name, src_dir_fd=temporary_folder, dst_dir_fd=parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=temporary_folder)
        raise
    os.fsync(parent)
