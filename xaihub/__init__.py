"""xaihub: run several explanation methods on one image classifier and compare them.

>>> import xaihub
>>> result = xaihub.explain(model, image, methods=["native.lime"], targets="top-3")
>>> result.get("native.lime").attribution.shape  # (H, W)

Importing xaihub imports no deep-learning or XAI library; plugins import theirs when
a method runs.

Layers
------
The core is built in layers, bottom to top. A module imports only from its own layer or those below it,
and no imports — lazy ones inside functions and those under ``TYPE_CHECKING`` count too — run in a loop;
``tests/test_architecture.py`` holds the core and every plugin to this list (``x.*`` is every module of
package ``x``). What a lower layer needs from a higher one is passed in: the registry hands the runner
the model's adapter (:func:`xaihub.plugins.adapt`), the runner hands a metric that explains again the
callable that re-runs a method (:class:`xaihub.metric.Rerun`), and :mod:`xaihub.report` hands
:class:`Comparison` its views when imported (:func:`xaihub.comparison.provide_views`).

- leaves: errors, params, images, image_sources, files, contained, maps, seeding, quiet, targets,
  preprocess, cache, keras_counter, quickshift_torch, superpixels, masks, shapes, demo, ground_truth,
  pretrained, pretrained.*
- data: explanation, validation, agreement, comparison
- models: models, models.*
- contracts: explainer, metric, hookspecs
- builtins: builtin_adapters, metrics, metrics.*
- registry: plugins
- runner: progress, measure, runner, fingerprint, run_directory, dataset_statistics, executors, batch,
  ranking, recommendation
- views: report, report.*
- interface: loading, method_benchmark, cli, testing, testing.*, xaihub

*leaves* are small modules each with one job (errors, parameter constraints, image rules, files,
segmentation, …); *data* are the results (:class:`Explanation`, :class:`Comparison`); *models* the
adapters every method calls (:mod:`xaihub.models`); *contracts* what a plugin implements
(:class:`Explainer`, :class:`Metric`, :mod:`xaihub.hookspecs`); *builtins* the core's own plugins (model
adapters, metrics); the *registry* loads plugins and calls every hook through ``pm.hook``; the *runner*
runs methods and metrics on one image (:func:`explain`) or many (:func:`explain_many`) and reads run
directories; *views* draw reports from data; the *interface* is this package, the command line and
:mod:`xaihub.testing`.
"""

from xaihub.batch import BatchSummary, explain_many
from xaihub.comparison import Comparison, MethodFailure
from xaihub.dataset_statistics import DatasetStatistics, dataset_statistics
from xaihub.errors import (
    InputError,
    MethodUnavailableError,
    ModelError,
    UnknownMethodError,
    ValidationError,
    XaihubError,
)
from xaihub.explainer import BLACK_BOX, GRADIENTS, Explainer, Requirement
from xaihub.explanation import Explanation
from xaihub.hookspecs import hookimpl
from xaihub.method_benchmark import BenchmarkResult, benchmark
from xaihub.metric import Metric
from xaihub.plugins import adapt, list_methods, list_metrics, load_failures, lower_is_better, register, unregister
from xaihub.preprocess import Preprocess
from xaihub.report import dataset_report, report_many
from xaihub.runner import explain

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
    "Preprocess",
    "Requirement",
    "UnknownMethodError",
    "ValidationError",
    "XaihubError",
    "adapt",
    "benchmark",
    "dataset_report",
    "dataset_statistics",
    "explain",
    "explain_many",
    "hookimpl",
    "list_methods",
    "list_metrics",
    "load_failures",
    "lower_is_better",
    "register",
    "report_many",
    "unregister",
]
