"""Where `explain_many` gets its images, each with an id: a folder, a batch, a list, a map or any iterable.

Images are not converted here: each one is converted (or refused) inside its own task, so one bad
image fails alone and the run goes on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from xaihub.core.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class SourceImage:
    """One image to explain: its id and what the user gave (array, PIL image or path)."""

    id: str
    image: Any


@dataclass
class ImageSource:
    """The images of one run, in order, and how many there are when that is known."""

    items: Iterator[SourceImage]
    count: int | None


def image_source(images: Any, ids: Sequence[Any] | None = None) -> ImageSource:
    """Turn ``images`` into id-tagged items.

    :param images: a folder path (its image files, sorted by name; id = file stem, so a folder holding
        ``x.png`` and ``x.PNG`` or ``x.jpg`` is refused), an
        ``N×H×W×C`` or ``N×C×H×W`` array (id = index), a ``{id: image}`` mapping, or a
        list / iterable of arrays, PIL images or paths (id = file stem for paths, index otherwise).
    :param ids: explicit ids, one per image, replacing the ones above.
    """
    if isinstance(images, (str, os.PathLike)):
        items, count = _folder(images)
    elif isinstance(images, np.ndarray):
        items, count = _batch(images)
    elif isinstance(images, Mapping):
        items, count = (SourceImage(str(k), v) for k, v in images.items()), len(images)
    elif isinstance(images, Iterable):
        count = len(images) if hasattr(images, "__len__") else None
        items = (SourceImage(_default_id(i, image), image) for i, image in enumerate(images))
    else:
        raise InputError(
            f"images must be a folder, an N×H×W×C array, a mapping or an iterable of images, got {type(images).__name__}"
        )
    if ids is not None:
        items = _with_ids(items, count, ids)
    return ImageSource(items, count)


def _folder(path: str | os.PathLike) -> tuple[Iterator[SourceImage], int]:
    if not os.path.isdir(path):
        what = "is a file" if os.path.exists(path) else "does not exist"
        raise InputError(f"images {os.fspath(path)!r} {what}; pass a folder of images or a list of paths")
    names = sorted(n for n in os.listdir(path) if n.lower().endswith(IMAGE_SUFFIXES))
    if not names:
        raise InputError(f"folder {os.fspath(path)!r} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    by_stem: dict[str, list[str]] = {}
    for name in names:
        by_stem.setdefault(_stem(name), []).append(name)
    clashes = [files for files in by_stem.values() if len(files) > 1]
    if clashes:
        raise InputError(f"folder {os.fspath(path)!r} holds {len(clashes)} image(s) under two names with one id "
                         f"(the file stem), e.g. {' and '.join(repr(f) for f in clashes[0])}: their results would "
                         "overwrite each other; rename or remove one of each")
    return (SourceImage(_stem(n), os.path.join(path, n)) for n in names), len(names)


def _batch(array: np.ndarray) -> tuple[Iterator[SourceImage], int]:
    if array.ndim != 4:
        raise InputError(
            f"explain_many got a {array.ndim}-D array (shape {array.shape}); pass an N×H×W×C or N×C×H×W batch "
            "(N grayscale images: N×H×W×1), or a list of images"
        )
    return (SourceImage(str(i), image) for i, image in enumerate(array)), len(array)


def _default_id(index: int, image: Any) -> str:
    if isinstance(image, (str, os.PathLike)):
        return _stem(os.path.basename(os.fspath(image)))
    return str(index)


def _stem(file_name: str | bytes) -> str:
    """A file's name without its suffix, as printable text: bytes that are not UTF-8 become ``\\xNN``."""
    stem = os.path.splitext(os.fsdecode(file_name))[0]
    return stem.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _with_ids(items: Iterator[SourceImage], count: int | None, ids: Sequence[Any]) -> Iterator[SourceImage]:
    ids = [str(i) for i in ids]
    if count is not None and count != len(ids):
        raise InputError(f"{len(ids)} ids given for {count} images")
    for position, item in enumerate(items):
        if position >= len(ids):
            raise InputError(f"more images than the {len(ids)} ids given")
        yield SourceImage(ids[position], item.image)
