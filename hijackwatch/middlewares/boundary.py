"""Keep every crawl request on the site it belongs to, redirects included."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin, urlsplit

from scrapy.exceptions import IgnoreRequest
from w3lib.url import safe_url_string

from hijackwatch.detect.text import ascii_url
from hijackwatch.profiles import REDIRECT_STATUSES
from hijackwatch.seeds import is_loopback, same_site, site_key

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

HOP_CHARS = 80  # of each URL in a redirect failure's chain (the row's error keeps 500)


def _chain(urls: list[str]) -> str:
    return " -> ".join(u if len(u) <= HOP_CHARS else f"{u[: HOP_CHARS - 3]}..." for u in urls)


def _same_page(url: str) -> str:
    """What makes two hops one page: the URL as requested, without its fragment (never
    sent). Not canonicalize_url: a redirect that only reorders the query is a new URL
    to the server, and browsers follow it."""
    return safe_url_string(urldefrag(url)[0])


class SiteBoundaryMiddleware:
    """Stops redirects that leave the site and records where they pointed.

    A hijacked site often redirects (some) visitors to a casino: that target is
    evidence for the page, but the crawler must never go and crawl it. A redirect
    on the site is followed, but never back to a URL of its own chain (a loop) nor
    past ``REDIRECT_MAX_TIMES`` hops: both fail the request with the chain in the
    error, so the spider's errback stores a row for the linked URL. Requests
    tagged ``meta["hw_site"]`` (all page requests) stay within that site;
    ``meta["hw_any_host"]`` marks deliberate fetches elsewhere (external scripts).

    ``HIJACKWATCH_LOOPBACK_ONLY`` (tests, benchmarks, the demo) drops every request
    to a host that is not a loopback address before any DNS lookup, so a page that
    references the real internet can never make the crawl leave the machine.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.loopback_only = crawler.settings.getbool("HIJACKWATCH_LOOPBACK_ONLY")
        self.follows_redirects = crawler.settings.getbool("REDIRECT_ENABLED")
        self.max_redirects = crawler.settings.getint("REDIRECT_MAX_TIMES")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if self.loopback_only and not is_loopback(request.url):
            self.stats.inc_value("hijackwatch/non_loopback_dropped")
            raise IgnoreRequest(f"{request.url} is not on a loopback address (LOOPBACK_ONLY)")
        site = request.meta.get("hw_site")
        if not site or request.meta.get("hw_any_host"):
            return
        key = site_key(request.url)
        if key is None or not same_site(site, key):
            self.stats.inc_value("hijackwatch/offsite_requests_dropped")
            raise IgnoreRequest(f"off-site request {request.url} dropped (site {site})")

    def process_response(self, request: Request, response: Response) -> Response:
        site = request.meta.get("hw_site")
        if not site or request.meta.get("hw_any_host") or response.status not in REDIRECT_STATUSES:
            return response
        location = response.headers.get(b"Location")
        if not location:
            return response
        written = _header_text(location).strip()
        try:
            target = _redirect_target(request.url, written)
            spelled = ascii_url(target)
        except (UnicodeError, ValueError):  # a host no browser could reach: not followed
            target, spelled = written, None
        key = site_key(target) if spelled is not None else None
        if spelled is not None and key is not None and same_site(site, key):
            self._check_hop(request, target)
            if spelled != target:
                # Scrapy would spell a Unicode host with IDNA 2003 (faß.de -> fass.de,
                # another site): the next hop goes where a browser goes
                response.headers[b"Location"] = spelled.encode("utf-8")
            return response
        # Hand the 3xx to the spider as a page: RedirectMiddleware honours dont_redirect.
        request.meta["dont_redirect"] = True
        request.meta["hw_offsite_redirect"] = target
        self.stats.inc_value("hijackwatch/offsite_redirects")
        logger.debug("off-site redirect %s -> %s recorded, not followed", request.url, target)
        return response

    def _check_hop(self, request: Request, target: str) -> None:
        """Fail a redirect that loops or runs too long; let any other hop through the
        dupefilter.

        Scrapy's dupefilter silently drops a hop to a URL already requested (the loop's
        way back, or a page another link reached first): the linked URL would get no
        row at all. Hops are therefore not filtered, which makes this check what stops
        loops.
        """
        if not self.follows_redirects or request.meta.get("dont_redirect"):
            return  # the 3xx itself is the page
        chain = [*request.meta.get("redirect_urls", ()), request.url]
        seen = {_same_page(url) for url in chain}
        if _same_page(target) in seen:
            self.stats.inc_value("hijackwatch/redirect_loops")
            raise IgnoreRequest(f"redirect loop: {_chain([*chain, target])}")
        if self.max_redirects and request.meta.get("redirect_times", 0) >= self.max_redirects:
            self.stats.inc_value("hijackwatch/redirect_chains_too_long")
            raise IgnoreRequest(
                f"too many redirects (over {self.max_redirects}): {_chain([*chain, target])}"
            )
        # RedirectMiddleware copies dont_filter from this request to the next hop's
        request.dont_filter = True


def _header_text(value: bytes) -> str:
    """A header as text: UTF-8 as servers send it today, else Latin-1 (HTTP's old rule)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _redirect_target(url: str, location: str) -> str:
    """Where a redirect goes, as Scrapy's RedirectMiddleware follows it: a Location
    starting with ``//`` (``///evil.example/p`` too) names a host, not a path."""
    if location.startswith("//"):
        return f"{urlsplit(url).scheme}://{location.lstrip('/')}"
    return urljoin(url, location)
