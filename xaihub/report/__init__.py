"""The comparison report: a self-contained HTML page and a matplotlib figure of the maps."""

from xaihub.report.html import report_many

__all__ = ["report_many"]
