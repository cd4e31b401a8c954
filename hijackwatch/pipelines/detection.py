"""DetectionPipeline: run the detection library on every fetched page, off the event loop."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
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


# A worker stuck in C code (where SIGALRM cannot interrupt it) is killed this much later.
HARD_TIMEOUT_FACTOR = 2.0
HARD_TIMEOUT_GRACE = 5.0


class AnalysisTimeout(Exception):
    """One page's analysis ran past HIJACKWATCH_DETECT_TIMEOUT."""


def default_workers() -> int:
    """Processes for analysis: all cores but the one the crawl's event loop needs."""
    return max(0, (os.cpu_count() or 1) - 1)


class DetectionPipeline:
    """Analyses each page body away from the event loop so parsing never stalls the crawl.

    ``HIJACKWATCH_DETECT_WORKERS`` > 0 analyses in that many worker processes (real
    parallelism: detection is CPU-bound Python and the GIL would serialise threads);
    0 uses a thread. A page whose analysis fails or runs past ``HIJACKWATCH_DETECT_TIMEOUT``
    is kept (verdict ``error`` with the reason): a result is never lost because a hostile
    page broke or stalled a detector, and a stalled worker never holds up the crawl.
    """

    def __init__(self, stats: StatsCollector, workers: int, timeout: float = 0.0) -> None:
        self.stats = stats
        self.workers = workers
        self.timeout = max(0.0, timeout)
        self.executor: Executor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        workers = settings.get("HIJACKWATCH_DETECT_WORKERS")
        return cls(
            crawler.stats,
            default_workers() if workers in (None, "", "auto") else int(workers),
            settings.getfloat("HIJACKWATCH_DETECT_TIMEOUT", 60.0),
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
        return await self._run(_analyse, body, url, encoding, self.timeout)

    async def _run(self, fn: Callable[..., Analysis], *args: Any, retry: bool = True) -> Analysis:
        """``fn(*args)`` in the pool, with a fresh pool on a dead or stuck worker.

        ``fn`` bounds itself (SIGALRM in a worker process); a worker that does not come
        back even so (stuck inside C code) is killed after a longer hard limit.
        """
        if self.executor is None:
            self.executor = self._new_executor()
        executor = self.executor
        hard = self.timeout * HARD_TIMEOUT_FACTOR + HARD_TIMEOUT_GRACE if self.timeout else None
        try:
            future = asyncio.wrap_future(executor.submit(fn, *args))
            return await asyncio.wait_for(future, hard)
        except TimeoutError:
            if isinstance(executor, ProcessPoolExecutor):
                logger.error("detection worker stuck for %.0f s; restarting the pool", hard)
                self._replace(executor, kill=True)
            raise AnalysisTimeout(f"analysis did not finish within {self.timeout:g} s") from None
        except BrokenProcessPool:
            # a worker died (a pathological page exhausting memory, a killed process):
            # start a fresh pool and retry once, so one page cannot end analysis for all.
            if not retry:
                raise
            if self.executor is executor:
                logger.error("detection worker died; restarting the pool")
            self._replace(executor)
            return await self._run(fn, *args, retry=False)

    def _replace(self, executor: Executor, *, kill: bool = False) -> None:
        # Every page in flight sees the same broken pool; only the first replaces it,
        # or a later one would shut down (and cancel the retries in) the fresh pool.
        if self.executor is not executor:
            return
        self.stats.inc_value("hijackwatch/detect_pool_restarts")
        if kill and isinstance(executor, ProcessPoolExecutor):
            # No public API kills one worker; the pages in flight retry in the new pool.
            for process in list(getattr(executor, "_processes", {}).values()):
                process.kill()
        # Not cancel_futures: a cancelled page would raise CancelledError (no retry, no row);
        # the dead pool fails every queued page with BrokenProcessPool, which retries.
        executor.shutdown(wait=False, cancel_futures=False)
        self.executor = self._new_executor()

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
        except AnalysisTimeout as exc:
            logger.error("analysis of %s stopped: %s", item.url, exc)
            self.stats.inc_value("hijackwatch/analysis_timeouts")
            item.verdict = "error"
            item.error = str(exc)
            return item
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


def _analyse(body: bytes, url: str, encoding: str | None, timeout: float = 0.0) -> Analysis:
    """analyse() bounded by SIGALRM where that is possible (a worker process's main thread)."""
    if not timeout or threading.current_thread() is not threading.main_thread():
        return analyse(body, url, encoding=encoding)

    def expired(_signum: int, _frame: object) -> None:
        raise AnalysisTimeout(f"analysis did not finish within {timeout:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return analyse(body, url, encoding=encoding)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
