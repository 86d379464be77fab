"""Every hook is documented in hookspecs.py and in the plugin author's guide, docs/howto/plugin.md (as datasette's
meta-test does)."""

import inspect
from pathlib import Path

from xaihub.contracts import hookspecs

GUIDE = (Path(__file__).parent.parent / "docs" / "howto" / "plugin.md").read_text()
HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
         if getattr(fn, "xaihub_spec", None) is not None]


def test_hooks_are_found():
    assert set(HOOKS) == {"register_explainers", "register_metrics", "adapt_model"}


def test_every_hook_has_a_docstring_and_a_guide_entry():
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name))
        assert doc and ":param" in doc and "Called" in doc, name
        assert f"`{name}(" in GUIDE, name


def test_adapt_model_hook_lets_a_plugin_add_a_model_kind():
    import numpy as np

    import xaihub
    from xaihub.models import CallableAdapter

    class Table:
        """A 'model' that is not callable: only a plugin knows how to run it."""

        scores = np.array([0.1, 0.9])

    class TableAdapter(CallableAdapter):
        framework = "table"

        def _forward(self, batch):
            return np.tile(self.model.scores, (len(batch), 1))

    class Plugin:
        @xaihub.hookimpl
        def adapt_model(self, model, options):
            return TableAdapter(model, options) if isinstance(model, Table) else None

    xaihub.register(Plugin(), name="table-adapter")
    try:
        result = xaihub.explain(Table(), np.zeros((16, 16, 3), np.uint8), methods=["native.lime"])
    finally:
        xaihub.unregister("table-adapter")
    assert result.targets == [1] and result.get("native.lime").score == 0.9
