"""Hijack detection as a plain library: bytes in, verdict and findings out.

Nothing here imports Scrapy, so ``hijackwatch scan``, the crawl pipelines and any
other program use the same code.
"""

from __future__ import annotations

from hijackwatch.detect.analysis import analyse, analyse_script
from hijackwatch.detect.findings import (
    Analysis,
    Finding,
    ViewSummary,
    score_findings,
)

__all__ = [
    "Analysis",
    "Finding",
    "ViewSummary",
    "analyse",
    "analyse_script",
    "score_findings",
]
