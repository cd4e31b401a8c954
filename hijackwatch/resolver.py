"""The crawl's DNS resolver: IPv4 and IPv6, each lookup bounded by ``DNS_TIMEOUT``.

Scrapy's default ``TWISTED_DNS_RESOLVER`` (``CachingThreadedResolver``) is IPv4 only: an
``http://[::1]:8086/`` seed, or a host with only AAAA records, failed with "no results
for hostname lookup". Its IPv6-capable ``CachingHostnameResolver`` (getaddrinfo) has no
timeout at all, so a stalled lookup would hold a request until ``DOWNLOAD_TIMEOUT``;
this one ends the lookup after ``DNS_TIMEOUT`` seconds, like the default did.
The loopback-only guard (``HIJACKWATCH_LOOPBACK_ONLY``) runs before any lookup, in
``SiteBoundaryMiddleware``, and reads the URL's host: IPv6 literals included.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.resolver import CachingHostnameResolver, dnscache
from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from zope.interface import implementer

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Self

    from scrapy.crawler import Crawler
    from twisted.internet.base import ReactorBase
    from twisted.internet.interfaces import IAddress, IDelayedCall, IHostResolution

logger = logging.getLogger(__name__)


@implementer(IResolutionReceiver)
class _Deadline:
    """Passes a lookup's results on, or ends it empty-handed when time is up (the
    connection then fails with Twisted's DNSLookupError); late results are dropped."""

    def __init__(
        self, receiver: IResolutionReceiver, reactor: Any, timeout: float, name: str
    ) -> None:
        self.receiver = receiver
        self.reactor = reactor
        self.timeout = timeout
        self.name = name
        self.over = False
        self.timer: IDelayedCall | None = None

    def resolutionBegan(self, resolution: IHostResolution) -> None:
        self.receiver.resolutionBegan(resolution)
        self.timer = self.reactor.callLater(self.timeout, self._expire)

    def addressResolved(self, address: IAddress) -> None:
        if not self.over:
            self.receiver.addressResolved(address)

    def resolutionComplete(self) -> None:
        if self.over:
            return
        self.over = True
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.receiver.resolutionComplete()

    def _expire(self) -> None:
        if self.over:
            return
        self.over = True
        logger.info("DNS lookup of %s took more than DNS_TIMEOUT (%gs)", self.name, self.timeout)
        self.receiver.resolutionComplete()


@implementer(IHostnameResolver)
class TimedHostnameResolver(CachingHostnameResolver):
    """Scrapy's caching getaddrinfo resolver (IPv4 and IPv6) with ``DNS_TIMEOUT``."""

    def __init__(self, reactor: ReactorBase, cache_size: int, timeout: float = 0.0) -> None:
        super().__init__(reactor, cache_size)
        self.timeout = timeout  # 0: no limit

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        resolver = super().from_crawler(crawler, reactor)  # its DNS cache settings
        resolver.timeout = crawler.settings.getfloat("DNS_TIMEOUT")
        return resolver

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> IHostResolution:
        if self.timeout > 0 and hostName not in dnscache:
            resolutionReceiver = _Deadline(resolutionReceiver, self.reactor, self.timeout, hostName)
        return super().resolveHostName(
            resolutionReceiver, hostName, portNumber, addressTypes, transportSemantics
        )
