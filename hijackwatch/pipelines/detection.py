"""DetectionPipeline: run the detection library on every fetched page, off the event loop."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from hijackwatch.detect import Analysis, analyse
from hijackwatch.items import PageItem

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class DetectionPipeline:
    """Analyses each page body in a worker thread so parsing never stalls the crawl.

    A page whose analysis fails is kept (verdict ``error`` with the reason): a
    result is never lost because a hostile page broke a detector.
    """

    def __init__(self, stats: StatsCollector, max_bytes: int) -> None:
        self.stats = stats
        self.max_bytes = max_bytes

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.stats, crawler.settings.getint("HIJACKWATCH_DETECT_MAX_BYTES", 5 << 20))

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        if item.body is None:
            if item.error:
                item.verdict = "error"
            return item
        body = item.body[: self.max_bytes]
        try:
            analysis: Analysis = await asyncio.to_thread(
                analyse, body, item.final_url or item.url, encoding=item.encoding
            )
        except Exception as exc:  # a detector bug must not cost the page its row
            logger.exception("analysis failed for %s", item.url)
            self.stats.inc_value("hijackwatch/analysis_errors")
            item.verdict = "error"
            item.error = f"analysis failed: {type(exc).__name__}: {exc}"[:500]
            return item
        item.title = analysis.title
        item.score = analysis.score
        item.verdict = analysis.verdict
        item.findings = list(analysis.findings)
        item.outbound_domains = list(analysis.outbound_domains)
        item.summary = analysis.summary
        if analysis.error and not item.error:
            item.error = analysis.error
        self.stats.inc_value(f"hijackwatch/verdict/{item.verdict}")
        return item
