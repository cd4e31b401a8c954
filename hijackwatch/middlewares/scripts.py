"""ExternalScriptsMiddleware: fetch the ``<script src>`` files a crawled page loads, once each.

Hijack kits often live in an external script (on the site or on another host) that
checks ``document.referrer`` and sends search visitors to a casino. Every HTML view
(any profile) has its script URLs read; each URL is fetched once per crawl
(``HIJACKWATCH_SCRIPT_MAX_BYTES``, default 512 KB, any host) and analysed statically
with ``analyse_script`` in a worker thread — never executed. Results go into a
per-crawler ``ScriptCache``; CloakingPipeline awaits the analyses of each page's
scripts (at most ``HIJACKWATCH_SCRIPT_WAIT`` s) and adds the findings to that page.

Scripts are fetched with ``engine.download_async`` (downloader middlewares apply),
not through the scheduler: page items wait in the pipelines for these fetches, and
once enough of them wait the engine stops taking requests from the scheduler
(``SCRAPER_SLOT_MAX_ACTIVE_SIZE``), which would hold back the very scripts they
wait for until ``HIJACKWATCH_SCRIPT_WAIT`` runs out.

Settings: ``HIJACKWATCH_SCRIPTS_ENABLED`` (default on), ``HIJACKWATCH_SCRIPT_MAX_BYTES``,
``HIJACKWATCH_SCRIPT_MAX_PER_PAGE`` (20), ``HIJACKWATCH_SCRIPT_MAX_TOTAL`` (5000 per
crawl), ``HIJACKWATCH_SCRIPT_SKIP_HOSTS`` (well-known analytics hosts whose code the
site owner does not control and that read the referrer for honest reasons),
``HIJACKWATCH_SCRIPT_ALLOW_HOSTS`` (when set, only scripts on these hosts or networks,
e.g. ``127.0.0.0/8`` for offline benchmarks).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import TextResponse
from scrapy.utils.datatypes import LocalCache

from hijackwatch.detect import Finding
from hijackwatch.detect.cloaking import absolute_script_urls, external_script_findings
from hijackwatch.items import PageItem
from hijackwatch.middlewares.followup import FollowUpMiddleware
from hijackwatch.profiles import SCRIPT_MAX_BYTES
from hijackwatch.render import HostPolicy

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

KNOWN_PAGES = 4096  # page bodies whose script URLs are remembered
DEFAULT_SKIP_HOSTS = (
    "hm.baidu.com",
    "googletagmanager.com",
    "google-analytics.com",
    "cnzz.com",
    "51.la",
    "clarity.ms",
    "mc.yandex.ru",
)


class ScriptCache:
    """Script URL -> future findings, and page view -> the script URLs it loads."""

    _caches: ClassVar[WeakKeyDictionary[Crawler, ScriptCache]] = WeakKeyDictionary()

    # Page views waiting for their scripts' findings. Each is popped by the pipeline; one
    # whose item was dropped earlier never is, so the oldest go once this many wait.
    MAX_PAGES = 10_000

    def __init__(self, max_total: int = 5000) -> None:
        self.max_total = max_total
        self.results: dict[str, asyncio.Future[list[Finding]]] = {}
        self.pages: dict[tuple[str, str], list[str]] = {}

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> ScriptCache:
        cache = cls._caches.get(crawler)
        if cache is None:
            cache = cls(crawler.settings.getint("HIJACKWATCH_SCRIPT_MAX_TOTAL", 5000))
            cls._caches[crawler] = cache
        return cache

    def register(self, page_url: str, profile: str, script_urls: list[str]) -> list[str]:
        """Record which scripts a page view loads; returns the ones never requested yet."""
        fresh = []
        known = []
        loop = asyncio.get_running_loop()
        for url in script_urls:
            if url not in self.results:
                if len(self.results) >= self.max_total:
                    continue
                self.results[url] = loop.create_future()
                fresh.append(url)
            known.append(url)
        if known:
            while len(self.pages) >= self.MAX_PAGES:
                del self.pages[next(iter(self.pages))]
            self.pages[(page_url, profile)] = known
        return fresh

    def resolve(self, url: str, findings: list[Finding]) -> None:
        future = self.results.get(url)
        if future is not None and not future.done():
            future.set_result(findings)

    async def findings_for(self, page_url: str, profile: str, timeout: float) -> list[Finding]:
        """Findings of the scripts one page view loads; what is not analysed in time is skipped."""
        urls = self.pages.pop((page_url, profile), [])
        futures = [self.results[u] for u in urls if u in self.results]
        if not futures:
            return []
        pending = [f for f in futures if not f.done()]
        if pending:
            await asyncio.wait([asyncio.shield(f) for f in pending], timeout=timeout)
        findings: list[Finding] = []
        for future in futures:
            if future.done():
                findings.extend(future.result())
        return findings


def _skipped(url: str, skip_hosts: tuple[str, ...]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in skip_hosts)


class ExternalScriptsMiddleware(FollowUpMiddleware):
    """Spider middleware: a request per new script URL of each HTML page view."""

    def __init__(
        self,
        crawler: Crawler,
        cache: ScriptCache,
        *,
        max_bytes: int = SCRIPT_MAX_BYTES,
        per_page: int = 20,
        skip_hosts: tuple[str, ...] = DEFAULT_SKIP_HOSTS,
        only: HostPolicy | None = None,
    ) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.cache = cache
        self.fetches: set[asyncio.Task[None]] = set()  # strong references while running
        self.max_bytes = max_bytes
        self.per_page = per_page
        self.skip_hosts = skip_hosts
        self.only = only
        # (page URL, body digest) -> its script URLs: views with the same text are not
        # parsed again
        self.known: LocalCache[tuple[str, bytes], list[str]] = LocalCache(KNOWN_PAGES)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        if not s.getbool("HIJACKWATCH_SCRIPTS_ENABLED", True):
            raise NotConfigured  # switched off: bare, so Scrapy logs no warning
        skip = s.getlist("HIJACKWATCH_SCRIPT_SKIP_HOSTS", list(DEFAULT_SKIP_HOSTS))
        only = s.getlist("HIJACKWATCH_SCRIPT_ALLOW_HOSTS", [])
        return cls(
            crawler,
            ScriptCache.for_crawler(crawler),
            max_bytes=s.getint("HIJACKWATCH_SCRIPT_MAX_BYTES", SCRIPT_MAX_BYTES),
            per_page=s.getint("HIJACKWATCH_SCRIPT_MAX_PER_PAGE", 20),
            skip_hosts=tuple(h.strip().lower() for h in skip if h.strip()),
            only=HostPolicy(only) if only else None,
        )

    def follow_up(self, response: Response, out: Any) -> list[Request]:
        if (
            not isinstance(out, PageItem)
            or out.body is None
            or not isinstance(response, TextResponse)
        ):
            return []
        digest = out.body_digest
        urls = self.known.get((response.url, digest)) if digest else None
        if urls is None:
            try:
                srcs = response.xpath("//script/@src").getall()
            except ValueError:  # parsel refuses some malformed documents
                return []
            urls = [
                u
                for u in absolute_script_urls(srcs, response.url, self.per_page)
                if not _skipped(u, self.skip_hosts)
                and (self.only is None or self.only.allowed(u, ""))
            ]
            if digest:
                self.known[response.url, digest] = urls
        for url in self.cache.register(out.url, out.profile, urls):
            request = Request(
                url,
                # never through the scheduler (see the module docstring): no dupefilter, and
                # no priority either (the downloader's per-host queues are first in, first out)
                dont_filter=True,
                meta={"hw_any_host": True, "hw_script": url, "download_maxsize": self.max_bytes},
            )
            task = asyncio.ensure_future(self.fetch(request))
            self.fetches.add(task)
            task.add_done_callback(self.fetches.discard)
            self.stats.inc_value("hijackwatch/script_requests")
        return []

    async def fetch(self, request: Request) -> None:
        """Download and analyse one script; its cache entry is resolved whatever happens."""
        findings: list[Finding] = []
        try:
            findings = await self.script_findings(request)
        finally:
            self.cache.resolve(request.meta["hw_script"], findings)

    async def script_findings(self, request: Request) -> list[Finding]:
        url = request.meta["hw_script"]
        try:
            assert self.crawler.engine is not None
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:
            self.stats.inc_value("hijackwatch/script_fetch_errors")
            logger.debug("script %s not fetched: %s", url, exc)
            return []
        if response.status != 200:
            return []
        if isinstance(response, TextResponse):
            source = response.text
        else:
            source = response.body.decode("utf-8", errors="replace")
        try:
            findings = await asyncio.to_thread(external_script_findings, source, url)
        except Exception:  # a detector bug must not stall the pages waiting on this script
            logger.exception("script analysis failed for %s", url)
            self.stats.inc_value("hijackwatch/script_analysis_errors")
            return []
        if findings:
            self.stats.inc_value("hijackwatch/scripts_flagged")
        return findings
