"""The spider's link following: the cached fast path cleans links exactly like the plain
one, and a page's links are followed once per distinct body (not once per profile view)."""

from __future__ import annotations

import gzip

from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.http import Headers, HtmlResponse, Request, TextResponse
from scrapy.responsetypes import responsetypes
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


def test_a_link_to_an_idn_host_is_requested_by_its_idna_2008_name() -> None:
    """Scrapy's requests encode a Unicode host with IDNA 2003 (faß.de -> fass.de, another
    registrant's site): links reach them in ASCII, as the browser would resolve them."""
    assert _clean_link("http://site.example/", "http://u@www.FAß.de:81/a?b#c") == (
        "http://u@www.xn--fa-hia.de:81/a?b"
    )
    url = _clean_link("http://xn--fa-hia.de/", "//faß.de/impressum")
    assert url == "http://xn--fa-hia.de/impressum"
    assert Request(url).url == url
    assert _clean_link("http://site.example/", "http://☃.net/") is None  # IDNA 2008 refuses it


SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def _xml(kind: str, *locs: str) -> bytes:
    entry = "sitemap" if kind == "sitemapindex" else "url"
    items = "".join(f"<{entry}><loc>{loc}</loc></{entry}>" for loc in locs)
    return f'<?xml version="1.0"?><{kind} {SITEMAP_NS}>{items}</{kind}>'.encode()


def _sitemap(spider: HijackSpider, url: str, body: bytes, **headers: str) -> list[Request]:
    (seed,) = spider.seeds
    request = Request(url, meta={"hw_seed": seed, "hw_site": seed.key})
    # the response class Scrapy's downloader picks: XmlResponse, HtmlResponse, plain Response
    cls = responsetypes.from_args(headers=Headers(headers), url=url, body=body)
    response = cls(url, body=body, request=request, headers=headers)
    out = list(spider.parse_sitemap(response))
    state = spider.sitemaps[seed.key]
    if not state.settled:  # as if every other sitemap of the site had answered too
        out += spider.settle(state)
    return out


def _targets(requests: list[Request]) -> list[tuple[str, str]]:
    return [(r.callback.__name__, r.url.removeprefix("http://site.example")) for r in requests]


def test_a_sitemap_index_names_its_sitemaps_xml_and_gz() -> None:
    """WordPress, Yoast and Rank Math list post-sitemap.xml and friends in /sitemap.xml."""
    spider = _spider()
    index = _xml(
        "sitemapindex",
        "http://site.example/post-sitemap.xml",
        "/page-sitemap.xml.gz",
        "http://site.example/wp-sitemap-posts-post-1",
        "http://other.example/post-sitemap.xml",  # another site's: never read
        "javascript:alert(1)",
    )
    requests = _sitemap(spider, "http://site.example/sitemap.xml", index)
    # undated: the later in the file first (sitemaps grow by appending)
    assert _targets(requests) == [
        ("parse_sitemap", "/wp-sitemap-posts-post-1"),
        ("parse_sitemap", "/page-sitemap.xml.gz"),
        ("parse_sitemap", "/post-sitemap.xml"),
    ]
    # a urlset lists pages: files named .xml or .gz in it are not pages
    urlset = _xml(
        "urlset", "/bet/777.html", "/feed.xml", "/dump.sql.gz", "http://www.site.example/a"
    )
    requests = _sitemap(spider, "http://site.example/post-sitemap.xml", urlset)
    assert _targets(requests) == [
        ("parse_page", "http://www.site.example/a"),
        ("parse_page", "/bet/777.html"),
    ]


def test_gzip_sitemaps_are_read_by_their_bytes_within_the_size_bound() -> None:
    spider = _spider()
    urlset = _xml("urlset", "/bet/1.html")
    gz = "http://site.example/page-sitemap.xml.gz"
    assert _targets(_sitemap(spider, gz, gzip.compress(urlset))) == [("parse_page", "/bet/1.html")]
    # sent with Content-Encoding: gzip, HttpCompressionMiddleware has decoded it already
    urlset = _xml("urlset", "/bet/2.html")
    assert _targets(_sitemap(spider, gz, urlset, **{"Content-Type": "application/xml"})) == [
        ("parse_page", "/bet/2.html")
    ]
    # an index served as text/html is still an index; an HTML soft 404 is not a sitemap
    index = _xml("sitemapindex", "/news-sitemap.xml")
    html = {"Content-Type": "text/html"}
    assert _targets(_sitemap(spider, "http://site.example/i.xml", index, **html)) == [
        ("parse_sitemap", "/news-sitemap.xml")
    ]
    soft404 = b'<html><body><a href="/bet/3.html">x</a></body></html>'
    assert _sitemap(spider, "http://site.example/s.xml", soft404, **html) == []
    spider.sitemap_max_bytes = 1000  # a gzip bomb stops at the bound
    bomb = gzip.compress(_xml("urlset", *[f"/p/{n}.html" for n in range(200)]))
    assert _sitemap(spider, "http://site.example/bomb.xml.gz", bomb) == []


def test_nested_sitemap_indexes_are_read_once_and_bounded() -> None:
    spider = _spider()
    spider.max_sitemaps = 6
    loop = _xml("sitemapindex", "/sitemap.xml", "/loop.xml", "/loop.xml#again")
    requests = _sitemap(spider, "http://site.example/sitemap.xml", loop)
    # the index itself was requested by start(); here it is new to the spider
    assert _targets(requests) == [("parse_sitemap", "/loop.xml"), ("parse_sitemap", "/sitemap.xml")]
    assert _sitemap(spider, "http://site.example/loop.xml", loop) == []  # read once each
    chain: list[str] = []
    for n in range(1, 10):  # an endless chain of indexes, each naming the next
        url = f"http://site.example/chain/{n}.xml"
        chain += [r.url for r in _sitemap(spider, url, _xml("sitemapindex", f"/chain/{n + 1}.xml"))]
    assert chain == [f"http://site.example/chain/{n}.xml" for n in (2, 3, 4, 5)]
    assert spider.sitemaps["site.example"].requested == 6


def test_robots_sitemaps_outside_the_root_are_read_and_the_root_one_once() -> None:
    spider = _spider()
    (seed,) = spider.seeds
    assert spider.sitemap_request(seed, "http://site.example/sitemap.xml") is not None
    robots = (
        b"User-agent: *\nSitemap: http://site.example/sitemap.xml\n"
        b"Sitemap: /blog/sitemap.xml\nSitemap: http://SITE.example/news.xml.gz#x\n"
        b"Sitemap: http://other.example/sitemap.xml\n"
    )
    url = "http://site.example/robots.txt"
    request = Request(url, meta={"hw_seed": seed, "hw_site": seed.key})
    response = TextResponse(url, body=robots, request=request, encoding="utf-8")
    assert _targets(list(spider.parse_robots(response))) == [
        ("parse_sitemap", "/blog/sitemap.xml"),
        ("parse_sitemap", "/news.xml.gz"),
    ]
