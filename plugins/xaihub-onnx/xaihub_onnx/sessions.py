"""ONNX Runtime sessions: execution providers from ``device``, and one session per model and device.

``explain`` adapts its model on every call (``explain_many`` once per image), so a model file, or an
``onnx.ModelProto``'s bytes, is opened once per process and device and the session is reused; a file
changed on disk (size or modification time) is opened again. A session the user made is used as it is.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from typing import Any, Callable

from xaihub.core.errors import InputError, ModelError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
_KEPT_SESSIONS = 4
_sessions: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lock = threading.Lock()


def session_for(model: Any, device: str | None) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``model`` (a ``.onnx`` path, a session or an
    ``onnx.ModelProto``) on ``device`` (``None``/``"cpu"``, ``"cuda"``, ``"cuda:N"``)."""
    import onnxruntime

    if isinstance(model, onnxruntime.InferenceSession):
        check_session_device(model, device)
        return model
    providers = providers_for(device)
    if isinstance(model, (str, os.PathLike)):
        path = os.fsdecode(model)
        if not os.path.isfile(path):
            raise InputError(f"ONNX model file {path!r} does not exist")
        stat = os.stat(path)
        key = ("file", os.path.realpath(path), stat.st_size, stat.st_mtime_ns, repr(providers))
        return _kept(key, lambda: _open(path, providers, f"ONNX model file {path!r}"))
    try:
        data = model.SerializeToString()
    except Exception as exc:  # protobuf refuses messages over 2 GB
        raise ModelError(f"cannot serialise the onnx.ModelProto ({type(exc).__name__}: {exc}); "
                         "save it (with external data) and pass the .onnx path") from exc
    key = ("bytes", hashlib.sha256(data).hexdigest(), repr(providers))
    return _kept(key, lambda: _open(data, providers, "the onnx.ModelProto"))


def providers_for(device: str | None) -> list[Any]:
    """ONNX Runtime's execution providers for ``device``; :class:`InputError` for a device it cannot use."""
    if device is None or device == "cpu":
        return [CPU]
    kind, colon, index = device.partition(":")
    if kind != "cuda" or (colon and not index.isdigit()):
        raise InputError(f"device={device!r}: an ONNX model runs on 'cpu' or 'cuda' ('cuda:N' for the N-th GPU)")
    import onnxruntime

    available = onnxruntime.get_available_providers()
    if CUDA not in available:
        raise InputError(f"device={device!r} was asked for, but this ONNX Runtime has no {CUDA} (it offers "
                         f"{available}); install onnxruntime-gpu instead of onnxruntime, or use device='cpu'")
    return [(CUDA, {"device_id": int(index or 0)}), CPU]


def check_session_device(session: Any, device: str | None) -> None:
    """A user's session runs where it was made to: refuse a ``device`` it does not run on."""
    if device is None:
        return
    wanted = providers_for(device)[0]
    name, options = (wanted, {}) if isinstance(wanted, str) else wanted
    running = session.get_providers()
    fix = (f"create it with providers=[{name!r}, ...], or pass the model's .onnx path and xaihub opens it "
           "for the device")
    if running[0] != name:
        raise InputError(f"device={device!r}, but this InferenceSession runs on {running[0]}: {fix}")
    device_id = str(session.get_provider_options().get(name, {}).get("device_id", 0))
    if "device_id" in options and device_id != str(options["device_id"]):
        raise InputError(f"device={device!r}, but this InferenceSession runs on GPU {device_id}: {fix}")


def _kept(key: tuple[Any, ...], open_session: Callable[[], Any]) -> Any:
    with _lock:
        if key in _sessions:
            _sessions.move_to_end(key)
            return _sessions[key]
    session = open_session()
    with _lock:
        _sessions[key] = session
        while len(_sessions) > _KEPT_SESSIONS:
            _sessions.popitem(last=False)
    return session


def _open(source: str | bytes, providers: list[Any], what: str) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only; ORT's warnings (unused initialisers, ...) are not the user's
    try:
        session = onnxruntime.InferenceSession(source, sess_options=options, providers=providers)
    except Exception as exc:
        raise ModelError(f"cannot load {what} with ONNX Runtime (is it an ONNX model?): {exc}") from exc
    if providers[0] != CPU and CUDA not in session.get_providers():
        raise InputError(f"{CUDA} is installed but could not start (CUDA or cuDNN libraries missing?); "
                         "ONNX Runtime would run the model on the CPU: use device='cpu'")
    return session
