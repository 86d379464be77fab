"""The documentation site (docs/): Sphinx builds it offline with warnings as errors, the reference is generated
from the code, the README's links lead to pages that exist, and the tutorials' notebooks run (slow)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
TUTORIALS = sorted(p.stem for p in (DOCS / "tutorials").glob("*.md") if p.stem != "index")


def _build(out: Path, *options: str) -> subprocess.CompletedProcess:
    pytest.importorskip("myst_nb", reason='needs the docs extra: pip install "xaihub[docs]"')
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(out / "doctrees"),
               *options, str(DOCS), str(out / "html")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=1500)
    assert done.returncode == 0, f"sphinx failed:\n{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    return done


def _page(out: Path, name: str) -> str:
    return (out / "html" / f"{name}.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_site_builds_with_warnings_as_errors_and_renders_the_reference_from_the_code(tmp_path):
    _build(tmp_path, "-D", "nb_execution_mode=off")
    api = _page(tmp_path, "reference/api")
    import xaihub

    for name in xaihub.__all__:
        assert f'id="xaihub.{name}"' in api, f"{name} (xaihub.__all__) is missing from the API reference"
    from xaihub.registry.plugins import list_methods, list_metrics

    methods = _page(tmp_path, "reference/methods")
    assert all(f">{r.explainer.name}<" in methods for r in list_methods())
    assert all(f">{r.metric.name}<" in methods for r in list_metrics())
    cli = _page(tmp_path, "reference/cli")
    assert all(flag in cli for flag in ("--methods", "--images", "--executor", "benchmark", "compare", "list"))
    hooks = _page(tmp_path, "reference/hookspecs")
    assert all(f'id="xaihub.contracts.hookspecs.{hook}"' in hooks
               for hook in ("register_explainers", "register_metrics", "adapt_model"))
    for section in ("tutorials", "howto", "reference", "explanation"):
        index = _page(tmp_path, f"{section}/index")
        for page in (DOCS / section).glob("*.md"):
            if page.stem != "index":
                assert f'href="{page.stem}.html"' in index, f"{section}/{page.name} is not in its section's toctree"


@pytest.mark.slow
def test_the_tutorials_run_and_show_their_results(tmp_path):
    _build(tmp_path, "-D", f"nb_execution_cache_path={tmp_path / 'cache'}")
    assert "espresso" in _page(tmp_path, "tutorials/quickstart")
    for name in TUTORIALS:
        page = _page(tmp_path, f"tutorials/{name}")
        assert "cell_output" in page and "Traceback" not in page, name
        assert "data:image/png;base64," in page or re.search(r'src="\.\./_images/[^"]+\.png"', page), name
    assert "accuracy kept" in _page(tmp_path, "tutorials/digits-degradation")


def test_the_readme_is_short_and_its_links_lead_to_files_that_exist():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert "docs/index.md" in local and "docs/_static/report.png" in local
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"
    assert (ROOT / "docs/_static/report.png").stat().st_size < 300_000
