"""Keep every crawl request on the site it belongs to, redirects included."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from scrapy.exceptions import IgnoreRequest

from hijackwatch.seeds import is_loopback, same_site, site_key

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class SiteBoundaryMiddleware:
    """Stops redirects that leave the site and records where they pointed.

    A hijacked site often redirects (some) visitors to a casino: that target is
    evidence for the page, but the crawler must never go and crawl it. Requests
    tagged ``meta["hw_site"]`` (all page requests) stay within that site;
    ``meta["hw_any_host"]`` marks deliberate fetches elsewhere (external scripts).

    ``HIJACKWATCH_LOOPBACK_ONLY`` (tests, benchmarks, the demo) drops every request
    to a host that is not a loopback address before any DNS lookup, so a page that
    references the real internet can never make the crawl leave the machine.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.loopback_only = crawler.settings.getbool("HIJACKWATCH_LOOPBACK_ONLY")

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
        target = urljoin(request.url, location.decode("latin-1").strip())
        key = site_key(target)
        if key is not None and same_site(site, key):
            return response
        # Hand the 3xx to the spider as a page: RedirectMiddleware honours dont_redirect.
        request.meta["dont_redirect"] = True
        request.meta["hw_offsite_redirect"] = target
        self.stats.inc_value("hijackwatch/offsite_redirects")
        logger.debug("off-site redirect %s -> %s recorded, not followed", request.url, target)
        return response
