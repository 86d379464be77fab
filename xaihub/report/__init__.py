"""The reports: a self-contained HTML page per set of comparisons or per run directory, and a matplotlib figure."""

from xaihub.report.dataset import dataset_report
from xaihub.report.html import report_many

__all__ = ["dataset_report", "report_many"]
