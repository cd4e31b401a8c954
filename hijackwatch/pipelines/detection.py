"""DetectionPipeline: run the detection library on every fetched page, off the event loop."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from hijackwatch.detect import Analysis, analyse
from hijackwatch.detect.decode import MAX_BYTES
from hijackwatch.items import PageItem

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


def default_workers() -> int:
    """Processes for analysis: all cores but the one the crawl's event loop needs."""
    return max(0, (os.cpu_count() or 1) - 1)


class DetectionPipeline:
    """Analyses each page body away from the event loop so parsing never stalls the crawl.

    ``HIJACKWATCH_DETECT_WORKERS`` > 0 analyses in that many worker processes (real
    parallelism: detection is CPU-bound Python and the GIL would serialise threads);
    0 uses a thread. A page whose analysis fails is kept (verdict ``error`` with the
    reason): a result is never lost because a hostile page broke a detector.
    """

    def __init__(self, stats: StatsCollector, workers: int) -> None:
        self.stats = stats
        self.workers = workers
        self.executor: Executor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        workers = settings.get("HIJACKWATCH_DETECT_WORKERS")
        return cls(
            crawler.stats, default_workers() if workers in (None, "", "auto") else int(workers)
        )

    def open_spider(self) -> None:
        self.executor = self._new_executor()

    def close_spider(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=False)
            self.executor = None

    def _new_executor(self) -> Executor:
        if self.workers <= 0:
            return ThreadPoolExecutor(max_workers=2, thread_name_prefix="hijackwatch-detect")
        # spawn, not fork: the crawl process runs threads (reactor pool, DB writer)
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
        )

    async def _analyse(self, body: bytes, url: str, encoding: str | None) -> Analysis:
        loop = asyncio.get_running_loop()
        if self.executor is None:
            self.executor = self._new_executor()
        executor = self.executor
        try:
            return await loop.run_in_executor(executor, _analyse, body, url, encoding)
        except BrokenProcessPool:
            # a worker died (a pathological page exhausting memory, a killed process):
            # start a fresh pool and retry once, so one page cannot end analysis for all.
            # Every page in flight sees the same broken pool; only the first replaces it,
            # or a later one would shut down (and cancel the retries in) the fresh pool.
            if self.executor is executor:
                logger.error("detection worker died on %s; restarting the pool", url)
                self.stats.inc_value("hijackwatch/detect_pool_restarts")
                executor.shutdown(wait=False, cancel_futures=True)
                self.executor = self._new_executor()
            return await loop.run_in_executor(self.executor, _analyse, body, url, encoding)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        if item.body is None:
            if item.error:
                item.verdict = "error"
            return item
        try:
            # the library reads at most MAX_BYTES: don't ship more to the worker
            analysis = await self._analyse(
                item.body[:MAX_BYTES], item.final_url or item.url, item.encoding
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


def _analyse(body: bytes, url: str, encoding: str | None) -> Analysis:
    return analyse(body, url, encoding=encoding)
