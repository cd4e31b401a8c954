"""Hijack detection as a plain library: bytes in, verdict and findings out.

Nothing here imports Scrapy, so ``hijackwatch scan``, the crawl pipelines and any
other program use the same code.
"""

from __future__ import annotations

from hijackwatch.detect.findings import (
    Analysis,
    Finding,
    ViewSummary,
    score_findings,
)

__all__ = ["Analysis", "Finding", "ViewSummary", "analyse", "score_findings"]


def analyse(body: bytes | str, url: str = "", *, encoding: str | None = None) -> Analysis:  # noqa: ARG001
    """Analyse one page. Placeholder until the detectors land (issue 2/3 work in progress)."""
    raise NotImplementedError
