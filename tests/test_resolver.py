"""The crawl's resolver keeps DNS_TIMEOUT (Scrapy's IPv6-capable one has none)."""

from __future__ import annotations

from typing import Any

from scrapy.resolver import HostResolution, dnscache
from scrapy.utils.test import get_crawler
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock

from hijackwatch.resolver import TimedHostnameResolver


class _SlowDNS:
    """A name server that answers only when the test says so."""

    def __init__(self) -> None:
        self.waiting: list[Any] = []

    def resolveHostName(self, receiver: Any, name: str, *args: Any) -> Any:
        receiver.resolutionBegan(HostResolution(name))
        self.waiting.append(receiver)
        return receiver

    def answer(self, address: str) -> None:
        for receiver in self.waiting:
            receiver.addressResolved(IPv4Address("TCP", address, 0))
            receiver.resolutionComplete()


class _Reactor(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.nameResolver = _SlowDNS()


class _Receiver:
    def __init__(self) -> None:
        self.addresses: list[Any] = []
        self.completed = 0

    def resolutionBegan(self, resolution: Any) -> None:
        pass

    def addressResolved(self, address: Any) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        self.completed += 1


def test_a_lookup_ends_empty_after_dns_timeout_and_late_answers_are_dropped() -> None:
    reactor = _Reactor()
    crawler = get_crawler(settings_dict={"DNS_TIMEOUT": 15})
    resolver = TimedHostnameResolver.from_crawler(crawler, reactor)
    slow, fast = _Receiver(), _Receiver()
    resolver.resolveHostName(slow, "slow.example", 80)
    reactor.advance(14.9)
    assert slow.completed == 0
    reactor.advance(0.2)
    assert (slow.completed, slow.addresses) == (1, [])  # Twisted: DNSLookupError
    reactor.nameResolver.answer("192.0.2.1")  # the answer arrives too late
    assert (slow.completed, slow.addresses) == (1, [])
    # ...but is cached: the next lookup of the name is answered at once
    resolver.resolveHostName(fast, "slow.example", 443)
    assert fast.completed == 1 and [a.port for a in fast.addresses] == [443]
    dnscache.pop("slow.example", None)


def test_an_answer_in_time_cancels_the_deadline() -> None:
    reactor = _Reactor()
    resolver = TimedHostnameResolver.from_crawler(get_crawler(), reactor)
    receiver = _Receiver()
    resolver.resolveHostName(receiver, "quick.example", 80)
    reactor.nameResolver.answer("192.0.2.2")
    assert receiver.completed == 1 and len(receiver.addresses) == 1
    assert reactor.getDelayedCalls() == []
    dnscache.pop("quick.example", None)


def test_the_crawl_uses_it() -> None:
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("hijackwatch.settings", priority="project")
    assert settings.get("TWISTED_DNS_RESOLVER") == "hijackwatch.resolver.TimedHostnameResolver"
    assert settings.getfloat("DNS_TIMEOUT") > 0
