"""Sphinx configuration of xaihub's documentation: ``make docs`` builds it into docs/_build/html, warnings as errors.

Tutorials are MyST-NB text notebooks executed at build time (results cached in docs/_build/.jupyter_cache); the
reference pages render the public API from docstrings, the command line from its parser and the methods table
from the registry, so none of them is written by hand.
"""

import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

# The quickstart tutorial is examples/quickstart.ipynb (committed without outputs, run by tests/test_notebooks.py):
# copied here at each build, never edited here (the copy is in .gitignore).
QUICKSTART = DOCS.parent / "examples" / "quickstart.ipynb"
if not (DOCS / "tutorials" / "quickstart.ipynb").exists() or (
        (DOCS / "tutorials" / "quickstart.ipynb").read_bytes() != QUICKSTART.read_bytes()):
    shutil.copyfile(QUICKSTART, DOCS / "tutorials" / "quickstart.ipynb")

project = "xaihub"
author = "xaihub contributors"
copyright = "2026, xaihub contributors"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinxarg.ext",
    "xaihub_docs",
]
intersphinx_mapping: dict[str, tuple[str, None]] = {}  # offline: no inventories fetched

source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "jupyter_execute", "**/.ipynb_checkpoints"]
root_doc = "index"

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Notebooks run when their code changed since the cached run; a cell that raises fails the build.
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 600
nb_execution_in_temp = True  # files a notebook writes (quickstart-output/) go to a temporary directory
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# TensorFlow and the kernel log to stderr at start-up: kept out of the pages (a failing cell still fails the build).
nb_output_stderr = "remove"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_preserve_defaults = True
# Names a docstring mentions that autodoc cannot resolve (third-party classes, private helpers) are not errors.
nitpicky = False
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]

html_theme = "furo"
html_title = "xaihub"
html_static_path = ["_static"]
html_css_files = ["xaihub.css"]
