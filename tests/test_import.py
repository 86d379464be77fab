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


@pytest.mark.skipif(__import__("importlib.util").util.find_spec("torchvision") is None,
                    reason="torchvision is not installed")
def test_after_importing_xaihub_torchvision_and_what_imports_it_import_beside_the_local_torch():
    # PyPI's torchvision links a CUDA torch; xaihub's import hook defines the operator schemas its Python side
    # names, so `import torchvision` (and Quantus, which imports zennit, which imports torchvision) works, from a
    # library or the user, whoever imports it first. XAIHUB_NO_TEMP_HOOK: off a development venv's stopgap.
    code = ("import sys, xaihub; assert 'torch' not in sys.modules\n"
            "import torchvision, torch; print(torchvision.models.resnet18(num_classes=3).eval()(torch.zeros(1, 3, 32, 32))"
            ".shape)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "XAIHUB_NO_TEMP_HOOK": "1"})
    assert done.stdout.strip() == "torch.Size([1, 3])", done.stderr[-2000:]
