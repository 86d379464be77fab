"""The comparison report: a self-contained HTML page and a matplotlib figure of the maps."""

from xaihub.report.html import write_report


def report_many(comparisons, path, names=None, title: str = "xaihub comparison") -> str:
    """One HTML report for several images: a section per comparison and a metric summary table.

    :param names: a caption per comparison (e.g. file names); default ``Image 1``, ``Image 2``, ...
    :return: ``path`` as a string.
    """
    return write_report(comparisons, path, title=title, names=names)


__all__ = ["report_many", "write_report"]
