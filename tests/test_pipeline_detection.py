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
