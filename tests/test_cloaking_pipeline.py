"""CloakingPipeline's bookkeeping: waiting for the baseline, bounded waits, eviction."""

from __future__ import annotations

import asyncio

import pytest
from scrapy.utils.test import get_crawler

from hijackwatch.demo.cloaking_sites import _school
from hijackwatch.detect import analyse
from hijackwatch.items import PageItem
from hijackwatch.middlewares.profiles import ProfilePlan
from hijackwatch.pipelines.cloaking import CloakingPipeline
from hijackwatch.render import chromium_available
from hijackwatch.spiders.hijack import HijackSpider
from tests.conftest import unavailable

URL = "http://127.0.0.9:8000/"


def analysed(profile: str, html: str, **kw: object) -> PageItem:
    item = PageItem(url=URL, site="127.0.0.9:8000", profile=profile, status=200, final_url=URL)
    a = analyse(html, URL)
    item.summary, item.findings = a.summary, list(a.findings)
    item.score, item.verdict, item.title = a.score, a.verdict, a.title
    for key, value in kw.items():
        setattr(item, key, value)
    return item


def pipeline(**settings: object) -> tuple[CloakingPipeline, ProfilePlan]:
    crawler = get_crawler(
        HijackSpider,
        {
            "HIJACKWATCH_PROFILE_MODE": "all",
            "HIJACKWATCH_PROFILES": "googlebot,search-baidu",
            "HIJACKWATCH_SCRIPTS_ENABLED": False,
            **settings,
        },
    )
    pipe = CloakingPipeline.from_crawler(crawler)
    assert pipe.plan is not None
    return pipe, pipe.plan


def test_profile_view_arriving_first_waits_for_the_baseline() -> None:
    async def scenario() -> None:
        pipe, plan = pipeline()
        plan.expected[URL] = {"googlebot", "search-baidu"}
        bot = analysed("googlebot", _school("/", for_bots=True))
        waiting = asyncio.ensure_future(pipe.process_item(bot))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # no baseline yet
        await pipe.process_item(analysed("browser", _school("/", for_bots=False)))
        await asyncio.wait_for(waiting, 5)
        assert bot.verdict == "hijacked"
        assert "ua_cloaking" in {f.kind for f in bot.findings}
        # search visitor gets the human page: nothing added; then the URL is evicted
        human = analysed("search-baidu", _school("/", for_bots=False))
        await pipe.process_item(human)
        assert human.verdict == "clean" and not human.findings
        assert URL not in pipe.baselines and URL not in plan.expected

    asyncio.run(scenario())


def test_wait_for_a_baseline_is_bounded() -> None:
    async def scenario() -> None:
        pipe, plan = pipeline(HIJACKWATCH_CLOAKING_WAIT=0.2)
        plan.expected[URL] = {"googlebot"}
        bot = analysed("googlebot", _school("/", for_bots=True))
        before = list(bot.findings)
        await asyncio.wait_for(pipe.process_item(bot), 5)
        assert bot.findings == before  # stored as analysed, without comparison
        assert pipe.stats.get_value("hijackwatch/cloaking_baseline_timeout") == 1
        assert URL not in pipe.baselines

    asyncio.run(scenario())


def test_pending_baselines_are_bounded() -> None:
    async def scenario() -> None:
        pipe, plan = pipeline(HIJACKWATCH_CLOAKING_MAX_PENDING=3)
        for i in range(10):
            url = f"{URL}p{i}"
            plan.expected[url] = {"googlebot"}  # profile views that never come
            item = analysed("browser", _school("/", for_bots=False), url=url)
            await pipe.process_item(item)
        assert len(pipe.baselines) == 3
        assert pipe.stats.get_value("hijackwatch/cloaking_evicted") == 7

    asyncio.run(scenario())


def test_failed_fetches_are_not_compared() -> None:
    async def scenario() -> None:
        pipe, plan = pipeline()
        plan.expected[URL] = {"googlebot"}
        await pipe.process_item(analysed("browser", "", status=None, error="timeout"))
        bot = analysed("googlebot", _school("/", for_bots=True))
        await pipe.process_item(bot)
        assert not {f.kind for f in bot.findings} & {"ua_cloaking", "referer_cloaking"}

    asyncio.run(scenario())


def test_bad_mode_and_profiles_fail_loudly() -> None:
    with pytest.raises(ValueError, match="HIJACKWATCH_PROFILE_MODE"):
        pipeline(HIJACKWATCH_PROFILE_MODE="sometimes")
    with pytest.raises(ValueError, match="HIJACKWATCH_PROFILES"):
        pipeline(HIJACKWATCH_PROFILES="googlebot,yahoo-slurp")


def test_a_failing_render_keeps_the_page() -> None:
    """A render that raises (here: a renderer already shut down) must not drop the item."""
    if not chromium_available():
        unavailable("render mode needs /usr/bin/chromium")

    async def scenario() -> None:
        pipe, _plan = pipeline(HIJACKWATCH_RENDER_ENABLED=True, HIJACKWATCH_RENDER_ALL=True)
        assert pipe.renderer is not None
        pipe.renderer.executor.shutdown()  # render_async now raises RuntimeError
        page = analysed("browser", _school("/", for_bots=False))
        assert await pipe.process_item(page) is page
        assert page.verdict == "clean"
        assert pipe.stats.get_value("hijackwatch/cloaking_errors") == 1

    asyncio.run(scenario())


def test_render_mode_without_a_browser_keeps_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    """A missing Chromium turns off rendering only, loudly; profiles are still compared."""
    pipe, plan = pipeline(
        HIJACKWATCH_RENDER_ENABLED=True, HIJACKWATCH_RENDER_CHROMIUM="/nonexistent/chromium"
    )
    assert pipe.renderer is None and plan.active
    assert pipe.stats.get_value("hijackwatch/render_unavailable") == 1
    assert "no Chromium at /nonexistent/chromium" in caplog.text
