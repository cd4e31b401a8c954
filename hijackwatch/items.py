"""The record one fetch of one page produces as it moves through the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class PageItem:
    """One fetch of one URL under one visitor profile.

    The spider fills the fetch facts; DetectionPipeline fills ``analysis``-derived
    fields (``title``, ``score``, ``verdict``, ``findings``); StoragePipeline writes it.
    ``body`` is dropped by StoragePipeline after analysis unless body retention is on.
    """

    url: str
    site: str  # the seed's site key (host, www-stripped, with :port when not default)
    profile: str = "browser"
    final_url: str | None = None
    status: int | None = None  # HTTP status; None when the fetch failed
    error: str | None = None  # why the fetch failed (DNS, timeout, refused, too large...)
    depth: int = 0
    content_type: str | None = None
    fetched_at: datetime | None = None  # UTC
    body: bytes | None = None
    encoding: str | None = None  # charset Scrapy decided on
    # digest of the body and its encoding (HTML views): a view with the same digest at
    # the same URL gets the same analysis, links and script URLs, so they are reused
    body_digest: bytes | None = None
    referer: str | None = None
    refresh: str | None = None  # the HTTP Refresh: header (browsers follow it like a meta)
    # filled by DetectionPipeline
    title: str | None = None
    score: float = 0.0
    verdict: str = "clean"  # hijacked | suspicious | clean | error
    findings: list[Any] = field(default_factory=list)  # hijackwatch.detect.Finding
    outbound_domains: list[str] = field(default_factory=list)
    summary: Any = None  # hijackwatch.detect.ViewSummary, used by cloaking comparison
