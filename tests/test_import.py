import subprocess
import sys

import pytest

HEAVY = ("torch", "tensorflow", "keras", "shap", "lime", "omnixai", "captum", "xplique", "quantus", "onnxruntime",
         "onnx", "dask", "distributed", "PIL")


@pytest.mark.parametrize("statements", [
    "import xaihub; xaihub.list_methods(); xaihub.list_metrics()",
    "import xaihub.testing, xaihub.testing.zoo; xaihub.testing.zoo.architectures()",
], ids=["xaihub", "xaihub.testing and its zoo"])
def test_importing_xaihub_imports_no_framework_or_xai_library(statements):
    code = f"import sys; {statements}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
