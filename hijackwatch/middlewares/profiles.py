"""ProfilesMiddleware: fetch crawled pages again as search-engine crawlers and search visitors.

``HIJACKWATCH_PROFILE_MODE``:

- ``all`` (default): every HTML page is fetched once per profile;
- ``sample``: the homepage and ``HIJACKWATCH_PROFILE_SAMPLE`` further pages per site
  (the first ones the breadth-first crawl reaches) here, plus every page whose
  browser view comes out of detection suspicious: detection runs in the item
  pipelines, after spider middlewares, so CloakingPipeline schedules those through
  ``ProfilePlan.schedule`` (``crawler.engine.crawl``) once the verdict is known;
- ``off``: no profile fetches (NotConfigured).

The plan is shared by the middleware and CloakingPipeline (one per crawler), so the
pipeline knows which profile views of a URL are still to come.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar
from weakref import WeakKeyDictionary

from scrapy import Request
from scrapy.exceptions import NotConfigured

from hijackwatch.items import PageItem
from hijackwatch.middlewares.followup import FollowUpMiddleware
from hijackwatch.profiles import BASELINE, Profile, parse_profiles

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

MODES = ("all", "sample", "off")
PROFILE_PRIORITY_BOOST = 10  # profile views soon after the baseline: its summary is evicted sooner


def profile_mode(crawler: Crawler) -> str:
    mode = str(crawler.settings.get("HIJACKWATCH_PROFILE_MODE", "all") or "off").strip().lower()
    if mode not in MODES:
        raise ValueError(f"HIJACKWATCH_PROFILE_MODE must be one of {MODES}, got {mode!r}")
    return mode


class ProfilePlan:
    """Which profile fetches the crawl makes, and which of them are still outstanding."""

    _plans: ClassVar[WeakKeyDictionary[Crawler, ProfilePlan]] = WeakKeyDictionary()

    def __init__(self, crawler: Crawler, profiles: list[Profile], mode: str, sample: int) -> None:
        self.crawler = crawler
        self.profiles = [p for p in profiles if not p.is_baseline]
        self.by_name = {p.name: p for p in profiles}
        self.mode = mode
        self.sample = max(0, sample)
        self.sampled: Counter[str] = Counter()  # site -> non-home pages profiled by sampling
        self.expected: dict[str, set[str]] = {}  # url -> profile views still to come
        self.seeds: dict[str, Any] = {}  # site key -> Seed, for requests scheduled later

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> ProfilePlan:
        plan = cls._plans.get(crawler)
        if plan is None:
            s = crawler.settings
            try:
                profiles = parse_profiles(s.get("HIJACKWATCH_PROFILES"))
            except ValueError as exc:
                raise ValueError(f"HIJACKWATCH_PROFILES: {exc}") from None
            plan = cls(
                crawler, profiles, profile_mode(crawler), s.getint("HIJACKWATCH_PROFILE_SAMPLE", 5)
            )
            cls._plans[crawler] = plan
        return plan

    @property
    def active(self) -> bool:
        return self.mode != "off" and bool(self.profiles)

    def expects(self, url: str) -> bool:
        return url in self.expected

    def arrived(self, url: str, profile: str) -> bool:
        """Note one profile view of ``url``; True when none is outstanding any more."""
        pending = self.expected.get(url)
        if pending is None:
            return True
        pending.discard(profile)
        if not pending:
            del self.expected[url]
            return True
        return False

    def wants(self, item: PageItem, seed: Any) -> bool:
        """Decide, at the baseline fetch, whether this page gets profile fetches now."""
        if self.mode == "all":
            return True
        if self.mode != "sample":
            return False
        if item.depth == 0 or item.url == getattr(seed, "url", None):
            return True
        if self.sampled[item.site] < self.sample:
            self.sampled[item.site] += 1
            return True
        return False

    def requests(self, item: PageItem, seed: Any, priority: int = 0) -> list[Request]:
        """One request per profile for ``item``'s URL; registers them as outstanding."""
        spider = self.crawler.spider
        assert spider is not None
        self.expected[item.url] = {p.name for p in self.profiles}
        out = []
        for profile in self.profiles:
            out.append(
                Request(
                    item.url,
                    callback=spider.parse_page,
                    errback=spider.page_failed,
                    headers=profile.headers_for(item.url),
                    priority=priority + PROFILE_PRIORITY_BOOST,
                    dont_filter=True,
                    meta={
                        "hw_site": item.site,
                        "hw_seed": seed,
                        "hw_depth": item.depth,
                        "hw_profile": profile.name,
                    },
                )
            )
        self.crawler.stats.inc_value("hijackwatch/profile_requests", len(out))
        return out

    def schedule(self, item: PageItem, reason: str) -> bool:
        """Profile fetches for a page found suspicious after the fact (sample mode)."""
        seed = self.seeds.get(item.site)
        if not self.active or item.url in self.expected or seed is None:
            return False
        engine = self.crawler.engine
        assert engine is not None
        for request in self.requests(item, seed, priority=100):
            engine.crawl(request)
        self.crawler.stats.inc_value("hijackwatch/profile_pages_suspicious")
        logger.debug("profile fetches for %s (%s)", item.url, reason)
        return True


class ProfilesMiddleware(FollowUpMiddleware):
    """Spider middleware: after each baseline page item, the other profiles' requests."""

    def __init__(self, plan: ProfilePlan) -> None:
        self.plan = plan

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        # switched off by a setting: a bare NotConfigured, so Scrapy logs no warning
        if profile_mode(crawler) == "off":
            raise NotConfigured
        plan = ProfilePlan.for_crawler(crawler)
        if not plan.active:  # HIJACKWATCH_PROFILES lists no profile besides browser
            raise NotConfigured
        return cls(plan)

    def follow_up(self, response: Response, out: Any) -> list[Request]:
        if not isinstance(out, PageItem) or out.profile != BASELINE:
            return []
        if out.body is None or out.error is not None:
            return []
        seed = response.meta.get("hw_seed")
        if seed is None:
            return []
        self.plan.seeds.setdefault(out.site, seed)
        # an open incident rechecked: its verdict decides the incident, and cloaking
        # shows only to the other profiles, so they always fetch it
        if not response.meta.get("hw_recheck") and not self.plan.wants(out, seed):
            return []
        return self.plan.requests(out, seed, response.request.priority if response.request else 0)
