"""ScriptCache: script findings shared between page views, with bounded bookkeeping."""

from __future__ import annotations

import asyncio

from hijackwatch.detect import Finding
from hijackwatch.middlewares.scripts import ScriptCache


def test_each_script_is_requested_once_and_its_findings_reach_every_page() -> None:
    async def run() -> tuple[list[str], list[str], list[Finding], list[Finding]]:
        cache = ScriptCache()
        first = cache.register("http://a/1", "browser", ["http://a/x.js", "http://a/y.js"])
        second = cache.register("http://a/2", "browser", ["http://a/x.js"])
        found = Finding("script_redirect", "high", "x.js sends search visitors away")
        cache.resolve("http://a/x.js", [found])
        cache.resolve("http://a/y.js", [])
        return (
            first,
            second,
            await cache.findings_for("http://a/1", "browser", 1.0),
            await cache.findings_for("http://a/2", "browser", 1.0),
        )

    first, second, one, two = asyncio.run(run())
    assert first == ["http://a/x.js", "http://a/y.js"]
    assert second == []  # already requested for page 1
    assert [f.kind for f in one] == [f.kind for f in two] == ["script_redirect"]


def test_page_views_nobody_asks_for_do_not_pile_up() -> None:
    async def run() -> ScriptCache:
        cache = ScriptCache()
        cache.MAX_PAGES = 50
        for n in range(200):  # items dropped before the pipeline never pop their entry
            cache.register(f"http://a/{n}", "browser", ["http://a/x.js"])
        return cache

    cache = asyncio.run(run())
    assert len(cache.pages) == 50
    assert ("http://a/199", "browser") in cache.pages  # the newest are kept
    assert ("http://a/0", "browser") not in cache.pages
