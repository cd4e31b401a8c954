"""DetectionPipeline with real worker processes: a dead worker must not cost any page its row."""

from __future__ import annotations

import asyncio
import os

from scrapy.utils.test import get_crawler

from hijackwatch.items import PageItem
from hijackwatch.pipelines.detection import DetectionPipeline
from hijackwatch.spiders.hijack import HijackSpider
from tests.conftest import SEED_PAGE


def _pipeline() -> tuple[DetectionPipeline, object]:
    crawler = get_crawler(HijackSpider, {"HIJACKWATCH_DETECT_WORKERS": 1})
    crawler.stats.open_spider()
    return DetectionPipeline.from_crawler(crawler), crawler.stats


def test_pages_in_flight_when_a_worker_dies_all_get_analysed() -> None:
    """Every page waiting on the broken pool retries in one fresh pool (not one pool each,
    which would cancel the other pages' retries and drop their items)."""
    pipeline, stats = _pipeline()
    body = SEED_PAGE.read_bytes()

    async def run() -> list[PageItem]:
        pipeline.open_spider()
        assert pipeline.executor is not None
        await asyncio.wrap_future(pipeline.executor.submit(abs, 1))  # the worker is up
        pipeline.executor.submit(os._exit, 1)  # ...and dies: the pool breaks
        items = [
            PageItem(url=f"http://127.0.0.1/{n}.html", site="127.0.0.1", status=200, body=body)
            for n in range(4)
        ]
        try:
            return list(await asyncio.gather(*(pipeline.process_item(i) for i in items)))
        finally:
            pipeline.close_spider()

    results = asyncio.run(run())
    assert [item.verdict for item in results] == ["hijacked"] * 4
    assert all(item.error is None and item.findings for item in results)
    assert stats.get_value("hijackwatch/detect_pool_restarts") == 1


def _stuck(*_args: object) -> None:
    """A worker that ignores SIGALRM and never returns: only a kill ends it."""
    import signal
    import time

    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(3600)


def test_a_page_past_the_time_limit_is_kept_with_an_error() -> None:
    """The worker interrupts its own analysis (SIGALRM) and the page keeps its row."""
    pipeline, stats = _pipeline()
    pipeline.timeout = 0.001  # no real page is analysed that fast
    item = PageItem(url="http://127.0.0.1/a.html", site="127.0.0.1", status=200)
    item.body = SEED_PAGE.read_bytes() * 8

    async def run() -> PageItem:
        pipeline.open_spider()
        try:
            return await pipeline.process_item(item)
        finally:
            pipeline.close_spider()

    result = asyncio.run(run())
    assert result.verdict == "error"
    assert result.error == "analysis did not finish within 0.001 s"
    assert stats.get_value("hijackwatch/analysis_timeouts") == 1
    assert not stats.get_value("hijackwatch/detect_pool_restarts")


def test_a_stuck_worker_is_killed_and_the_pages_in_flight_still_analysed() -> None:
    pipeline, stats = _pipeline()
    pipeline.timeout = 0.5  # hard limit: 0.5 * 2 + 5 s
    body = SEED_PAGE.read_bytes()

    async def run() -> tuple[BaseException | None, list[PageItem]]:
        pipeline.open_spider()
        try:
            stuck = asyncio.ensure_future(pipeline._run(_stuck))
            await asyncio.sleep(0.5)  # the only worker is now stuck
            items = [
                PageItem(url=f"http://127.0.0.1/{n}.html", site="127.0.0.1", status=200, body=body)
                for n in range(4)  # more than the call queue holds: some wait in the pool
            ]
            done = await asyncio.gather(*(pipeline.process_item(i) for i in items))
            error = None
            try:
                await stuck
            except Exception as exc:
                error = exc
            return error, list(done)
        finally:
            pipeline.close_spider()

    error, results = asyncio.run(run())
    assert type(error).__name__ == "AnalysisTimeout"
    assert [item.verdict for item in results] == ["hijacked"] * 4
    assert stats.get_value("hijackwatch/detect_pool_restarts") == 1
