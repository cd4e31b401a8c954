"""CloakingPipeline: compare each profile's view of a page with the browser's view.

Runs after DetectionPipeline (which gives every view its ``ViewSummary``) and before
storage. For one URL in one run:

- the browser (baseline) view's summary and final URL are kept in memory only while
  other profiles' views of that URL are still expected, then evicted;
- a profile view that arrives before its baseline waits for it, at most
  ``HIJACKWATCH_CLOAKING_WAIT`` s (then it is stored without comparison);
- findings (``ua_cloaking`` / ``referer_cloaking``, evidence naming both views) go on
  the profile view's item, whose score and verdict are recomputed;
- every view first collects the findings of the external scripts it loads
  (ExternalScriptsMiddleware fetches them; waited for at most ``HIJACKWATCH_SCRIPT_WAIT`` s);
- in ``sample`` profile mode a browser view that detection (or its scripts) found
  suspicious gets its profile fetches scheduled here, once its verdict is known;
- with ``HIJACKWATCH_RENDER_ENABLED`` suspicious pages (or all, with
  ``HIJACKWATCH_RENDER_ALL``) are also loaded in headless Chromium as a search
  visitor, up to ``HIJACKWATCH_RENDER_MAX_PAGES`` per run.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from hijackwatch.detect import Finding, ViewSummary, score_findings
from hijackwatch.detect.cloaking import compare_fetches
from hijackwatch.items import PageItem
from hijackwatch.middlewares.profiles import ProfilePlan, profile_mode
from hijackwatch.middlewares.scripts import ScriptCache
from hijackwatch.profiles import BASELINE, Profile

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

    from hijackwatch.render import Renderer

logger = logging.getLogger(__name__)

# Finding kinds that make a clean-looking page worth a second look (sample mode, render).
SUSPECT_KINDS = frozenset(
    {"script_redirect", "meta_refresh", "title_swap", "iframe_overlay", "hidden_links"}
)
Baseline = tuple[ViewSummary | None, str | None]  # (summary, final URL)


def suspicious(item: PageItem) -> bool:
    return item.verdict in ("suspicious", "hijacked") or any(
        getattr(f, "kind", None) in SUSPECT_KINDS for f in item.findings
    )


def view_facts(item: PageItem) -> Baseline:
    """(summary, final URL) of a view; no summary when its body could not be analysed."""
    usable = item.error is None and isinstance(item.summary, ViewSummary)
    return (item.summary if usable else None, item.final_url or item.url)


def add_findings(item: PageItem, findings: list[Finding]) -> None:
    """Append findings and score the item again (a failed fetch stays an error)."""
    if not findings:
        return
    item.findings.extend(findings)
    if item.status is None:
        return
    item.score, item.verdict = score_findings(item.findings)


class CloakingPipeline:
    """Cross-view checks: cloaking, external scripts, render mode (see module docstring)."""

    def __init__(
        self,
        crawler: Crawler,
        plan: ProfilePlan | None,
        scripts: ScriptCache | None,
        *,
        wait: float = 60.0,
        script_wait: float = 30.0,
        max_pending: int = 20000,
        renderer: Renderer | None = None,
        render_all: bool = False,
        render_max: int = 50,
        render_profile: Profile | None = None,
    ) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.plan = plan
        self.scripts = scripts
        self.wait = wait
        self.script_wait = script_wait
        self.max_pending = max_pending
        self.renderer = renderer
        self.render_all = render_all
        self.render_max = render_max
        self.render_profile = render_profile
        self.rendered = 0
        self.baselines: OrderedDict[str, asyncio.Future[Baseline | None]] = OrderedDict()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        plan = ProfilePlan.for_crawler(crawler) if profile_mode(crawler) != "off" else None
        if plan is not None and not plan.active:
            plan = None
        scripts = (
            ScriptCache.for_crawler(crawler)
            if s.getbool("HIJACKWATCH_SCRIPTS_ENABLED", True)
            else None
        )
        renderer = None
        render_profile = None
        if s.getbool("HIJACKWATCH_RENDER_ENABLED", False):
            renderer, render_profile = cls._renderer(crawler)
            if renderer is None:
                crawler.stats.set_value("hijackwatch/render_unavailable", 1)
        if plan is None and scripts is None and renderer is None:
            # profiles, scripts and render mode all switched off: nothing to compare, and
            # nothing to warn about (a bare NotConfigured is not logged by Scrapy)
            raise NotConfigured
        pipeline = cls(
            crawler,
            plan,
            scripts,
            wait=s.getfloat("HIJACKWATCH_CLOAKING_WAIT", 60.0),
            script_wait=s.getfloat("HIJACKWATCH_SCRIPT_WAIT", 30.0),
            max_pending=s.getint("HIJACKWATCH_CLOAKING_MAX_PENDING", 20000),
            renderer=renderer,
            render_all=s.getbool("HIJACKWATCH_RENDER_ALL", False),
            render_max=s.getint("HIJACKWATCH_RENDER_MAX_PAGES", 50),
            render_profile=render_profile,
        )
        if renderer is not None:
            crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    @staticmethod
    def _renderer(crawler: Crawler) -> tuple[Renderer | None, Profile | None]:
        """The renderer, or None (logged) when render mode cannot run: the profile
        comparison and script analysis still do."""
        from hijackwatch.profiles import BUILTIN_PROFILES, parse_profiles
        from hijackwatch.render import CHROMIUM, RENDER_USER, Renderer

        s = crawler.settings
        name = s.get("HIJACKWATCH_RENDER_PROFILE", "search-baidu")
        profiles = {p.name: p for p in parse_profiles(s.get("HIJACKWATCH_PROFILES"))}
        profile = profiles.get(name) or BUILTIN_PROFILES.get(name)
        if profile is None:
            raise ValueError(f"HIJACKWATCH_RENDER_PROFILE: unknown profile {name!r}")
        renderer = Renderer(
            executable=s.get("HIJACKWATCH_RENDER_CHROMIUM", CHROMIUM),
            allow_hosts=s.getlist("HIJACKWATCH_RENDER_ALLOW_HOSTS", []),
            timeout=s.getfloat("HIJACKWATCH_RENDER_TIMEOUT", 15.0),
            settle=s.getfloat("HIJACKWATCH_RENDER_SETTLE", 3.0),
            loopback_only=s.getbool("HIJACKWATCH_LOOPBACK_ONLY", False),
            user=s.get("HIJACKWATCH_RENDER_USER") or RENDER_USER,
            no_sandbox=s.getbool("HIJACKWATCH_RENDER_NO_SANDBOX", False),
            launcher_dir=s.get("HIJACKWATCH_RENDER_LAUNCHER_DIR") or None,
            launch_timeout=s.getfloat("HIJACKWATCH_RENDER_LAUNCH_TIMEOUT", 60.0),
        )
        problem = renderer.preflight()
        if problem is not None:
            logger.error("render mode is on but Chromium cannot start: %s: not rendering", problem)
            return None, None
        if renderer.no_sandbox:
            logger.warning(
                "HIJACKWATCH_RENDER_NO_SANDBOX is set: hostile pages run in Chromium "
                "without its sandbox"
            )
        return renderer, profile

    async def spider_closed(self) -> None:
        if self.renderer is not None:
            await self.renderer.aclose()

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        try:
            if item.profile == BASELINE:
                await self._baseline(item)
            else:
                await self._profile_view(item)
        except Exception:  # a browser crash or a comparison bug must not cost the page its row
            logger.exception("cross-view checks failed for %s (%s view)", item.url, item.profile)
            self.stats.inc_value("hijackwatch/cloaking_errors")
        return item

    # --- browser view ------------------------------------------------------------------
    def _future(self, url: str) -> asyncio.Future[Baseline | None]:
        future = self.baselines.get(url)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self.baselines[url] = future
            while len(self.baselines) > self.max_pending:  # views that never came
                _, old = self.baselines.popitem(last=False)
                if not old.done():
                    old.set_result(None)
                self.stats.inc_value("hijackwatch/cloaking_evicted")
        return future

    def _publish(self, item: PageItem) -> None:
        future = self._future(item.url)
        if not future.done():
            future.set_result(view_facts(item) if item.status is not None else None)

    async def _baseline(self, item: PageItem) -> None:
        if self.plan is not None and self.plan.expects(item.url):
            self._publish(item)
        await self._add_script_findings(item)
        if self.renderer is not None and (self.render_all or suspicious(item)):
            await self._render(item)
        if (
            self.plan is not None
            and self.plan.mode == "sample"
            and item.body is not None
            and not self.plan.expects(item.url)
            and suspicious(item)
            and self.plan.schedule(item, item.verdict)
        ):
            self._publish(item)

    async def _add_script_findings(self, item: PageItem) -> None:
        if self.scripts is None:
            return
        findings = await self.scripts.findings_for(item.url, item.profile, self.script_wait)
        if findings:
            self.stats.inc_value("hijackwatch/pages_with_script_findings")
        add_findings(item, findings)

    async def _render(self, item: PageItem) -> None:
        from hijackwatch.render import render_findings

        assert self.renderer is not None and self.render_profile is not None
        if self.rendered >= self.render_max:
            self.stats.inc_value("hijackwatch/render_skipped")
            return
        self.rendered += 1
        profile = self.render_profile
        result = await self.renderer.render_async(
            item.url,
            user_agent=profile.user_agent,
            referer=profile.referer_for(item.url),
            accept_language=profile.accept_language,
        )
        self.stats.inc_value("hijackwatch/rendered_pages")
        if result.error and not result.navigations:
            logger.info("render of %s failed: %s", item.url, result.error)
            return
        add_findings(item, render_findings(result, item.title))

    # --- other profiles' views -----------------------------------------------------
    async def _profile_view(self, item: PageItem) -> None:
        await self._add_script_findings(item)
        if self.plan is None:
            return
        future = self._future(item.url)
        try:
            baseline = await asyncio.wait_for(asyncio.shield(future), timeout=self.wait)
        except TimeoutError:
            baseline = None
            self.stats.inc_value("hijackwatch/cloaking_baseline_timeout")
            logger.info(
                "no browser view of %s within %ss: %s view not compared",
                item.url,
                self.wait,
                item.profile,
            )
        if self.plan.arrived(item.url, item.profile):
            self.baselines.pop(item.url, None)
        # every profile view comes from the plan's requests, so its profile is known
        profile = self.plan.by_name.get(item.profile)
        if baseline is None or item.status is None or profile is None:
            return
        findings = compare_fetches(
            item.url, baseline, view_facts(item), item.profile, kind=profile.kind
        )
        if findings:
            self.stats.inc_value(f"hijackwatch/{profile.kind}")
        add_findings(item, findings)
