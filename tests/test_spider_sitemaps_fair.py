"""A site's page budget is shared fairly among its sitemaps and its links: a small sitemap
of parasite pages listed after a big real one (in robots.txt or in a sitemap index) gets
its share, whatever order the sitemaps are listed or answer in (QA H2)."""

from __future__ import annotations

from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from hijackwatch.items import PageItem
from hijackwatch.spiders.hijack import round_robin_shares
from tests.conftest import SEED_PAGE, http_server, reply
from tests.test_e2e_crawl import FAST, browser_verdicts, run_cli
from tests.test_spider_links import SITEMAP_NS, _sitemap, _spider, _targets, _view

BUDGET = 40
REAL = 400  # the real sitemap's URLs: ten budgets' worth
PARASITES = 20
HOME_LINKS = 60  # more links on the homepage than the whole budget


def _urlset(*entries: tuple[str, str]) -> bytes:
    """A urlset of (path, lastmod) entries; '' for no <lastmod>."""
    items = "".join(
        f"<url><loc>{{base}}{path}</loc>{f'<lastmod>{date}</lastmod>' if date else ''}</url>"
        for path, date in entries
    )
    return f'<?xml version="1.0"?><urlset {SITEMAP_NS}>{items}</urlset>'.encode()


def _index(*paths: str) -> bytes:
    items = "".join(f"<sitemap><loc>{{base}}{path}</loc></sitemap>" for path in paths)
    return f'<?xml version="1.0"?><sitemapindex {SITEMAP_NS}>{items}</sitemapindex>'.encode()


# the real sitemap: undated, but for one recently changed page in its middle
REAL_SITEMAP = _urlset(*((f"/doc/{n}.html", "2026-11-20" if n == 200 else "") for n in range(REAL)))
PARASITE_SITEMAP = _urlset(*((f"/slot/{n}.html", "") for n in range(PARASITES)))
HOMEPAGE = (
    "<html><body><p>Faculty of engineering: news and events.</p>"
    + "".join(f'<a href="/news/{n}.html">news {n}</a> ' for n in range(HOME_LINKS))
    + "</body></html>"
).encode()


def _site(files: dict[str, bytes], home: bytes = HOMEPAGE) -> type[BaseHTTPRequestHandler]:
    """A site serving ``files`` (robots.txt, sitemaps), its homepage, parasite pages
    under /slot/ and plain pages anywhere else."""

    class Site(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            base = f"http://{self.headers['Host']}".encode()
            if self.path in files:
                body = files[self.path].replace(b"{base}", base)
                ctype = "text/plain" if self.path == "/robots.txt" else "application/xml"
            elif self.path == "/":
                body, ctype = home, "text/html"
            elif self.path.startswith("/slot/"):
                body, ctype = SEED_PAGE.read_bytes(), "text/html; charset=utf-8"
            elif self.path.endswith(".html"):
                body, ctype = b"<html><body><p>A department page.</p></body></html>", "text/html"
            else:
                self.send_error(404)
                return
            reply(self, body, ctype)

    return Site


def _robots(*paths: str) -> bytes:
    return b"User-agent: *\n" + b"".join(b"Sitemap: {base}%s\n" % p.encode() for p in paths)


SITES = {
    # robots.txt lists the real sitemap first (the case that found nothing), then second
    "real-first": {
        "/robots.txt": _robots("/sitemap.xml", "/sitemap-slot.xml"),
        "/sitemap.xml": REAL_SITEMAP,
        "/sitemap-slot.xml": PARASITE_SITEMAP,
    },
    "parasite-first": {
        "/robots.txt": _robots("/sitemap-slot.xml", "/sitemap.xml"),
        "/sitemap.xml": REAL_SITEMAP,
        "/sitemap-slot.xml": PARASITE_SITEMAP,
    },
    # a sitemap index whose last child is the parasite sitemap
    "index": {
        "/robots.txt": _robots("/sitemap.xml"),
        "/sitemap.xml": _index("/post-sitemap.xml", "/page-sitemap.xml", "/sitemap-slot.xml"),
        "/post-sitemap.xml": REAL_SITEMAP,
        "/page-sitemap.xml": _urlset(*((f"/page/{n}.html", "") for n in range(REAL))),
        "/sitemap-slot.xml": PARASITE_SITEMAP,
    },
    # no sitemap at all: links held back while robots.txt and /sitemap.xml were asked
    # for are all requested once they answered
    "no-sitemap": {},
}


def test_every_sitemap_and_the_links_get_a_share_of_the_page_budget(
    sqlite_url: str, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        bases = {
            name: stack.enter_context(http_server(_site(files), f"127.0.0.{81 + n}"))
            for n, (name, files) in enumerate(SITES.items())
        }
        seeds = tmp_path / "seeds.txt"
        seeds.write_text("".join(f"{base}/\n" for base in bases.values()))
        result = run_cli(
            "crawl",
            str(seeds),
            "--db",
            sqlite_url,
            "-q",
            "--max-pages",
            str(BUDGET),
            *FAST,
            "-s",
            "HIJACKWATCH_PROFILE_MODE=off",
        )
    assert result.returncode == 0, result.stderr[-3000:]
    verdicts = browser_verdicts(sqlite_url)

    def pages(name: str, prefix: str) -> list[str]:
        return [url for url in verdicts if url.startswith(f"{bases[name]}{prefix}")]

    for name in ("real-first", "parasite-first", "index"):
        assert len(pages(name, "/")) == BUDGET, (name, len(pages(name, "/")))
        slots = pages(name, "/slot/")
        # round-robin across sitemaps: the parasite sitemap gets as many pages as each
        # big one (before: none at all when listed after it)
        assert len(slots) >= BUDGET // 2 // (3 if name == "index" else 2) - 1, (name, slots)
        assert all(verdicts[url] == "hijacked" for url in slots)
        # the links keep theirs too: not every homepage link lost to the sitemaps
        assert len(pages(name, "/news/")) >= BUDGET // 4, (name, len(pages(name, "/news/")))
    for name in ("real-first", "parasite-first"):
        # newest first within a sitemap: the one dated entry of 400
        assert f"{bases[name]}/doc/200.html" in verdicts
        assert len(pages(name, "/doc/")) >= 8
    assert pages("index", "/doc/") and pages("index", "/page/")
    # a site without sitemaps spends its whole budget on links
    assert len(pages("no-sitemap", "/")) == BUDGET


def test_round_robin_shares_are_what_turns_of_one_each_would_take() -> None:
    """What a settled site keeps of its sitemaps for the idle round: their shares."""
    assert round_robin_shares([5000, 100], 100) == [50, 50]
    assert round_robin_shares([5000, 10], 100) == [90, 10]
    assert round_robin_shares([7, 7, 7], 10) == [4, 3, 3]
    assert round_robin_shares([3, 3], 100) == [3, 3]
    assert round_robin_shares([5, 5], 0) == [0, 0]


def test_the_sitemaps_an_index_names_are_read_newest_first_within_the_bound() -> None:
    """HIJACKWATCH_MAX_SITEMAPS cuts a long index short: the children read are the newest,
    then the last listed (a sitemap appended by a hijacker), not the first 20."""
    spider = _spider()
    spider.max_sitemaps = 4
    children = [f"<sitemap><loc>/posts-{n}.xml</loc></sitemap>" for n in range(30)]
    children[7] = "<sitemap><loc>/slot.xml</loc><lastmod>2026-11-27T03:00:00Z</lastmod></sitemap>"
    index = f"<sitemapindex {SITEMAP_NS}>{''.join(children)}</sitemapindex>".encode()
    requests = _sitemap(spider, "http://site.example/sitemap.xml", index)
    assert _targets(requests) == [
        ("parse_sitemap", "/slot.xml"),
        ("parse_sitemap", "/posts-29.xml"),
        ("parse_sitemap", "/posts-28.xml"),
        ("parse_sitemap", "/posts-27.xml"),
    ]


def test_links_found_while_the_site_settles_are_not_held_for_nothing() -> None:
    """Scrapy pulls a callback's output lazily, interleaved with other callbacks: the site
    may settle (its last sitemap answers) while the homepage's link generator is paused.
    Links after that point are requested, not held back where nothing would release them
    (the no-sitemap site of the test above once got only the links' half, 20 of 40)."""
    spider = _spider()
    spider.max_pages = 4  # links keep 2 while the sitemaps are read
    (seed,) = spider.seeds
    spider.sitemaps_of(seed).pending = 1  # /sitemap.xml not answered yet
    links = "".join(f'<a href="/news/{n}.html">news {n}</a>' for n in range(8))
    out = spider.parse_page(_view(spider, "browser", f"<html><body>{links}</body></html>".encode()))
    assert isinstance(next(out), PageItem)
    first = [next(out), next(out)]  # the links' half
    assert list(spider.sitemap_answered(seed.key)) == []  # 404: settled, nothing held yet
    rest = list(out)
    assert [r.url for r in first + rest] == [f"http://site.example/news/{n}.html" for n in range(4)]
    assert not spider.sitemaps[seed.key].held
