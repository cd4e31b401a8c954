"""The ``hijack`` spider: walk each seed site like a search engine would find it.

Sharing a site's page budget (``HIJACKWATCH_MAX_PAGES``). A page counts against the
budget when its request is created, not when it is fetched, so whatever is scheduled
first would win: a 5,000-URL sitemap read first took the whole budget, and a small
sitemap of parasite pages listed after it was never fetched; a homepage with 300 links
would do the same to every sitemap. Hence:

- a sitemap's URLs are not requested as it is read: each sitemap keeps its best
  entries, at most one budget's worth: newest ``<lastmod>`` first (ISO dates sort as
  text), undated ones as oldest, and among equals the later in the file first, as
  sitemaps grow by appending (an index's children are requested in that order too);
- the budget has two halves. While the site's sitemaps are being read (robots.txt,
  ``/sitemap.xml``, the children of indexes, all bounded by
  ``HIJACKWATCH_MAX_SITEMAPS``), followed links (with the homepage and rechecks) may
  fill only theirs; links found past it are held back;
- once every sitemap has answered, their URLs are requested round-robin across
  sitemaps, one from each in turn, until the sitemaps' half is full: a small appended
  sitemap or index child gets as many pages as the big one until it runs out. The
  links' half stays theirs even if the homepage answers after the sitemaps. Then the
  held-back links take whatever room is left (all of it on a site without sitemaps);
- when the crawl goes idle (every site's links have run out), sitemap URLs left over
  take what remains of each budget, again round-robin.

Priorities only order fetches (homepage 100, robots.txt and sitemaps 90, rechecks and
sitemap URLs 50, links by depth): the split above does not depend on which response
comes first. robots.txt and sitemap requests skip Scrapy's duplicate filter (a
sitemap may be at a page's URL, ``Sitemap: https://site/``; ``sitemaps_seen`` already
reads each once): a dropped request reaches neither callback nor errback and would
hold the site's links back until the whole crawl goes idle. At idle a site still
waiting is settled with what it has read.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import logging
import re
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import scrapy
from lxml import etree
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import HtmlResponse, Request, Response, TextResponse
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.utils.datatypes import LocalCache
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from hijackwatch.detect.text import ascii_url
from hijackwatch.items import PageItem
from hijackwatch.pipelines.storage import db_url_setting
from hijackwatch.profiles import BASELINE
from hijackwatch.seeds import (
    Seed,
    parse_seeds,
    read_seeds_file,
    same_site,
    site_key,
    sites_of,
)
from hijackwatch.storage import Database
from hijackwatch.storage.deadline import await_with_deadline
from hijackwatch.storage.engine import db_error
from hijackwatch.storage.incidents import chunks

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

_SKIP_SUFFIXES = (*(f".{ext}" for ext in IGNORED_EXTENSIONS), ".xml", ".gz", ".json", ".txt")
_HTML_TYPES = (b"text/html", b"application/xhtml+xml")
_LINKS = etree.XPath("//a/@href | //area/@href | //iframe/@src | //frame/@src", smart_strings=False)
FOLLOWED_KEEP = 8192  # pages whose link-followed bytes are remembered (views come together)
_HAS_HOST = re.compile(r"https?://[^/?#\t\r\n]")  # a host of its own (``https://`` alone has none)
_URL_DROPS = re.compile("[\t\r\n]")


def body_digest(response: Response) -> bytes:
    """Digest of what a view's links and scripts are read from: the bytes and the
    encoding they are decoded with (the same bytes under another charset are other text)."""
    digest = hashlib.blake2b(getattr(response, "encoding", "").encode("ascii", "replace"))
    digest.update(b"\0")
    digest.update(response.body)
    return digest.digest()[:16]


def origin_of(base: str) -> str | None:
    """``scheme://netloc/`` of a page URL: what absolute and root-relative links keep of it."""
    try:
        parts = urlsplit(base)
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.netloc}/"


def _clean_link(base: str, href: str, origin: str | None = None) -> str | None:
    """Absolute http(s) URL without fragment, or None for links we never follow.

    ``origin``: :func:`origin_of` ``base``, computed once per page by the caller.
    """
    href = href.strip()
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
        return None
    if (
        origin is not None
        and ((href[0] == "/" and href[:2] != "//") or _HAS_HOST.match(href) is not None)
        and _URL_DROPS.search(href) is None  # urlsplit deletes these: "/\r/x" is "//x"
    ):
        # such links do not depend on the base's path, and sites repeat them on every
        # page (menus, footers): each is cleaned once per site
        return _clean_rooted(origin, href)
    return _cleaned(base, href)


@lru_cache(maxsize=16384)
def _clean_rooted(origin: str, href: str) -> str | None:
    return _cleaned(origin, href)


def _cleaned(base: str, href: str, skip: tuple[str, ...] = _SKIP_SUFFIXES) -> str | None:
    try:
        parts = urlsplit(urljoin(base, href))
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if skip and parts.path.lower().endswith(skip):
        return None
    url = urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))
    if url.isascii():
        return url
    try:  # Scrapy would spell a Unicode host with IDNA 2003 (faß.de -> fass.de)
        return ascii_url(url)
    except (UnicodeError, ValueError):  # no host a browser could reach
        return None


def _sitemap_link(base: str, loc: str) -> str | None:
    """A sitemap index's ``<loc>``: like a link, but ``.xml`` and ``.gz`` are what it names."""
    loc = loc.strip()
    return _cleaned(base, loc, skip=()) if loc else None


def round_robin_shares(lengths: Sequence[int], budget: int) -> list[int]:
    """How many entries of each queue a round-robin draw of ``budget`` takes."""
    shares = [0] * len(lengths)
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    for rank, i in enumerate(order):
        fair = -(-budget // (len(order) - rank)) if budget > 0 else 0  # ceiling
        shares[i] = min(lengths[i], fair)
        budget -= shares[i]
    return shares


@dataclass(slots=True)
class SiteSitemaps:
    """One site's sitemap reading: what is still in flight and the URLs found so far."""

    seed: Seed
    pending: int = 0  # robots.txt and sitemap fetches not answered yet
    requested: int = 0  # sitemaps requested, bounded by HIJACKWATCH_MAX_SITEMAPS
    settled: bool = False  # all answered: the URLs below were requested
    queues: list[deque[str]] = field(default_factory=list)  # one per sitemap, best first
    held: dict[str, int] = field(default_factory=dict)  # links held back: URL -> depth


def read_open_incidents(
    db_url: str, site_keys: Sequence[str], per_site: int
) -> dict[str, list[str]]:
    """:meth:`Database.open_incident_urls` on a connection of its own (blocking)."""
    db = Database(db_url, create=False)  # the storage pipeline has created it by now
    try:
        return db.open_incident_urls(site_keys, per_site)
    finally:
        db.dispose()


class HijackSpider(scrapy.Spider):
    """Crawls every seed site: homepage, same-site links, robots.txt and sitemap URLs.

    Hijackers list their parasite pages in sitemaps, so sitemap URLs get half of a
    site's budget, shared fairly across its sitemaps (see the module docstring); each
    site stops at ``HIJACKWATCH_MAX_PAGES`` pages and ``HIJACKWATCH_MAX_DEPTH`` link
    hops, and several start URLs of one site share its budget. Other sites are never
    crawled: their domains are only recorded (by detection) as outbound links. The URLs of a site's
    open page incidents (``HIJACKWATCH_RECHECK_MAX``) are requested again as well:
    an unlinked parasite page may still be live, and only a fetch can tell.
    """

    name = "hijack"

    def __init__(self, seeds: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seeds_path = seeds
        self.seeds: list[Seed] = []
        self.max_pages = 200
        self.max_depth = 5
        self.max_sitemaps = 20
        self.sitemap_max_bytes = 20 * 1024 * 1024
        self.recheck_max = 200  # open page incidents requested again per site
        self.recheck_db: str | None = None  # the crawl's database; None: storage is off
        self.db_timeout = 120.0
        self.scheduled: Counter[str] = Counter()  # page requests per site
        self.sitemaps_seen: set[str] = set()  # an index listing itself (or its parent) is read once
        self.sitemaps: dict[str, SiteSitemaps] = {}  # site key -> its sitemap reading
        self.seen: set[str] = set()
        self.followed: LocalCache[tuple[str, bytes], None] = LocalCache(FOLLOWED_KEEP)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.max_pages = settings.getint("HIJACKWATCH_MAX_PAGES", 200)
        spider.max_depth = settings.getint("HIJACKWATCH_MAX_DEPTH", 5)
        spider.max_sitemaps = settings.getint("HIJACKWATCH_MAX_SITEMAPS", 20)
        spider.sitemap_max_bytes = settings.getint("HIJACKWATCH_SITEMAP_MAX_BYTES", 20 << 20)
        # at most half of a site's page budget, so that the crawl still finds new pages
        recheck = max(0, settings.getint("HIJACKWATCH_RECHECK_MAX", 200))
        spider.recheck_max = min(recheck, max(1, spider.max_pages // 2)) if recheck else 0
        spider.db_timeout = settings.getfloat("HIJACKWATCH_DB_WRITE_TIMEOUT", 120.0)
        if settings.getbool("HIJACKWATCH_STORAGE_ENABLED", True):
            spider.recheck_db = db_url_setting(settings)  # where StoragePipeline writes
        spider.seeds = spider._load_seeds(settings.getlist("HIJACKWATCH_SEED_LIST"))
        crawler.signals.connect(spider.settle_waiting_sites, signal=signals.spider_idle)
        return spider

    def _load_seeds(self, inline: list[str]) -> list[Seed]:
        if inline:  # seeds handed over already parsed (the CLI validated the file)
            seeds, problems = parse_seeds(inline)
        elif self.seeds_path:
            seeds, problems = read_seeds_file(self.seeds_path)
        else:
            raise ValueError("no seeds: pass -a seeds=FILE (one domain or URL per line)")
        for problem in problems:
            logger.warning("seeds %s: skipped %s", self.seeds_path or "list", problem)
        return seeds

    # --- requests ------------------------------------------------------------------
    def page_request(
        self, seed: Seed, url: str, depth: int, *, priority: int = 0
    ) -> Request | None:
        """A request for one page of ``seed``'s site, or None past the site's limits."""
        if url in self.seen or depth > self.max_depth:
            return None
        if self.scheduled[seed.key] >= self.max_pages:
            self.crawler.stats.inc_value("hijackwatch/pages_over_limit")
            return None
        self.seen.add(url)
        self.scheduled[seed.key] += 1
        return Request(
            url,
            callback=self.parse_page,
            errback=self.page_failed,
            priority=priority,
            meta={"hw_site": seed.key, "hw_seed": seed, "hw_depth": depth, "hw_profile": BASELINE},
        )

    async def start(self) -> AsyncIterator[Request]:
        sites = list(sites_of(self.seeds).values())
        self.crawler.stats.set_value("hijackwatch/sites_total", len(sites))
        if self.recheck_db is None:
            logger.debug("storage is off: open incidents are not rechecked")
        for batch in chunks(sites):
            rechecks = await self.open_incident_urls([starts[0].key for starts in batch])
            for starts in batch:
                seed = starts[0]  # the site's first entry: its robots.txt and sitemaps
                for start in starts:
                    request = self.page_request(start, start.url, 0, priority=100)
                    if request is not None:
                        yield request
                for request in self.recheck_requests(seed, rechecks.get(seed.key, ())):
                    yield request
                parts = urlsplit(seed.url)
                root = f"{parts.scheme}://{parts.netloc}"
                # optional files: no retries, failures are noted at debug level (aux_failed)
                meta = {"hw_site": seed.key, "hw_seed": seed, "dont_retry": True}
                self.sitemaps_of(seed).pending += 1
                yield Request(
                    f"{root}/robots.txt",
                    callback=self.parse_robots,
                    errback=self.aux_failed,
                    meta=meta,
                    priority=90,
                    dont_filter=True,
                )
                sitemap = self.sitemap_request(seed, f"{root}/sitemap.xml")
                if sitemap is not None:
                    yield sitemap

    async def open_incident_urls(self, site_keys: list[str]) -> dict[str, list[str]]:
        """The open page incidents of these sites in the crawl's database, {} when it
        cannot tell: the crawl runs without them (the storage pipeline reports database
        trouble itself), after one warning."""
        db_url = self.recheck_db
        if db_url is None or self.recheck_max <= 0:
            return {}
        read = functools.partial(read_open_incidents, db_url, site_keys, self.recheck_max)
        try:
            return await await_with_deadline(read, self.db_timeout, db_url)
        except Exception as exc:
            self.recheck_db = None  # one warning, not one per batch of seeds
            logger.warning("open incidents not rechecked: %s", db_error(db_url, exc, "read"))
            return {}

    def recheck_requests(self, seed: Seed, urls: Iterable[str]) -> Iterator[Request]:
        """Requests for the open page incidents of ``seed``'s site, like pages it links."""
        for stored in urls:
            url = _clean_link(stored, stored)
            key = site_key(url) if url else None
            if url is None or key is None or not same_site(seed.key, key):
                continue  # the seed has changed since (its port, say): stay within the site
            request = self.page_request(seed, url, 1, priority=50)
            if request is not None:
                request.meta["hw_recheck"] = True  # every visitor profile fetches it too
                self.crawler.stats.inc_value("hijackwatch/rechecked_urls")
                yield request

    def sitemap_request(self, seed: Seed, url: str) -> Request | None:
        """A request for one sitemap (or sitemap index) of ``seed``'s site, None for one
        already requested or past the site's ``HIJACKWATCH_MAX_SITEMAPS``: nested indexes
        that list each other, or an endless chain of them, stay bounded."""
        state = self.sitemaps_of(seed)
        if url in self.sitemaps_seen or state.requested >= self.max_sitemaps:
            return None
        self.sitemaps_seen.add(url)
        state.requested += 1
        state.pending += 1
        return Request(
            url,
            callback=self.parse_sitemap,
            errback=self.aux_failed,
            priority=90,
            meta={"hw_site": seed.key, "hw_seed": seed, "dont_retry": True},
            dont_filter=True,  # sitemaps_seen deduplicates; a page's URL may be one
        )

    # --- sharing the budget among sitemaps and links --------------------------------
    @property
    def link_share(self) -> int:
        """The part of a site's budget links keep (the homepage and rechecks included)."""
        return self.max_pages - self.max_pages // 2

    def sitemaps_of(self, seed: Seed) -> SiteSitemaps:
        state = self.sitemaps.get(seed.key)
        if state is None:
            state = self.sitemaps[seed.key] = SiteSitemaps(seed)
        return state

    def sitemap_answered(self, site: str) -> Iterator[Request]:
        """One robots.txt or sitemap fetch of ``site`` is over; the last one settles it."""
        state = self.sitemaps.get(site)
        if state is None or state.settled:
            return
        state.pending -= 1
        if state.pending <= 0:
            yield from self.settle(state)

    def settle(self, state: SiteSitemaps) -> list[Request]:
        """All of the site's sitemaps are read: request their URLs within the sitemaps'
        half of the budget (the links' half stays theirs even when the homepage has not
        answered yet), then the links held back meanwhile.

        A list, made at once: as a generator Scrapy would pull it between other
        callbacks, and a sitemap read meanwhile would land in queues this rewrites."""
        state.settled = True
        key = state.seed.key
        room = self.max_pages - max(self.scheduled[key], self.link_share)
        requests = self.draw(state, self.scheduled[key] + room)
        for url, depth in state.held.items():
            request = self.page_request(state.seed, url, depth)
            if request is not None:
                requests.append(request)
        state.held.clear()
        # what waits for the idle round is kept to what it could use (memory)
        left = self.max_pages - self.scheduled[key]
        shares = round_robin_shares([len(queue) for queue in state.queues], left)
        for queue, share in zip(state.queues, shares, strict=True):
            # twice the share: URLs fetched as links meanwhile are skipped for free
            while len(queue) > 2 * share:
                queue.pop()
        state.queues[:] = [queue for queue in state.queues if queue]
        return requests

    def draw(self, state: SiteSitemaps, until: int) -> list[Request]:
        """Sitemap URLs, one from each sitemap in turn (newest first within each), while
        the site has fewer than ``until`` pages scheduled (a list, as settle's)."""
        seed, turns = state.seed, deque(queue for queue in state.queues if queue)
        requests = []
        while turns and self.scheduled[seed.key] < until:
            queue = turns.popleft()
            request = self.page_request(seed, queue.popleft(), 1, priority=50)
            if request is not None:
                requests.append(request)
            if queue:
                turns.append(queue)
        state.queues[:] = turns
        return requests

    def settle_waiting_sites(self) -> None:
        """On ``spider_idle``, every site's links have run out: sitemap URLs left over
        take what remains of the budget. A site whose sitemap fetch was dropped without
        a callback (it would wait for ever) is settled with what it has read."""
        requests: list[Request] = []
        for state in self.sitemaps.values():
            if not state.settled:
                requests += self.settle(state)
            elif state.queues:
                requests += self.draw(state, self.max_pages)
                if self.scheduled[state.seed.key] >= self.max_pages:
                    left = sum(len(queue) for queue in state.queues)
                    self.crawler.stats.inc_value("hijackwatch/pages_over_limit", left)
                    state.queues.clear()
        for request in requests:
            self.crawler.engine.crawl(request)
        if requests:
            raise DontCloseSpider

    # --- callbacks -------------------------------------------------------------------
    def parse_robots(self, response: Response) -> Iterable[Request]:
        yield from self._robots_sitemaps(response)
        yield from self.sitemap_answered(response.meta["hw_site"])

    def _robots_sitemaps(self, response: Response) -> Iterable[Request]:
        seed: Seed = response.meta["hw_seed"]
        if response.status != 200 or not isinstance(response, TextResponse):
            return
        for loc in sitemap_urls_from_robots(response.body, base_url=response.url):
            url = _sitemap_link(response.url, loc)
            key = site_key(url) if url else None
            if url and key and same_site(seed.key, key):
                request = self.sitemap_request(seed, url)
                if request is not None:
                    yield request

    def parse_sitemap(self, response: Response) -> Iterable[Request]:
        yield from self._read_sitemap(response)
        yield from self.sitemap_answered(response.meta["hw_site"])

    def _read_sitemap(self, response: Response) -> Iterable[Request]:
        """An index's child sitemaps are requested; a urlset's pages wait in its queue."""
        seed: Seed = response.meta["hw_seed"]
        if response.status != 200:
            return
        body = self._sitemap_body(response)
        if body is None:
            return
        try:
            sitemap = Sitemap(body)
        except Exception:  # lxml raises a zoo of errors on garbage; the page is just not a sitemap
            logger.info("not a sitemap: %s", response.url)
            return
        index = sitemap.type == "sitemapindex"
        entries: list[tuple[str, int, str]] = []  # (lastmod, position, URL)
        for entry in sitemap:
            loc = entry.get("loc")
            # an index lists sitemaps (post-sitemap.xml, pages.xml.gz); a urlset lists
            # pages, where .xml and .gz are files, not pages
            url = (_sitemap_link if index else _clean_link)(response.url, loc) if loc else None
            key = site_key(url) if url else None
            if not url or not key or not same_site(seed.key, key):
                continue
            entries.append((str(entry.get("lastmod") or ""), len(entries), url))
        # newest first (ISO 8601 dates sort as text), undated last, the later in the file
        # first among equals; no sitemap can use more than the site's page budget
        cap = self.max_sitemaps if index else self.max_pages
        best = [url for _, _, url in heapq.nlargest(cap, entries)]
        if index:
            for url in best:
                request = self.sitemap_request(seed, url)
                if request is not None:
                    yield request
            return
        self.crawler.stats.inc_value("hijackwatch/sitemap_urls", len(entries))
        state = self.sitemaps_of(seed)
        if best:
            state.queues.append(deque(best))
        if state.settled:  # read after the site settled (the idle fallback): at once
            yield from self.draw(state, self.max_pages)

    def _sitemap_body(self, response: Response) -> bytes | None:
        body = response.body
        # by the gzip magic number, not the name: a .xml.gz sent with Content-Encoding: gzip
        # arrives decompressed (HttpCompressionMiddleware)
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip(body, max_size=self.sitemap_max_bytes)
            except Exception as exc:  # bad or oversized gzip stream
                logger.warning("sitemap %s unreadable: %s", response.url, exc)
                return None
        head = body[:4096]
        if (
            isinstance(response, HtmlResponse)
            and b"<urlset" not in head
            and b"<sitemapindex" not in head
        ):
            return None  # an HTML page (a soft 404) at the sitemap's URL
        return body

    def parse_page(self, response: Response) -> Iterable[PageItem | Request]:
        meta = response.meta
        seed: Seed = meta["hw_seed"]
        content_type = response.headers.get(b"Content-Type", b"") or b""
        redirect_target = meta.get("hw_offsite_redirect")
        mime = content_type.split(b";")[0].strip().lower()
        is_html = isinstance(response, HtmlResponse) or mime in _HTML_TYPES
        profile = meta.get("hw_profile", BASELINE)
        depth = meta.get("hw_depth", 0)
        # a profile view is of a page the browser got as HTML: whatever this visitor got
        # instead (plain-text spam for crawlers, a download) is evidence and keeps its row;
        # so is a start page's answer, whatever its type: a site that answers everything
        # with a download or plain text must still get a row in this run (detection
        # decides whether it is text to analyse), or its last run's verdict would stand
        start = depth == 0 and 200 <= response.status < 300 and not redirect_target
        keep = is_html or start or (profile != BASELINE and not redirect_target)
        if not keep and not redirect_target and 200 <= response.status < 300:
            self.crawler.stats.inc_value("hijackwatch/non_html_skipped")
            return
        # an error answer (503 text/plain, a JSON 403) is not a page but a fact about the
        # site, down or blocking us: its row keeps the status, with nothing to analyse
        digest = body_digest(response) if is_html and not redirect_target else None
        yield PageItem(
            url=meta.get("redirect_urls", [response.url])[0],
            site=seed.key,
            profile=profile,
            final_url=redirect_target or response.url,
            status=response.status,
            depth=depth,
            content_type=content_type.decode("latin-1")[:200] or None,
            fetched_at=datetime.now(UTC),
            # an off-site redirect has nothing to analyse: the hop itself is the evidence
            body=response.body if keep and not redirect_target else None,
            encoding=getattr(response, "encoding", None),
            body_digest=digest,
            # browsers follow an HTTP Refresh: header like <meta http-equiv=refresh>
            refresh=(response.headers.get(b"Refresh") or b"").decode("latin-1")[:2000] or None,
            referer=(response.request.headers.get(b"Referer") or b"").decode("latin-1") or None
            if response.request
            else None,
        )
        if digest is None or self._links_followed(response.url, digest):
            return
        yield from self.follow_links(response, seed, depth + 1)

    def _links_followed(self, url: str, digest: bytes) -> bool:
        """Whether the links of this very text at this URL were already followed.

        Every visitor profile fetches the page again, and most sites send them all the
        same bytes; a view that differs (cloaking) still has its own links followed.
        """
        if (url, digest) in self.followed:
            self.crawler.stats.inc_value("hijackwatch/links_already_followed")
            return True
        self.followed[url, digest] = None
        return False

    def follow_links(self, response: Response, seed: Seed, depth: int) -> Iterable[Request]:
        if depth > self.max_depth or self.scheduled[seed.key] >= self.max_pages:
            return
        # Scrapy consumes this generator lazily, interleaved with other callbacks: the
        # site may settle while it is suspended, so whether to hold a link is asked anew
        # for each (a link held after settling would wait for nothing)
        state = self.sitemaps.get(seed.key)
        assert isinstance(response, TextResponse)
        try:
            # lxml's own XPath on parsel's tree: plain strings, no Selector per link
            hrefs = _LINKS(response.selector.root)
        except (ValueError, TypeError, etree.XPathError):  # parsel refused the document
            return
        base = response.url
        origin = origin_of(base)
        seen = self.seen
        for href in dict.fromkeys(hrefs):  # menus repeat links: each distinct one once
            url = _clean_link(base, href, origin)
            if url is None or url in seen:
                continue
            key = site_key(url)
            if key is None or not same_site(seed.key, key):
                continue
            # while its sitemaps are read, links leave half of the budget to them
            if (
                state is not None
                and not state.settled
                and self.scheduled[seed.key] >= self.link_share
            ):
                if url not in state.held and len(state.held) < self.max_pages:
                    state.held[url] = depth
                continue
            request = self.page_request(seed, url, depth)
            if request is not None:
                yield request

    def page_failed(self, failure: Failure) -> Iterable[PageItem]:
        request = failure.request  # type: ignore[attr-defined]
        seed: Seed = request.meta["hw_seed"]
        reason = failure.getErrorMessage() or failure.type.__name__
        error = f"{failure.type.__name__}: {reason}"[:500]
        # after redirects the row is the linked URL's (as for a page that loads), and
        # final_url the hop the fetch failed at
        url = request.meta.get("redirect_urls", [request.url])[0]
        logger.info("fetch failed %s: %s", url, error)
        self.crawler.stats.inc_value("hijackwatch/fetch_errors")
        yield PageItem(
            url=url,
            site=seed.key,
            profile=request.meta.get("hw_profile", BASELINE),
            final_url=request.url if request.url != url else None,
            depth=request.meta.get("hw_depth", 0),
            fetched_at=datetime.now(UTC),
            error=error,
            verdict="error",
        )

    def aux_failed(self, failure: Failure) -> Iterable[Request]:
        """robots.txt and sitemaps are optional: a failure is noted, never fatal."""
        request = failure.request  # type: ignore[attr-defined]
        logger.debug("optional fetch failed %s: %s", request.url, failure.getErrorMessage())
        return list(self.sitemap_answered(request.meta["hw_site"]))
