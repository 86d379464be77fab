"""The modules that moved into folders keep their old paths for a release: each old path imports as the module
at its new path (the same object, its own spec), with a ``DeprecationWarning`` naming the new path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import xaihub

PACKAGE = Path(xaihub.__file__).parent

CHECK = """
import importlib, json, warnings
import xaihub
found = {}
for old, new in xaihub.MOVED_MODULES.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module("xaihub." + old)
        again = importlib.import_module("xaihub." + old)
    found[old] = {"same": module is again is importlib.import_module("xaihub." + new), "spec": module.__spec__.name,
                  "warnings": [(w.category.__name__, str(w.message)) for w in caught]}
from xaihub.plugins import get_method
del xaihub.demo  # bound by the loop above: the next line goes through the package's __getattr__
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from xaihub import demo
extra = {"function": callable(xaihub.dataset_statistics), "demo": demo.__name__,
         "demo_warnings": [(w.category.__name__, w.filename) for w in caught]}
print(json.dumps({"found": found, "extra": extra}))
"""


def test_every_old_path_is_the_new_module_with_one_warning():
    run = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    found, extra = json.loads(run.stdout).values()
    assert extra["function"] is True, "importing the old path rebound xaihub.dataset_statistics"
    assert extra["demo"] == "xaihub.ground_truth.demo"
    assert extra["demo_warnings"] == [["DeprecationWarning", "<string>"]], "one warning, at the importing line"
    assert set(found) == set(xaihub.MOVED_MODULES)
    for old, new in xaihub.MOVED_MODULES.items():
        assert found[old]["same"] and found[old]["spec"] == f"xaihub.{new}", (old, found[old])
        if old != "dataset_statistics":  # registered directly, so that it never rebinds the function's name
            assert found[old]["warnings"] == [
                ["DeprecationWarning", f"xaihub.{old} moved to xaihub.{new}: import it from there"]], found[old]


def test_old_paths_are_aliases_only_and_new_paths_exist():
    for old, new in xaihub.MOVED_MODULES.items():
        assert not (PACKAGE / f"{old}.py").exists(), f"xaihub/{old}.py is back: drop it from MOVED_MODULES"
        assert (PACKAGE / (new.replace(".", "/") + ".py")).is_file(), new


def test_an_unknown_name_is_still_an_attribute_error():
    try:
        xaihub.no_such_thing  # noqa: B018
    except AttributeError as error:
        assert "no_such_thing" in str(error)
    else:
        raise AssertionError("xaihub.no_such_thing did not raise")
