"""End to end: fetches the crawl could lose, through the real CLI and a real fixture server.

- a URL that is both a page (linked) and a script (``<script src>``): both fetches
  happen and the page keeps its row, whichever request the scheduler sees first;
- a page that crawlers get as plain text: that profile view keeps its row too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hijackwatch.demo import FixtureWeb, Page, SiteSpec
from hijackwatch.demo.sites import html_page
from tests.conftest import db_rows
from tests.test_e2e_crawl import FAST, run_cli

HOME = html_page(
    "City library",
    '<p>Opening hours and events.</p><a href="/go.php">events</a><script src="/go.php"></script>',
)
GO = html_page("Events", "<p>Reading club every Tuesday.</p>")


def crawl(
    site: SiteSpec, address: int, db_url: str, tmp_path: Path, *settings: str
) -> tuple[list[str], list[Any]]:
    """Crawl one fixture site with the real CLI; (paths the server saw, page rows)."""
    with FixtureWeb(sites=[site], first_address=address) as web:
        seeds = tmp_path / "seeds.txt"
        web.write_seeds(str(seeds))
        extra = [arg for setting in settings for arg in ("-s", setting)]
        result = run_cli("crawl", str(seeds), "--db", db_url, "-q", *FAST, *extra)
        hits = [path for server in web.servers.values() for path, *_ in server.hits]
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1: hijacks found
    return hits, db_rows(
        db_url,
        "SELECT p.url, p.profile, p.status, p.content_type, count(f.id) AS script_findings"
        " FROM pages p LEFT JOIN findings f ON f.page_id = p.id"
        " AND f.evidence LIKE 'external script%' GROUP BY p.id",
    )


def test_a_url_used_as_page_and_script_is_fetched_as_both(sqlite_url: str, tmp_path: Path) -> None:
    site = SiteSpec("library", {"/": Page(HOME.encode()), "/go.php": Page(GO.encode())})
    hits, pages = crawl(site, 120, sqlite_url, tmp_path, "HIJACKWATCH_PROFILE_MODE=off")
    assert hits.count("/go.php") == 2, hits  # once as a page, once as a script
    urls = {r.url for r in pages if r.status == 200}
    assert {u.rsplit("/", 1)[-1] for u in urls} == {"", "go.php"}, urls


def _cloaked_as_text(headers: Mapping[str, str]) -> Page:
    if "googlebot" in headers.get("user-agent", "").lower():
        spam = "百家乐 澳门新葡京 真人娱乐官网 " * 50
        return Page(spam.encode(), content_type="text/plain; charset=utf-8")
    return Page(GO.encode())


def test_a_profile_view_that_is_not_html_keeps_its_row(sqlite_url: str, tmp_path: Path) -> None:
    site = SiteSpec("library", {"/": Page(GO.encode())}, {"/": _cloaked_as_text})
    _hits, pages = crawl(
        site, 121, sqlite_url, tmp_path, "HIJACKWATCH_PROFILES=googlebot,search-baidu"
    )
    views = {r.profile: r for r in pages if r.status == 200}
    assert set(views) == {"browser", "googlebot", "search-baidu"}, views
    assert views["googlebot"].content_type.startswith("text/plain")


KIT = (
    b'var r=document.referrer;if(r.indexOf("baidu")>-1||r.indexOf("google")>-1)'
    b'{window.location.href="http://casino-royal.example/?from="+location.host;}'
)


def test_scripts_are_fetched_while_waiting_pages_fill_the_scraper(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Page items wait in the pipelines for their scripts' analyses. Once enough of them
    wait (here: any one), the engine takes no more requests from the scheduler; scripts
    queued there would arrive only after HIJACKWATCH_SCRIPT_WAIT, and the pages would be
    stored without their script findings."""
    links = "".join(f'<a href="/p{n}.html">p{n}</a>' for n in range(4))
    pages = {"/": Page(html_page("Town hall", f"<p>News.</p>{links}").encode())}
    for n in range(4):
        body = f'<p>Notice {n}.</p><script src="/js/kit{n}.js"></script>'
        pages[f"/p{n}.html"] = Page(html_page(f"Notice {n}", body).encode())
        pages[f"/js/kit{n}.js"] = Page(KIT, content_type="application/javascript")
    site = SiteSpec("townhall", pages)
    _hits, found = crawl(
        site, 122, sqlite_url, tmp_path,
        "HIJACKWATCH_PROFILE_MODE=off",
        "SCRAPER_SLOT_MAX_ACTIVE_SIZE=1",
        "HIJACKWATCH_SCRIPT_WAIT=4",
    )  # fmt: skip
    flagged = {r.url.rsplit("/", 1)[-1]: r.script_findings for r in found}
    assert all(flagged[f"p{n}.html"] >= 1 for n in range(4)), flagged
