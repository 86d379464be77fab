"""The import graph: the core's layers point one way (as listed in ``xaihub/__init__.py``), and neither the core
nor any plugin has an import loop. Every import counts, lazy ones inside functions and those under
``TYPE_CHECKING`` too (grimp reads them all)."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

import grimp
import pytest

import xaihub

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))


def declared_layers(doc: str) -> list[tuple[str, list[str]]]:
    """``[(layer, module patterns)]`` bottom to top, from the ``- name: a, b, c`` list of ``doc``'s "Layers"
    section; patterns are relative to the package (``models.*``; the package itself is its own name)."""
    section = doc.split("Layers\n------", 1)[1]
    layers: list[tuple[str, list[str]]] = []
    for line in section.splitlines():
        item = re.match(r"- (\w+): (.*)", line)
        if item:
            layers.append((item[1], []))
            line = item[2]
        elif not (layers and line.startswith("  ") and line.strip()):
            if layers and not line.strip():
                break
            continue
        layers[-1][1].extend(name.strip() for name in line.split(",") if name.strip())
    return layers


def layer_of(module: str, package: str, layers: list[tuple[str, list[str]]]) -> list[int]:
    """The indices of every layer whose patterns match ``module``."""
    relative = package if module == package else module.removeprefix(package + ".")
    return [i for i, (_, patterns) in enumerate(layers) if any(fnmatchcase(relative, p) for p in patterns)]


def upward_imports(graph: grimp.ImportGraph, package: str, layers: list[tuple[str, list[str]]]) -> list[str]:
    """Every import of ``package`` from a module to one of a higher layer, with its line."""
    found = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if layer_of(imported, package, layers)[:1] > layer_of(importer, package, layers)[:1]:
                found += [f"{importer}:{d['line_number']} ({layers[layer_of(importer, package, layers)[0]][0]}) "
                          f"imports {imported} ({layers[layer_of(imported, package, layers)[0]][0]}): "
                          f"{d['line_contents']}" for d in graph.get_import_details(importer=importer, imported=imported)]
    return found


def import_loops(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return loops


def describe_loop(graph: grimp.ImportGraph, loop: list[str]) -> str:
    members = set(loop)
    lines = [f"  {importer}:{d['line_number']} imports {imported}: {d['line_contents']}"
             for importer in loop for imported in sorted(graph.find_modules_directly_imported_by(importer) & members)
             for d in graph.get_import_details(importer=importer, imported=imported)]
    return f"{len(loop)} modules import each other in a loop:\n" + "\n".join(lines)


def plugin_package(plugin: Path) -> str:
    return tomllib.loads((plugin / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"][0]


def plugin_entry_modules(plugin: Path) -> list[str]:
    entry_points = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]["entry-points"]["xaihub"]
    return [spec.partition(":")[0] for spec in entry_points.values()]


@pytest.fixture(scope="module")
def core() -> grimp.ImportGraph:
    return grimp.build_graph("xaihub", cache_dir=None)


def test_every_core_module_has_one_layer_and_every_listed_name_exists(core):
    layers = declared_layers(xaihub.__doc__)
    assert [name for name, _ in layers] == ["leaves", "data", "models", "contracts", "builtins", "registry",
                                            "runner", "views", "interface"]
    unplaced = sorted(m for m in core.modules if len(layer_of(m, "xaihub", layers)) != 1)
    assert not unplaced, f"modules in no layer or in several (list each once in xaihub/__init__.py): {unplaced}"
    stale = [p for _, patterns in layers for p in patterns
             if not any(fnmatchcase("xaihub" if m == "xaihub" else m.removeprefix("xaihub."), p) for m in core.modules)]
    assert not stale, f"xaihub/__init__.py lists layers for modules that do not exist: {stale}"


def test_core_imports_point_down_the_layers(core):
    found = upward_imports(core, "xaihub", declared_layers(xaihub.__doc__))
    assert not found, "imports from a lower layer to a higher one:\n" + "\n".join(found)


def test_core_has_no_import_loop(core):
    loops = import_loops(core)
    assert not loops, "\n".join(describe_loop(core, loop) for loop in loops)


def test_the_core_imports_no_plugin():
    graph = grimp.build_graph("xaihub", include_external_packages=True, cache_dir=None)
    plugins = sorted(m for m in graph.modules if m.startswith("xaihub_"))
    assert not plugins, f"the core imports plugin packages {plugins}"


@pytest.mark.parametrize("plugin", PLUGINS, ids=[p.name for p in PLUGINS])
def test_plugin_has_no_import_loop_and_its_entry_point_is_its_top(plugin):
    graph = grimp.build_graph(plugin_package(plugin), cache_dir=None)
    loops = import_loops(graph)
    assert not loops, "\n".join(describe_loop(graph, loop) for loop in loops)
    for entry in plugin_entry_modules(plugin):
        importers = sorted(graph.find_modules_that_directly_import(entry))
        assert not importers, f"{entry} is the plugin's entry point (its top); {importers} import it"


def test_the_checks_find_an_upward_import_and_a_loop(tmp_path, monkeypatch):
    """The rules above on a planted package: a loop through a ``TYPE_CHECKING`` import, and a leaf importing the
    top lazily (which closes a second loop, since the top imports the leaf)."""
    doc = "Planted.\n\nLayers\n------\n- low: leaf, a,\n  b\n- high: top, planted\n\nMore text: x, y.\n"
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text(f'"""{doc}"""\n')
    (package / "leaf.py").write_text("def f():\n    from planted import top\n")
    (package / "a.py").write_text("from planted import b\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from planted import a\n")
    (package / "top.py").write_text("from planted import leaf\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("planted", cache_dir=None)
    layers = declared_layers(doc)
    assert layers == [("low", ["leaf", "a", "b"]), ("high", ["top", "planted"])]
    found = upward_imports(graph, "planted", layers)
    assert len(found) == 1 and found[0].startswith("planted.leaf:2 (low) imports planted.top (high)"), found
    assert import_loops(graph) == [["planted.a", "planted.b"], ["planted.leaf", "planted.top"]]
