"""Import torchvision (and what imports it: timm, pytorch-grad-cam) beside the local CPU torch.

PyPI's torchvision wheel for torch 2.13.0 links ``libtorch_cuda.so``, which a CPU build of torch lacks, so its
C++ operators (``torchvision::nms``, ``roi_align``, ...) do not load. torchvision's Python side then still
imports, except that it registers fake kernels for ``nms`` and ``qnms`` by name, which fails when no such
operator exists. :func:`import_torchvision` defines those two operators' schemas (no kernel) first, so that
``import torchvision`` works: its models, transforms and everything timm and pytorch-grad-cam use run; the
detection operators (``torchvision.ops.nms``, ``roi_align``, ...) raise if called.

Call it before the first ``import torchvision`` (``import timm``, ``import pytorch_grad_cam``) in a process;
xaihub's tests and zoo do, nothing else in xaihub imports torchvision. Harmless where torchvision's
operators load (a torchvision built for this torch): the schemas are only defined when missing.
"""

from __future__ import annotations

from typing import Any

SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
"""torchvision 0.28's schemas of the operators its ``_meta_registrations`` names unconditionally."""

_LIBRARY: list[Any] = []


def import_torchvision() -> Any:
    """``torchvision``, imported; ``ImportError`` where it is not installed."""
    import sys

    if "torchvision" in sys.modules:
        return sys.modules["torchvision"]
    import torch

    missing = [name for name in SCHEMAS if not _has_operator(torch, name)]
    if missing and not _torchvision_ops_load():
        library = torch.library.Library("torchvision", "FRAGMENT")
        for name in missing:
            library.define(SCHEMAS[name])
        _LIBRARY.append(library)  # the definitions live as long as the library object
    import torchvision

    return torchvision


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
