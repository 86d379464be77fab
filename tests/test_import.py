import subprocess
import sys

HEAVY = ("torch", "tensorflow", "keras", "shap", "lime", "omnixai", "dask", "distributed", "PIL")


def test_importing_xaihub_imports_no_framework_or_xai_library():
    code = (
        "import sys, xaihub; xaihub.list_methods();"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_importing_xaihub_testing_and_its_zoo_imports_no_framework():
    code = (
        "import sys, xaihub.testing, xaihub.testing.zoo; xaihub.testing.zoo.architectures();"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
