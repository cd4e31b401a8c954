"""End to end: redirect loops and over-long redirect chains leave an error row for the
URL the site linked, under every visitor profile that fetched it.

A real HTTP server on 127.0.0.x, the real CLI and Scrapy engine in a fresh process, a
real SQLite file. Scrapy's dupefilter used to drop the hop back into a loop, so the
linked URL vanished without a row; a too-long chain was stored under its last hop.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from hijackwatch.middlewares.boundary import SiteBoundaryMiddleware
from hijackwatch.profiles import DEFAULT_PROFILES, parse_profiles
from hijackwatch.seeds import parse_seed
from hijackwatch.spiders.hijack import HijackSpider
from tests.conftest import db_rows
from tests.test_e2e_crawl import FAST, run_cli

CHAIN = 25  # /chain1 -> ... -> /chain26, far past REDIRECT_MAX_TIMES
BOT_WORDS = ("bot", "spider")  # /cloak-loop loops only for crawlers
HOME = b"""<html><head><title>Library news</title></head><body><p>Opening hours and events
of the college library.</p><a href="/loopA">a</a> <a href="/chain1">c</a>
<a href="/cloak-loop">n</a> <a href="/moved">m</a> <a href="/page.html">p</a>
<a href="/search?b=2&amp;a=1">s</a></body></html>"""
PAGE = b"""<html><head><title>Events</title></head><body><p>Reading group on Tuesday
evenings in the main hall.</p></body></html>"""


class Handler(BaseHTTPRequestHandler):
    hits: Counter[str]

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        path, agent = self.path, self.headers.get("User-Agent", "").lower()
        if path == "/loopA":
            return self._redirect("/loopB")
        if path == "/loopB":
            return self._redirect("/loopA")
        if path.startswith("/chain") and int(path[6:]) <= CHAIN:
            return self._redirect(f"/chain{int(path[6:]) + 1}")
        if path == "/cloak-loop" and any(w in agent for w in BOT_WORDS):
            return self._redirect("/cloak-loop2")
        if path == "/cloak-loop2":
            return self._redirect("/cloak-loop")
        if path == "/moved":  # to a page the site also links: the hop's URL is already seen
            return self._redirect("/page.html", 301)
        if path == "/search?b=2&a=1":  # the same arguments in another order: a new URL
            return self._redirect("/search?a=1&b=2", 301)
        if path in ("/", "/page.html", "/cloak-loop", "/chain26", "/search?a=1&b=2"):
            body = HOME if path == "/" else PAGE
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        self.send_error(404)
        return None

    def _redirect(self, location: str, status: int = 302) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    """One crawl of the site with every profile; the tests read its rows."""
    tmp_path = tmp_path_factory.mktemp("redirects")
    hits: Counter[str] = Counter()
    handler = type("SiteHandler", (Handler,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.77", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.77:{server.server_address[1]}"
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{base}/\n")
    db_url = f"sqlite:///{tmp_path / 'hijackwatch.db'}"
    started = time.monotonic()
    try:
        result = run_cli(
            "crawl", str(seeds), "--db", db_url, "-q", *FAST,
            "-s", "HIJACKWATCH_PROFILE_MODE=all", "-s", "HIJACKWATCH_CLOAKING_WAIT=5",
            timeout=120,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    elapsed = time.monotonic() - started
    assert result.returncode in (0, 1), result.stderr[-3000:]
    rows = db_rows(db_url, "SELECT url, profile, status, final_url, error, verdict FROM pages")
    by_url: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_url[row.url.removeprefix(base)].append(row)
    yield Crawl(base, hits, by_url, elapsed)


@dataclass
class Crawl:
    base: str
    hits: Counter[str]
    rows: dict[str, list[Any]]  # path of the row's URL -> its rows
    elapsed: float


def test_every_row_is_a_linked_url_never_a_hop(crawl: Crawl) -> None:
    assert set(crawl.rows) == {
        "/",
        "/loopA",
        "/chain1",
        "/cloak-loop",
        "/moved",
        "/page.html",
        "/search?b=2&a=1",
    }


def test_a_redirect_that_reorders_the_query_is_no_loop(crawl: Crawl) -> None:
    """canonicalize_url sorts query arguments; the server (and a browser) does not."""
    rows = crawl.rows["/search?b=2&a=1"]
    assert len(rows) == len(DEFAULT_PROFILES)
    for row in rows:
        assert (row.status, row.error) == (200, None), row
        assert row.final_url == f"{crawl.base}/search?a=1&b=2"


def test_a_redirect_loop_is_an_error_row_of_the_linked_url(crawl: Crawl) -> None:
    base = crawl.base
    # one row: profiles only fetch again pages whose browser view loaded
    (loop,) = crawl.rows["/loopA"]
    assert (loop.profile, loop.verdict, loop.status) == ("browser", "error", None)
    assert (
        loop.error == f"IgnoreRequest: redirect loop: {base}/loopA -> {base}/loopB -> {base}/loopA"
    )
    assert loop.final_url == f"{base}/loopB"
    # once round the loop, and nothing waited on views that never came
    assert crawl.hits["/loopA"] == 1 and crawl.hits["/loopB"] == 1
    assert crawl.elapsed < 60, crawl.elapsed


def test_a_too_long_chain_is_an_error_row_of_the_linked_url(crawl: Crawl) -> None:
    base = crawl.base
    (chain,) = crawl.rows["/chain1"]
    assert (chain.profile, chain.verdict, chain.status) == ("browser", "error", None)
    assert chain.error.startswith("IgnoreRequest: too many redirects (over 5): ")
    assert f"{base}/chain1 -> {base}/chain2 -> " in chain.error
    assert chain.error.endswith(f"{base}/chain6 -> {base}/chain7")
    assert chain.final_url == f"{base}/chain6"
    assert crawl.hits["/chain7"] == 0 and crawl.hits["/chain1"] == 1


def test_a_loop_only_crawlers_get_is_an_error_row_per_crawler_profile(crawl: Crawl) -> None:
    base = crawl.base
    profiles = {p.name: p for p in parse_profiles(",".join(DEFAULT_PROFILES))}
    rows = {row.profile: row for row in crawl.rows["/cloak-loop"]}
    assert len(crawl.rows["/cloak-loop"]) == len(rows) == len(DEFAULT_PROFILES)
    for name, row in rows.items():
        if any(w in profiles[name].user_agent.lower() for w in BOT_WORDS):
            assert row.verdict == "error", name
            assert row.error == (
                f"IgnoreRequest: redirect loop: "
                f"{base}/cloak-loop -> {base}/cloak-loop2 -> {base}/cloak-loop"
            ), name
            assert row.final_url == f"{base}/cloak-loop2"
        else:
            assert (row.status, row.error) == (200, None), name
    assert sum(row.verdict == "error" for row in rows.values()) >= 2


def test_a_redirect_to_a_page_crawled_anyway_keeps_its_row(crawl: Crawl) -> None:
    moved = {row.profile: row for row in crawl.rows["/moved"]}
    assert len(crawl.rows["/moved"]) == len(moved) == len(DEFAULT_PROFILES)
    assert {(r.status, r.final_url) for r in moved.values()} == {(200, f"{crawl.base}/page.html")}
    assert len(crawl.rows["/page.html"]) == len(DEFAULT_PROFILES)


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_redirect_to_the_unicode_spelling_of_the_site_stays_on_it(encoding: str) -> None:
    """Seed faß.de (xn--fa-hia.de): a Location naming faß.de was judged same-site, then
    Scrapy spelled it with IDNA 2003 (fass.de, another registrant) or percent-encoded the
    Latin-1 byte, and the boundary dropped the hop. Real middleware pair, no network
    (no such host resolves here)."""
    boundary, redirect = middleware_pair()
    seed = parse_seed("faß.de")
    request = Request(seed.url, meta={"hw_site": seed.key})
    location = "http://faß.de/landing".encode(encoding)
    response = Response(seed.url, status=302, headers={"Location": location}, request=request)
    hop = redirect.process_response(request, boundary.process_response(request, response))
    assert isinstance(hop, Request) and hop.url == "http://xn--fa-hia.de/landing"
    assert boundary.process_request(hop) is None  # fetched, not dropped as off-site
    assert "hw_offsite_redirect" not in request.meta


def middleware_pair() -> tuple[SiteBoundaryMiddleware, RedirectMiddleware]:
    """The site boundary and Scrapy's redirect middleware of one (unstarted) crawler."""
    crawler = get_crawler(HijackSpider, {"REDIRECT_ENABLED": True, "REDIRECT_MAX_TIMES": 5})
    return SiteBoundaryMiddleware(crawler), RedirectMiddleware.from_crawler(crawler)


@pytest.mark.parametrize(
    ("location", "recorded"),
    [
        ("http://site.example\uff0fx/".encode(), "http://site.example\uff0fx/"),
        (b"http://[::1/", "http://[::1/"),
        (b"http://site.example:99999/", "http://site.example:99999/"),
        (b"///evil.example/p", "http://evil.example/p"),  # Scrapy follows it there
    ],
)
def test_a_hostile_location_is_recorded_as_an_off_site_redirect(
    location: bytes, recorded: str
) -> None:
    """A fullwidth solidus in the host made urljoin raise (the page became an error row);
    ``///host`` was read as a path on the site while Scrapy follows it to the host."""
    boundary, redirect = middleware_pair()
    request = Request("http://site.example/a", meta={"hw_site": "site.example"})
    response = Response(request.url, status=302, headers={"Location": location}, request=request)
    out = redirect.process_response(request, boundary.process_response(request, response))
    assert out is response  # handed to the spider as the page, not followed
    assert request.meta["hw_offsite_redirect"] == recorded
