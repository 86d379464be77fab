"""The import graph: the folders of ``xaihub/`` are its layers (as listed in ``xaihub/__init__.py``) and point one
way, neither the core nor any plugin has an import loop, and plugins import only what the core opens to them.
Every import counts, lazy ones inside functions and those under ``TYPE_CHECKING`` too (grimp reads them all)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import grimp
import pytest

import xaihub

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))


def declared_layers(doc: str) -> list[tuple[str, list[str]]]:
    """``[(layer, entries)]`` bottom to top, from the ``- name: a, b, c`` list of ``doc``'s "Layers" section;
    entries are the folders and modules directly in the package (the package itself is its own name)."""
    section = doc.split("Layers\n------", 1)[1]
    layers: list[tuple[str, list[str]]] = []
    for line in section.splitlines():
        item = re.match(r"- (\w+): (.*)", line)
        if item:
            layers.append((item[1], [name.strip() for name in item[2].split(",") if name.strip()]))
        elif layers:
            break
    return layers


def entry_of(module: str, package: str) -> str:
    """The folder or module directly in ``package`` that holds ``module`` (``package`` for the package itself)."""
    return package if module == package else module.removeprefix(package + ".").split(".")[0]


def layer_of(module: str, package: str, layers: list[tuple[str, list[str]]]) -> list[int]:
    """The indices of every layer that lists the entry holding ``module``."""
    return [i for i, (_, entries) in enumerate(layers) if entry_of(module, package) in entries]


def upward_imports(graph: grimp.ImportGraph, package: str, layers: list[tuple[str, list[str]]]) -> list[str]:
    """Every import of ``package`` from a module to one of a higher layer, with its line."""
    found = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            low, high = layer_of(importer, package, layers)[:1], layer_of(imported, package, layers)[:1]
            if low and high and high > low:
                found += [f"{importer}:{d['line_number']} ({layers[low[0]][0]}) imports {imported} "
                          f"({layers[high[0]][0]}): {d['line_contents']}"
                          for d in graph.get_import_details(importer=importer, imported=imported)]
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


def test_every_folder_and_module_of_the_package_is_in_one_layer(core):
    layers = declared_layers(xaihub.__doc__)
    assert [name for name, _ in layers] == ["core", "models", "bundled", "contracts", "metrics", "registry", "run",
                                            "evaluation", "report", "interface"]
    package = Path(xaihub.__file__).parent
    entries = sorted({"xaihub"} | {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
                     | {p.parent.name for p in package.glob("*/__init__.py")})
    listed = [entry for _, names in layers for entry in names]
    assert sorted(listed) == entries, ("list every folder and module of xaihub/ once in the Layers of "
                                      f"xaihub/__init__.py: missing {sorted(set(entries) - set(listed))}, "
                                      f"not there {sorted(set(listed) - set(entries))}, twice "
                                      f"{sorted({e for e in listed if listed.count(e) > 1})}")
    assert len(entries) <= 14, f"xaihub/ holds {len(entries)} entries: a new one belongs in a folder"
    unplaced = sorted(m for m in core.modules if len(layer_of(m, "xaihub", layers)) != 1)
    assert not unplaced, f"modules in no layer or in several: {unplaced}"


def test_core_imports_point_down_the_layers(core):
    """Direct imports module by module, and grimp's check of the folders as layers (every chain of imports
    counts: a lower folder reaching a higher one through a third is caught too)."""
    layers = declared_layers(xaihub.__doc__)
    found = upward_imports(core, "xaihub", layers)
    assert not found, "imports from a lower layer to a higher one:\n" + "\n".join(found)
    top_down = [grimp.Layer(*[entry for entry in entries if entry != "xaihub"], independent=False)
                for _, entries in reversed(layers)]
    illegal = core.find_illegal_dependencies_for_layers(layers=top_down, containers={"xaihub"})
    chains = [f"{dependency.importer} reaches {dependency.imported}: " + "; ".join(
        " -> ".join([",".join(sorted(route.heads)), *route.middle, ",".join(sorted(route.tails))])
        for route in dependency.routes) for dependency in illegal]
    assert not chains, "a lower folder reaches a higher one:\n" + "\n".join(sorted(chains))


def unopened_imports(source: str, folders: set[str], public: set[str]) -> list[str]:
    """``line: module [names]`` for each ``xaihub`` import of ``source`` that names neither a public name of the
    package nor a module of ``folders``, or that names something starting with ``_``."""
    wrong = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules, names = [node.module], [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            modules, names = [alias.name for alias in node.names], []
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] != "xaihub":
                continue
            private = any(part.startswith("_") for part in parts + names)
            opened = module == "xaihub" and set(names) <= public or len(parts) > 1 and parts[1] in folders
            if private or not opened:
                wrong.append(f"{node.lineno}: {module} {names}")
    return wrong


def test_plugins_import_only_public_names_and_the_documented_folders():
    """Every ``xaihub`` import of every plugin's code names a public name of ``xaihub`` or a module of a folder
    the package docstring opens to plugins (their tests are users of the whole package)."""
    opened = re.search(r"^- plugins import: (.*)$", xaihub.__doc__, re.MULTILINE)[1]
    folders = {name.strip() for name in opened.split(",")}
    assert folders <= {entry for _, entries in declared_layers(xaihub.__doc__) for entry in entries}
    sources = [source for plugin in PLUGINS for source in sorted((plugin / plugin_package(plugin)).rglob("*.py"))]
    wrong = [f"{source.relative_to(ROOT)}:{line}" for source in sources
             for line in unopened_imports(source.read_text(), folders, set(xaihub.__all__))]
    assert not wrong, "plugins import what the core does not open to them:\n" + "\n".join(wrong)


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


def test_the_checks_find_an_upward_import_a_chain_and_a_loop(tmp_path, monkeypatch):
    """The rules above on a planted package of three folders: a loop through a ``TYPE_CHECKING`` import, a
    low module importing the top lazily (which closes a second loop, since the top imports it), and a chain
    from the low folder to the high one through a module outside the layers."""
    doc = "Planted.\n\nLayers\n------\n- low: low\n- high: high, planted\n\nMore text: x, y.\n"
    package = tmp_path / "planted"
    for folder in ("low", "high", "side"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text(f'"""{doc}"""\n')
    (package / "low" / "leaf.py").write_text("def f():\n    from planted.high import top\n")
    (package / "low" / "a.py").write_text("from planted.low import b\n")
    (package / "low" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from planted.low import a\n")
    (package / "low" / "c.py").write_text("import planted.side.relay\n")
    (package / "side" / "relay.py").write_text("import planted.high.other\n")
    (package / "high" / "top.py").write_text("from planted.low import leaf\n")
    (package / "high" / "other.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("planted", cache_dir=None)
    layers = declared_layers(doc)
    assert layers == [("low", ["low"]), ("high", ["high", "planted"])]
    found = upward_imports(graph, "planted", layers)
    assert len(found) == 1 and found[0].startswith("planted.low.leaf:2 (low) imports planted.high.top (high)"), found
    illegal = graph.find_illegal_dependencies_for_layers(layers=["high", "low"], containers={"planted"})
    routes = {(route.heads, route.middle, route.tails) for dependency in illegal for route in dependency.routes}
    assert (frozenset({"planted.low.c"}), ("planted.side.relay",), frozenset({"planted.high.other"})) in routes
    assert import_loops(graph) == [["planted.high.top", "planted.low.leaf"], ["planted.low.a", "planted.low.b"]]


def test_the_plugin_check_finds_private_and_unopened_imports():
    source = ("import numpy\nfrom xaihub import Explanation\nfrom xaihub.core.params import Real\n"
              "from xaihub import explain_many, _private\nfrom xaihub.run.batch import explain_many\n"
              "from xaihub.core.params import _hidden\nimport xaihub.registry.plugins\nfrom . import sibling\n")
    assert unopened_imports(source, {"core"}, {"Explanation", "explain_many"}) == [
        "4: xaihub ['explain_many', '_private']", "5: xaihub.run.batch ['explain_many']",
        "6: xaihub.core.params ['_hidden']", "7: xaihub.registry.plugins []"]
