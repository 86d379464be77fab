"""Shares the fixtures of tests/conftest.py (trained models, the object image) with every plugin's tests."""

import importlib.util
from pathlib import Path


def _load_shared_fixtures():
    path = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location("xaihub_shared_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_shared = _load_shared_fixtures()
torch_model = _shared.torch_model
keras_model = _shared.keras_model
object_image = _shared.object_image
