"""The spider's link following: the cached fast path cleans links exactly like the plain
one, and a page's links are followed once per distinct body (not once per profile view)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from hijackwatch.items import PageItem
from hijackwatch.seeds import parse_seeds
from hijackwatch.spiders.hijack import HijackSpider, _clean_link, body_digest, origin_of

BASES = st.sampled_from(
    [
        "http://a.example/",
        "https://a.example/x/y.html?q=1",
        "http://a.example:8080/d/",
        "http://u:p@a.example/p;x?y#z",
        "HTTP://A.Example/x/../y",
        "http://[::1]:80/a/b",
        "http://a.example",
        "http://a.example?x",
    ]
)
PIECES = st.sampled_from(
    ["/", "//", "http://", "https://", "HTTP://", "a", "b.html", "..", ".", "?", "#", ";",
     "@", ":", "x.JPG", "%2e", " ", "\t", "\r", "\n", "b.example", "a.example", "é", "[::1]"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(BASES, st.lists(PIECES, max_size=8).map("".join))
def test_cached_cleaning_equals_the_plain_one(base: str, href: str) -> None:
    assert _clean_link(base, href, origin_of(base)) == _clean_link(base, href)


PAGE = b"""<html><body><a href="/a.html">a</a> <a href="/b.html">b</a>
<a href="/a.html">a again</a> <a href="http://other.example/x">elsewhere</a>%s</body></html>"""


def _spider() -> HijackSpider:
    crawler = get_crawler(HijackSpider, {"HIJACKWATCH_SEED_LIST": ["http://site.example/"]})
    spider = HijackSpider.from_crawler(crawler)
    crawler.spider = spider
    crawler.stats.open_spider()
    return spider


def _view(spider: HijackSpider, profile: str, body: bytes, charset: str = "utf-8") -> HtmlResponse:
    (seed,), _ = parse_seeds(["http://site.example/"])
    url = "http://site.example/"
    meta = {"hw_seed": seed, "hw_depth": 0, "hw_profile": profile}
    request = Request(url, meta=meta)
    headers = {"Content-Type": f"text/html; charset={charset}"}
    return HtmlResponse(url, body=body, request=request, headers=headers)


def _followed(spider: HijackSpider, profile: str, body: bytes, charset: str = "utf-8") -> list[str]:
    response = _view(spider, profile, body, charset)
    out = spider.parse_page(response)
    item = next(out)
    assert isinstance(item, PageItem) and item.profile == profile  # every view keeps its row
    # the digest travels with the item (ExternalScriptsMiddleware, DetectionPipeline)
    assert item.body_digest == body_digest(response)
    out = [item, *out]
    return [r.url for r in out[1:]]


def test_links_of_identical_views_are_followed_once() -> None:
    spider = _spider()
    assert _followed(spider, "browser", PAGE % b"") == [
        "http://site.example/a.html",
        "http://site.example/b.html",
    ]
    assert _followed(spider, "googlebot", PAGE % b"") == []
    assert spider.crawler.stats.get_value("hijackwatch/links_already_followed") == 1
    # a cloaked view with links of its own: they are followed
    cloaked = PAGE % b'<a href="/casino/1.html">slot</a>'
    assert _followed(spider, "baiduspider", cloaked) == ["http://site.example/casino/1.html"]
    assert spider.crawler.stats.get_value("hijackwatch/links_already_followed") == 1


def test_the_same_bytes_under_another_charset_are_another_view() -> None:
    """Cloaking by Content-Type charset alone: the links only one decoding shows are followed."""
    spider = _spider()
    body = b'<html><body>\x1b$B<a href="/casino-1.html">x</a>\x1b(B</body></html>'
    assert _followed(spider, "browser", body, "iso-2022-jp") == []
    assert _followed(spider, "googlebot", body, "utf-8") == ["http://site.example/casino-1.html"]
