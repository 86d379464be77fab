"""The reports: a self-contained HTML page per set of comparisons or per run directory, and a matplotlib figure.

Importing this package hands :class:`~xaihub.Comparison` its views (``report``, ``figure``, ``save_figures``
and the notebook display, see :func:`xaihub.core.comparison.provide_views`).
"""

from xaihub.core.comparison import provide_views
from xaihub.report.dataset import dataset_report
from xaihub.report.figure import comparison_figure, save_figures
from xaihub.report.html import notebook_html, report_many, report_view

provide_views(report=report_view, figure=comparison_figure, save_figures=save_figures, notebook_html=notebook_html)

__all__ = ["dataset_report", "report_many"]
