"""Loading what the command line names: models, ``module:object`` specs and label files."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
import stat
import sys
from typing import Any, Iterator

from xaihub.core.errors import InputError

TORCHSCRIPT_SUFFIXES = (".pt", ".pth")
KERAS_SUFFIXES = (".keras",)
ONNX_SUFFIXES = (".onnx",)
MAX_LABELS_BYTES = 64 * 2**20
"""The largest labels file :func:`load_labels` reads (ImageNet-21k's names take about 1 MB)."""


def load_model(spec: str) -> Any:
    """A model from a TorchScript file (``.pt``/``.pth``), a saved Keras model (``.keras``), an ONNX
    file (``.onnx``: its path, which the ``xaihub-onnx`` plugin opens) or ``module:object`` (the object
    is used as-is: a model, or a predict function; a module, a class or a function that cannot take a
    batch is refused, see :func:`check_model_object`)."""
    suffix = os.path.splitext(spec)[1].lower()
    if suffix in ONNX_SUFFIXES:
        return _onnx_file(spec)
    if suffix in TORCHSCRIPT_SUFFIXES + KERAS_SUFFIXES:
        _check_model_file(spec)
        try:
            if suffix in TORCHSCRIPT_SUFFIXES:
                import torch

                return torch.jit.load(spec, map_location="cpu")
            import keras

            return keras.saving.load_model(spec)
        except Exception as exc:
            raise InputError(f"cannot load model {spec!r}: {type(exc).__name__}: {exc}") from exc
    if ":" in spec:
        model = import_object(spec, "model")
        check_model_object(model, spec)
        return model
    raise InputError(f"model {spec!r} is neither a .pt/.pth/.keras/.onnx file nor module:object")


def _onnx_file(spec: str) -> str:
    """The path of an ONNX file, once a plugin's ``adapt_model`` has opened it (so that a file that is
    not ONNX is refused before any image is read; the plugin keeps the session for ``explain``)."""
    from xaihub.registry.plugins import adapter_for

    _check_model_file(spec)
    if adapter_for(spec) is None:
        raise InputError(f"model {spec!r} is an ONNX file, and no installed plugin runs ONNX models: "
                         "install xaihub-onnx (plugins/xaihub-onnx)")
    return spec


def _check_model_file(spec: str) -> None:
    """Refuse a model path that is missing or not a regular file (a folder, a FIFO that would block the
    loader, a device), saying which."""
    from xaihub.core.files import file_kind

    try:
        mode = os.stat(spec).st_mode
    except FileNotFoundError:
        raise InputError(f"model file {spec!r} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot read model file {spec!r}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"model file {spec!r} is a folder, not a model file; name the .pt/.pth/.keras/.onnx "
                         "file in it")
    if not stat.S_ISREG(mode):
        raise InputError(f"model file {spec!r} is {file_kind(mode)}, not a regular file")


def import_object(spec: str, what: str) -> Any:
    """The object named by ``module:attribute`` (dots allowed in both).

    The working directory is importable while the module is imported, after every installed
    package (so a stray ``tqdm.py`` there cannot shadow one), and is taken off ``sys.path`` again.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InputError(f"{what} {spec!r} must look like module:object")
    with _working_directory_importable():
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise InputError(f"cannot import module {module_name!r} for {what} {spec!r}: {type(exc).__name__}: {exc}") from exc
    target = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise InputError(f"module {module_name!r} has no {attribute!r} (from {what} {spec!r})"
                             f"{_shadowing_hint(module)}") from None
    return target


def check_model_object(model: Any, spec: str) -> None:
    """Refuse what ``module:object`` names that cannot be a model: a module, a class (pass an
    instance), or a function that cannot be called with one argument (a factory that takes none,
    or a function of several required arguments). A factory whose arguments all have defaults
    cannot be told from a predict function; its first call is then refused by the model checks."""
    if inspect.ismodule(model):
        raise InputError(f"model {spec!r} is a module; name the model or predict function in it (module:object)")
    if inspect.isclass(model):
        raise InputError(f"model {spec!r} is the class {model.__qualname__}, not a model: create the model in "
                         f"your module (model = {model.__qualname__}(...)) and name that instance")
    if inspect.isfunction(model) or inspect.ismethod(model):
        signature = inspect.signature(model)
        try:
            signature.bind(None)
        except TypeError:
            raise InputError(
                f"model {spec!r} is a function {model.__name__}{signature}, which cannot take a batch of images; "
                "if it builds the model, call it in your module (model = ...) and name the result"
            ) from None


def source_file(spec: str) -> str | None:
    """The file a model or ``module:object`` spec was read from (for the CLI's overwrite checks)."""
    if ":" not in spec:
        return spec if os.path.isfile(spec) else None
    module = sys.modules.get(spec.partition(":")[0])
    return getattr(module, "__file__", None)


@contextlib.contextmanager
def _working_directory_importable() -> Iterator[None]:
    here = os.getcwd()
    if here in sys.path or "" in sys.path:
        yield
        return
    sys.path.append(here)
    try:
        yield
    finally:
        del sys.path[len(sys.path) - 1 - sys.path[::-1].index(here)]


def _shadowing_hint(module: Any) -> str:
    """When ``./<name>.py`` exists but an installed module of that name was imported instead."""
    top = module.__name__.partition(".")[0]
    mine = os.path.join(os.getcwd(), f"{top}.py")
    found = getattr(module, "__file__", None)
    if os.path.exists(mine) and found and os.path.dirname(os.path.abspath(found)) != os.getcwd():
        return f"; note: {top!r} was imported from {found}, an installed module that shadows ./{top}.py: rename your file"
    return ""


def load_labels(path: str) -> list[str]:
    """Class names from a text file (one per line) or a JSON list.

    The file must be a regular file of at most :data:`MAX_LABELS_BYTES` (a FIFO, a device such as
    ``/dev/zero`` or a folder is refused, never read or waited on) and UTF-8 text."""
    from xaihub.core.files import NotARegularFile, read_regular_file

    try:
        text = read_regular_file(path, MAX_LABELS_BYTES).decode("utf-8")
    except NotARegularFile as exc:
        raise InputError(f"cannot read labels file {path!r}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"labels file {path!r} is not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot read labels file {path!r}: {exc.strerror or exc}") from exc
    if path.lower().endswith(".json"):
        try:
            labels = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"labels file {path!r} is not valid JSON: {exc}") from exc
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise InputError(f"labels file {path!r} must hold a JSON list of strings")
        return labels
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise InputError(f"labels file {path!r} is empty")
    return labels
