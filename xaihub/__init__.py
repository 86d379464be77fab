"""xaihub: run several explanation methods on one image classifier and compare them.

>>> import xaihub
>>> result = xaihub.explain(model, image, methods=["native.lime"], targets="top-3")
>>> result.get("native.lime").attribution.shape  # (H, W)

Importing xaihub imports no deep-learning or XAI library; plugins import theirs when
a method runs.
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
from xaihub.metric import Metric
from xaihub.plugins import list_methods, list_metrics, load_failures, register, unregister
from xaihub.preprocess import Preprocess
from xaihub.report import dataset_report, report_many
from xaihub.runner import explain

__all__ = [
    "BLACK_BOX",
    "GRADIENTS",
    "BatchSummary",
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
    "dataset_report",
    "dataset_statistics",
    "explain",
    "explain_many",
    "hookimpl",
    "list_methods",
    "list_metrics",
    "load_failures",
    "register",
    "report_many",
    "unregister",
]
