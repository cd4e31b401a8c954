"""ProgressExtension: one line of progress now and then, and per-site totals at the end."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import AsyncioLoopingCall, create_looping_call

from hijackwatch.items import PageItem
from hijackwatch.storage.records import verdict_of

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# a page is as bad as the worst view of it, as incidents.py counts stored pages
_RANK = {"hijacked": 2, "suspicious": 1}
_PAGE_COUNT = {1: "suspicious_pages", 2: "hijacked_pages"}


class ProgressExtension:
    """Long portfolio crawls run unattended: show sites done, pages and hijacks so far.

    A site counts as done when none of its requests is pending any more.
    ``HIJACKWATCH_PROGRESS_INTERVAL = 0`` switches the periodic line off; the
    per-site totals (stat ``hijackwatch/site_totals``) are kept regardless.

    Each page is fetched once per visitor profile, so the totals count both, as the
    run's stored counts do: ``pages`` (distinct URLs), ``hijacked_pages`` and
    ``suspicious_pages`` (by the worst verdict any profile saw), and ``fetches`` with
    per-verdict fetch counts (``hijacked``, ``suspicious``, ``clean``, ``error``).
    """

    def __init__(self, crawler: Crawler, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self.pending: Counter[str] = Counter()
        self.started: set[str] = set()
        self.totals: dict[str, Counter[str]] = defaultdict(Counter)
        # site -> URL -> worst verdict rank any profile saw (bounded by the page limit)
        self.worst: dict[str, dict[str, int]] = defaultdict(dict)
        self.task: AsyncioLoopingCall | Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        interval = crawler.settings.getfloat("HIJACKWATCH_PROGRESS_INTERVAL", 30.0)
        if interval < 0:
            raise NotConfigured("HIJACKWATCH_PROGRESS_INTERVAL < 0")
        ext = cls(crawler, interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(ext.request_done, signal=signals.request_left_downloader)
        crawler.signals.connect(ext.request_done, signal=signals.request_dropped)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        return ext

    def request_scheduled(self, request: Request) -> None:
        site = request.meta.get("hw_site")
        if site:
            self.pending[site] += 1
            self.started.add(site)

    def request_done(self, request: Request) -> None:
        site = request.meta.get("hw_site")
        if site and self.pending[site] > 0:
            self.pending[site] -= 1

    def item_scraped(self, item: Any) -> None:
        if isinstance(item, PageItem):
            counts = self.totals[item.site]
            verdict = verdict_of(item)  # as stored: the summary must match the database
            counts["fetches"] += 1
            counts[verdict] += 1
            pages = self.worst[item.site]
            rank = _RANK.get(verdict, 0)
            if item.url not in pages:
                counts["pages"] += 1
                pages[item.url] = 0
            if rank > pages[item.url]:
                if pages[item.url]:
                    counts[_PAGE_COUNT[pages[item.url]]] -= 1
                counts[_PAGE_COUNT[rank]] += 1
                pages[item.url] = rank

    def sites_done(self) -> int:
        return sum(1 for site in self.started if self.pending[site] == 0)

    def line(self) -> str:
        pages = sum(c["pages"] for c in self.totals.values())
        fetches = sum(c["fetches"] for c in self.totals.values())
        hijacked = sum(c["hijacked_pages"] for c in self.totals.values())
        sites_hit = sum(1 for c in self.totals.values() if c["hijacked_pages"])
        total = self.crawler.stats.get_value("hijackwatch/sites_total", len(self.started))
        return (
            f"progress: sites {self.sites_done()}/{total} done, {pages} pages "
            f"({fetches} fetches), {hijacked} hijacked pages on {sites_hit} sites"
        )

    def log(self) -> None:
        logger.info(self.line())

    def spider_opened(self) -> None:
        # The live totals: a forced stop (no spider_closed) still prints its summary.
        self.crawler.stats.set_value("hijackwatch/site_totals", self.totals)
        if self.interval > 0:
            self.task = create_looping_call(self.log)
            self.task.start(self.interval, now=False)

    def spider_closed(self) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self.crawler.stats.set_value(
            "hijackwatch/site_totals", {site: dict(c) for site, c in self.totals.items()}
        )
        if self.interval > 0:
            self.log()
