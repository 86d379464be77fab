"""Import torchvision (and what imports it: timm, pytorch-grad-cam) beside the local CPU torch.

PyPI's torchvision wheel for torch 2.13.0 links ``libtorch_cuda.so``, which a CPU build of torch lacks, so its
C++ operators (``torchvision::nms``, ``roi_align``, ...) do not load. torchvision's Python side then still
imports, except that it registers fake kernels for ``nms`` and ``qnms`` by name, which fails when no such
operator exists. :func:`import_torchvision` defines those two operators' schemas (no kernel) first, so that
``import torchvision`` works: its models, transforms and everything timm and pytorch-grad-cam use run; the
detection operators (``torchvision.ops.nms``, ``roi_align``, ...) raise if called.

Importing xaihub installs :class:`ImportHook`, which calls :func:`define_missing_operators` when anything first
imports torchvision: ``import timm``, pytorch-grad-cam, transformers' models (which shap and OmniXAI probe for),
zennit, and Quantus (which imports zennit when it is installed) then work in a process that imported xaihub
first, whoever imports them. Harmless where torchvision's operators load (a torchvision built for this torch) or
where torchvision is not installed: nothing is defined.
"""

from __future__ import annotations

import sys
from typing import Any

SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
"""torchvision 0.28's schemas of the operators its ``_meta_registrations`` names unconditionally."""

_LIBRARY: list[Any] = []


class ImportHook:
    """A meta path finder that finds nothing: before torchvision is first imported it defines the missing
    operator schemas (:func:`define_missing_operators`), then lets the import proceed as usual."""

    _busy = False

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torchvision" and not ImportHook._busy:
            ImportHook._busy = True  # define_missing_operators looks torchvision up itself
            try:
                define_missing_operators()
            finally:
                ImportHook._busy = False
        return None


def install_import_hook() -> None:
    """Put :class:`ImportHook` first on ``sys.meta_path`` (once per process). Imports nothing."""
    if not any(isinstance(finder, ImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, ImportHook())


def import_torchvision() -> Any:
    """``torchvision``, imported; ``ImportError`` where it is not installed."""
    define_missing_operators()
    import torchvision

    return torchvision


def define_missing_operators() -> None:
    """Define the operator schemas torchvision's Python side needs, when torchvision is installed, not yet
    imported, and its compiled operators do not load into this torch; otherwise do nothing (once per process)."""
    import importlib.util

    if _LIBRARY or "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is None:
        return
    import torch

    missing = [name for name in SCHEMAS if not _has_operator(torch, name)]
    if missing and not _torchvision_ops_load():
        library = torch.library.Library("torchvision", "FRAGMENT")
        for name in missing:
            library.define(SCHEMAS[name])
        _LIBRARY.append(library)  # the definitions live as long as the library object
    else:
        _LIBRARY.append(None)  # checked: nothing to define


def _has_operator(torch: Any, name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
    except (AttributeError, RuntimeError):
        return False
    return True


def _torchvision_ops_load() -> bool:
    """Whether torchvision's compiled operators load into this torch (then no shim is needed)."""
    import importlib.util
    import os

    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    folder = list(spec.submodule_search_locations)[0]
    library = next((os.path.join(folder, f) for f in os.listdir(folder) if f.startswith("_C") and f.endswith(".so")),
                   None)
    if library is None:
        return False
    try:
        torch.ops.load_library(library)
    except (OSError, RuntimeError):
        return False
    return True
