"""unspin: detect, locate, restore and trace machine-spun English text.

The public API is small::

    import unspin
    report = unspin.check(text)          # score, spun, spans
    restoration = unspin.restore(text)   # restored text, edits, report
    reports = unspin.check_many(texts)   # the same, many documents at once
    restorations = unspin.restore_many(texts)
    index = unspin.Index("originals.idx")  # trace copies to their originals
"""

__version__ = "0.1.0"

from .api import check, check_many, restore, restore_many  # noqa: E402
from .index import Index, Match  # noqa: E402
from .report import Edit, Report, Restoration, Span  # noqa: E402

__all__ = ["check", "check_many", "restore", "restore_many", "Index", "Match", "Report",
           "Restoration", "Span", "Edit", "__version__"]
