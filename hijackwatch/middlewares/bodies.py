"""Bounded page bodies that are cut, never dropped: padding must not hide a page.

Scrapy drops a response whose body (as sent, or after its Content-Encoding is undone)
is larger than ``DOWNLOAD_MAXSIZE``: the page becomes an ``error`` row, so a hijacker
who pads the spam page with 10 MB of whitespace (13 KB of gzip on the wire) hides it.
Search engines index the first ~15 MB of a page. Here a page view (a request with
``meta["hw_profile"]``, whatever its profile) is cut at the limit instead and the cut
body is analysed; nothing past the limit plus one chunk is ever received or
decompressed. Other fetches (robots.txt, sitemaps, external scripts) keep Scrapy's
rule. A body cut here (flag ``truncated``) or by a connection that closed before its
Content-Length's bytes arrived (``DOWNLOAD_FAIL_ON_DATALOSS = False``: flag
``dataloss``) gets a ``partial_body`` note among its page row's findings (no points:
the verdict is the analysis's).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import StopDownload

from hijackwatch.compression import decode_bounded
from hijackwatch.detect import Finding
from hijackwatch.items import PageItem
from hijackwatch.profiles import PARTIAL_BODY, cut_note

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

BODY_LIMIT = "hw_body_limit"  # meta: the bound a page view's body is cut at
RECEIVED = "hw_body_received"  # meta: bytes of the body received so far
TRUNCATED = "truncated"  # response flag: the body was cut at BODY_LIMIT
DATALOSS = "dataloss"  # Scrapy's flag: the connection closed before the body was complete


class BoundedCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's HttpCompressionMiddleware, but a page view over the limit is cut, not
    dropped (module docstring); replaces it in ``DOWNLOADER_MIDDLEWARES``.

    A page view's download is unbounded for Scrapy's download handler (which would
    abort it, Content-Length first) and stopped here instead, by the ``bytes_received``
    signal, once it passes the limit (``StopDownload(fail=False)`` keeps what arrived).
    """

    def __init__(self, *, crawler: Crawler) -> None:  # built by Scrapy's from_crawler
        super().__init__(crawler=crawler)
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)
        self._cutting = False  # in a page view's process_response (synchronous)
        self._cut = False  # a decoding step in it was cut

    def process_request(self, request: Request) -> None:
        super().process_request(request)
        meta = request.meta
        if "hw_profile" not in meta:
            return
        # a redirect's or retry's request inherits the meta: the bound is kept, the count
        # starts again
        meta.setdefault(BODY_LIMIT, meta.get("download_maxsize", self._max_size))
        meta["download_maxsize"] = 0
        meta[RECEIVED] = 0

    def bytes_received(self, data: bytes, request: Request) -> None:
        limit = request.meta.get(BODY_LIMIT)
        if not limit:
            return
        received = request.meta[RECEIVED] = request.meta.get(RECEIVED, 0) + len(data)
        if received > limit:
            raise StopDownload(fail=False)

    def process_response(self, request: Request, response: Response) -> Response | Request:
        limit = request.meta.get(BODY_LIMIT)
        if limit is None:
            return super().process_response(request, response)
        request.meta["download_maxsize"] = limit  # the download is over: decoding's bound
        cut = bool(limit) and len(response.body) > limit
        if cut:
            response = response.replace(body=response.body[:limit])
        self._cutting, self._cut = True, False
        try:
            response = super().process_response(request, response)
        finally:
            self._cutting = False
        if cut or self._cut:
            response.flags.append(TRUNCATED)
            self.stats.inc_value("hijackwatch/bodies_truncated")
            logger.info(
                "%s: body longer than %d bytes%s: the first %d analysed",
                response.url,
                limit,
                " after decompression" if self._cut else "",
                limit,
            )
        if DATALOSS in response.flags:
            self.stats.inc_value("hijackwatch/bodies_incomplete")
        return response

    def _decode(self, body: bytes, encoding: bytes, max_size: int) -> bytes:  # type: ignore[override]
        if not self._cutting:
            return HttpCompressionMiddleware._decode(body, encoding, max_size)
        body, cut = decode_bounded(body, encoding, max_size)
        self._cut = self._cut or cut
        return body


def partial_body_note(response: Response) -> Finding | None:
    """The ``partial_body`` note for a response cut short, or None for a whole one."""
    if TRUNCATED in response.flags:
        return cut_note(response.meta.get(BODY_LIMIT))
    if DATALOSS in response.flags:
        why = (
            f"the connection closed before the Content-Length's bytes arrived: the "
            f"{len(response.body)} received"
        )
    else:
        return None
    return Finding(PARTIAL_BODY, "low", f"{why} were analysed", points=0.0)


class PartialBodyMiddleware:
    """Spider middleware: the page item of a response cut short carries the note."""

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        note = partial_body_note(response)
        async for out in result:
            if note is not None and isinstance(out, PageItem) and out.body is not None:
                out.findings.append(note)
            yield out
