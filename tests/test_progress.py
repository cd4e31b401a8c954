"""ProgressExtension: the crawl summary counts pages exactly as the database stores them."""

from __future__ import annotations

from scrapy.utils.test import get_crawler

from hijackwatch.extensions.progress import ProgressExtension
from hijackwatch.items import PageItem
from hijackwatch.spiders.hijack import HijackSpider
from hijackwatch.storage.records import page_record


def test_site_totals_use_the_stored_verdicts() -> None:
    crawler = get_crawler(HijackSpider, {"HIJACKWATCH_PROGRESS_INTERVAL": 0})
    crawler.stats.open_spider()
    ext = ProgressExtension.from_crawler(crawler)
    site = "127.0.0.5:8000"
    items = [
        PageItem(url="http://127.0.0.5:8000/", site=site, status=200, verdict="hijacked"),
        PageItem(url="http://127.0.0.5:8000/a", site=site, status=200, verdict="clean"),
        # analysed, but detection could not read it: stored as an error row
        PageItem(
            url="http://127.0.0.5:8000/bin",
            site=site,
            status=200,
            verdict="clean",
            error="not an HTML page (binary data)",
        ),
        PageItem(url="http://127.0.0.5:8000/x", site=site, error="timeout", verdict="error"),
    ]
    for item in items:
        ext.item_scraped(item)
    ext.spider_closed()
    totals = crawler.stats.get_value("hijackwatch/site_totals")[site]
    stored = [page_record(item)["verdict"] for item in items]
    assert totals["fetches"] == len(items)
    for verdict in ("hijacked", "clean", "error"):
        assert totals.get(verdict, 0) == stored.count(verdict), (verdict, totals, stored)
    assert totals["error"] == 2
