"""xaihub: run several explanation methods on one image classifier and compare them.

>>> import xaihub
>>> result = xaihub.explain(model, image, methods=["native.lime"], targets="top-3")
>>> result.get("native.lime").attribution.shape  # (H, W)

Importing xaihub imports no deep-learning or XAI library; plugins import theirs when
a method runs.

Layers
------
The folders of ``xaihub/`` are its layers, listed here from the ground up. A module imports only from its
own layer or those below it, and no imports (lazy ones inside functions and those under ``TYPE_CHECKING``
count too) run in a loop; ``tests/test_architecture.py`` holds the core and every plugin to this list.
What a lower layer needs from a higher one is passed in: the registry hands the runner the model's
adapter (:func:`xaihub.registry.plugins.adapt`), the runner hands a metric that explains again the
callable that re-runs a method (:class:`xaihub.contracts.metric.Rerun`), and :mod:`xaihub.report` hands
:class:`Comparison` its views when imported (:func:`xaihub.core.comparison.provide_views`).

- core: core
- models: models
- bundled: pretrained, ground_truth
- contracts: contracts
- metrics: metrics
- registry: registry
- run: run
- evaluation: evaluation
- report: report
- interface: method_benchmark, cli, testing, xaihub

Where a new piece goes:

- ``core/``: the data and the small rules everything shares: errors, parameter constraints, images and
  image sources, files and containment, maps, superpixels, seeds, targets, :class:`Preprocess`, and the
  results, :class:`Explanation` and :class:`Comparison`.
- ``models/``: the adapters every method calls (a new model kind goes here, with its ``adapt_model`` hook
  in ``registry/builtin_adapters.py``).
- ``pretrained/``, ``ground_truth/``: models and data that ship without downloads (EfficientNet-Lite0;
  the shapes tasks whose right answer is known).
- ``contracts/``: what a plugin implements: :class:`Explainer`, :class:`Metric`, the hookspecs.
- ``metrics/``: the core's own metrics (a new metric goes here, registered in ``metrics/builtin.py``).
- ``registry/``: loads plugins and calls every hook; the built-in adapters; loading a model from a file.
- ``run/``: runs methods and metrics on one image (:func:`explain`) or many (:func:`explain_many`), with
  executors, progress, run directories and their fingerprints.
- ``evaluation/``: what the results add up to: rankings, dataset statistics, the recommendation (a new
  criterion of the verdict goes here).
- ``report/``: HTML and figures drawn from results (a new report section goes here).
- the interface: this package's public names, :mod:`xaihub.method_benchmark` (:func:`benchmark`: run,
  evaluate and report in one call), the command line (:mod:`xaihub.cli`) and :mod:`xaihub.testing`.

A plugin imports the public names of ``xaihub`` and, for what it shares with the core, the modules of
these folders, never a name that starts with ``_`` (``tests/test_architecture.py`` checks every plugin):

- plugins import: core, models, contracts, metrics, testing
"""

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

from xaihub.contracts.explainer import BLACK_BOX, GRADIENTS, Explainer, Requirement
from xaihub.contracts.hookspecs import hookimpl
from xaihub.contracts.metric import Metric
from xaihub.core.comparison import Comparison, MethodFailure
from xaihub.core.errors import (
    InputError,
    MethodUnavailableError,
    ModelError,
    UnknownMethodError,
    ValidationError,
    XaihubError,
)
from xaihub.core.explanation import Explanation
from xaihub.core.preprocess import Preprocess
from xaihub.evaluation.dataset_statistics import DatasetStatistics, dataset_statistics
from xaihub.method_benchmark import BenchmarkResult, benchmark, plan
from xaihub.models.custom_scores import class_sum, with_scores
from xaihub.models.torchvision_shim import install_import_hook
from xaihub.registry.describe import describe
from xaihub.registry.plugins import (
    adapt,
    list_methods,
    list_metrics,
    load_failures,
    lower_is_better,
    register,
    unregister,
)
from xaihub.report import dataset_report, report_many
from xaihub.run.batch import BatchSummary, explain_many
from xaihub.run.plan import Plan
from xaihub.run.runner import explain

__all__ = [
    "BLACK_BOX",
    "GRADIENTS",
    "BatchSummary",
    "BenchmarkResult",
    "Comparison",
    "DatasetStatistics",
    "Explainer",
    "Explanation",
    "InputError",
    "MethodFailure",
    "MethodUnavailableError",
    "Metric",
    "ModelError",
    "Plan",
    "Preprocess",
    "Requirement",
    "UnknownMethodError",
    "ValidationError",
    "XaihubError",
    "adapt",
    "benchmark",
    "class_sum",
    "dataset_report",
    "dataset_statistics",
    "describe",
    "explain",
    "explain_many",
    "plan",
    "hookimpl",
    "list_methods",
    "list_metrics",
    "load_failures",
    "lower_is_better",
    "register",
    "report_many",
    "unregister",
    "with_scores",
]

MOVED_MODULES = {
    **{name: f"core.{name}" for name in (
        "agreement", "cache", "comparison", "contained", "errors", "explanation", "files", "image_sources", "images",
        "maps", "masks", "params", "preprocess", "quickshift_torch", "quiet", "seeding", "superpixels", "targets",
        "validation")},
    **{name: f"contracts.{name}" for name in ("explainer", "hookspecs", "metric")},
    **{name: f"registry.{name}" for name in ("builtin_adapters", "loading", "plugins")},
    **{name: f"run.{name}" for name in (
        "batch", "executors", "fingerprint", "measure", "progress", "run_directory", "runner")},
    **{name: f"evaluation.{name}" for name in ("dataset_statistics", "ranking", "recommendation")},
    "keras_counter": "models.keras_counter",
    "demo": "ground_truth.demo",
    "shapes": "ground_truth.shapes",
}
"""The modules that moved into folders, by old name: ``xaihub.<old>`` still imports, as the module
``xaihub.<new>`` itself, with a ``DeprecationWarning`` naming the new path; the old paths go in a later release."""


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``xaihub.<old>`` for every :data:`MOVED_MODULES` name and hands over the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, old = fullname.partition(".")
        if package == __name__ and old in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        module = _moved_module(spec.name.partition(".")[2])
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module):
        # the import system has just given the module the old path's spec: it gets its own back
        module.__spec__ = module.__spec__.loader_state


def __getattr__(name):
    if name in MOVED_MODULES:
        # bound here as `import xaihub.<old>` binds it, so the name warns once (a from-import looks it up twice)
        globals()[name] = module = _moved_module(name)
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _moved_module(old):
    """The module ``xaihub.<old>`` moved to, with the warning that names its new path (for the code that asked:
    the import system's own frames are skipped)."""
    new = f"{__name__}.{MOVED_MODULES[old]}"
    warnings.warn(f"{__name__}.{old} moved to {new}: import it from there", DeprecationWarning, stacklevel=3)
    return importlib.import_module(new)


if not any(type(finder).__qualname__ == "_MovedModules" for finder in sys.meta_path):  # once, reloads too
    sys.meta_path.append(_MovedModules())
install_import_hook()  # torchvision beside a torch it was not built for (xaihub.models.torchvision_shim)
# `xaihub.dataset_statistics` is the function: its old module path is registered directly, so importing
# that path never rebinds the name to the module.
sys.modules.setdefault(f"{__name__}.dataset_statistics", sys.modules[f"{__name__}.evaluation.dataset_statistics"])
