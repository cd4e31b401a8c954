"""Hijack detection as a plain library: bytes in, verdict and findings out.

Nothing here imports Scrapy, so ``hijackwatch scan``, the crawl pipelines and any
other program use the same code.
"""

from __future__ import annotations

from hijackwatch.detect import css, document, text
from hijackwatch.detect.analysis import analyse, analyse_script, warm_up
from hijackwatch.detect.findings import (
    Analysis,
    Finding,
    ViewSummary,
    score_findings,
)


def clear_caches() -> None:
    """Forget what earlier pages taught (stylesheets, styles, link domains), as on a
    crawl's first page of a site: for benchmarks and long-lived processes."""
    css.clear_cache()
    document.clear_cache()
    text.clear_cache()


__all__ = [
    "Analysis",
    "Finding",
    "ViewSummary",
    "analyse",
    "analyse_script",
    "clear_caches",
    "score_findings",
    "warm_up",
]
