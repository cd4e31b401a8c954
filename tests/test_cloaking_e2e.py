"""End to end: the real CLI crawls cloaking fixture servers with every visitor profile.

Real HTTP servers on 127.0.0.x, the real Scrapy engine in a fresh process, a real
SQLite file. Cloaking by user agent, by referer, obfuscated inline and external
(same-host and other-host) redirect scripts must be flagged; the honest dynamic
site, whose every response differs, must not.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from hijackwatch.demo import FixtureWeb
from hijackwatch.demo.cloaking_sites import CLOAKED, HONEST, SCRIPTED, cloaking_sites
from hijackwatch.profiles import BUILTIN_PROFILES, DEFAULT_PROFILES
from tests.conftest import SEED_PAGE, db_rows, http_server, reply
from tests.test_e2e_crawl import FAST, run_cli

CLOAKING_KINDS = {"ua_cloaking", "referer_cloaking"}


@pytest.fixture
def web():
    with FixtureWeb(sites=cloaking_sites(1), first_address=60) as fixture:
        yield fixture


def crawl_rows(web: FixtureWeb, db_url: str, tmp_path: Path, *settings: str) -> list[Any]:
    seeds = tmp_path / "seeds.txt"
    web.write_seeds(str(seeds))
    args = [f"-s{s}" for s in settings]
    result = run_cli("crawl", str(seeds), "--db", db_url, "-q", *FAST, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    engine = create_engine(db_url)
    with engine.connect() as conn:
        pages = conn.execute(
            text("SELECT id, url, profile, verdict, final_url, status, referer FROM pages")
        ).all()
        kinds: dict[int, set[str]] = defaultdict(set)
        evidence: dict[int, list[str]] = defaultdict(list)
        for page_id, kind, ev in conn.execute(text("SELECT page_id, kind, evidence FROM findings")):
            kinds[page_id].add(kind)
            evidence[page_id].append(ev or "")
    engine.dispose()
    return [
        {**row._asdict(), "kinds": kinds[row.id], "evidence": evidence[row.id]} for row in pages
    ]


def by_page(web: FixtureWeb, rows: list[Any]) -> dict[tuple[str, str, str], Any]:
    """(site name, path, profile) -> row."""
    bases = {url: site.name for url, site in web.site_urls()}
    out = {}
    for row in rows:
        for base, name in bases.items():
            if row["url"].startswith(base):
                out[(name, "/" + row["url"][len(base) :], row["profile"])] = row
    return out


def test_all_profiles_flag_cloaking_and_leave_dynamic_pages_clean(
    web: FixtureWeb, sqlite_url: str, tmp_path: Path
) -> None:
    rows = crawl_rows(web, sqlite_url, tmp_path, "HIJACKWATCH_PROFILE_MODE=all")
    pages = by_page(web, rows)

    # every HTML page was fetched once per profile, each its own row
    per_url = Counter(row["url"] for row in rows)
    html_urls = {r["url"] for r in rows if r["profile"] == "browser" and r["status"] is not None}
    assert len(html_urls) >= 25
    assert all(per_url[url] == len(DEFAULT_PROFILES) for url in html_urls), per_url

    for (site, path), kind in CLOAKED.items():
        assert pages[(site, path, "browser")]["verdict"] == "clean", (site, path)
        flagged = [
            p
            for (s, pa, p), row in pages.items()
            if (s, pa) == (site, path) and kind in row["kinds"] and row["verdict"] == "hijacked"
        ]
        assert flagged, f"{site}{path}: no profile row with {kind}"
        # evidence names both views
        row = pages[(site, path, flagged[0])]
        assert any("browser" in ev and flagged[0] in ev for ev in row["evidence"])

    # UA cloaking is seen by crawler profiles, not by search visitors (and vice versa)
    assert "ua_cloaking" in pages[("ua-cloak", "/", "baiduspider")]["kinds"]
    assert not pages[("ua-cloak", "/", "search-baidu")]["kinds"] & CLOAKING_KINDS
    assert not pages[("referer-cloak", "/", "googlebot")]["kinds"] & CLOAKING_KINDS
    hop = pages[("referer-cloak", "/", "search-baidu")]
    assert hop["status"] == 302 and "vip8888-casino.invalid" in hop["final_url"]
    assert hop["referer"].startswith("https://www.baidu.com/s?wd=")

    for (site, path), kind in SCRIPTED.items():
        row = pages[(site, path, "browser")]
        assert kind in row["kinds"] and row["verdict"] == "hijacked", (site, path, row)
    # the other-host script's finding names the script
    cdn = web.base_of("script-cdn")
    row = pages[("script-redirect", "/news/4.html", "browser")]
    assert any(f"external script {cdn}static/js/stat.js" in ev for ev in row["evidence"])

    honest = [row for (site, _, _), row in pages.items() if site in HONEST]
    assert len(honest) >= 16 * len(DEFAULT_PROFILES)
    dirty = [(r["url"], r["profile"], r["kinds"]) for r in honest if r["verdict"] != "clean"]
    assert not dirty

    # each external script was fetched once, although several pages and profiles load it
    script_hits = [h for h in web.hits("script-redirect") if h[0] == "/js/common.js"]
    cdn_hits = [h for h in web.hits("script-cdn") if h[0] == "/static/js/stat.js"]
    assert len(script_hits) == 1 and len(cdn_hits) == 1
    # crawler profiles really sent their user agents
    agents = {h[1] for h in web.hits("ua-cloak") if h[0] == "/"}
    assert any("Baiduspider" in a for a in agents) and any("Googlebot" in a for a in agents)


def test_sample_mode_profiles_homepages_samples_and_suspicious_pages(
    web: FixtureWeb, sqlite_url: str, tmp_path: Path
) -> None:
    rows = crawl_rows(
        web, sqlite_url, tmp_path, "HIJACKWATCH_PROFILE_MODE=sample", "HIJACKWATCH_PROFILE_SAMPLE=0"
    )
    pages = by_page(web, rows)
    profiled = {(site, path) for (site, path, profile) in pages if profile != "browser"}
    # homepages always
    assert {(s.name, "/") for s in cloaking_sites(1)} <= profiled
    assert "ua_cloaking" in pages[("ua-cloak", "/", "googlebot")]["kinds"]
    assert "referer_cloaking" in pages[("referer-cloak", "/", "search-baidu")]["kinds"]
    # pages whose browser view is suspicious (scripts) get every profile too
    for key in SCRIPTED:
        assert key in profiled, key
    # a clean-looking page beyond the sample is not profiled: the mode's blind spot
    assert ("ua-cloak", "/news/1.html") not in profiled
    assert ("dynamic-news", "/story/1.html") not in profiled
    assert pages[("ua-cloak", "/news/1.html", "browser")]["verdict"] == "clean"


def test_profiles_off_fetches_each_page_once(
    web: FixtureWeb, sqlite_url: str, tmp_path: Path
) -> None:
    rows = crawl_rows(web, sqlite_url, tmp_path, "HIJACKWATCH_PROFILE_MODE=off")
    assert rows and {row["profile"] for row in rows} == {"browser"}
    assert max(Counter(row["url"] for row in rows).values()) == 1
    # external scripts are still analysed without profiles
    pages = by_page(web, rows)
    assert "script_redirect" in pages[("script-redirect", "/news/3.html", "browser")]["kinds"]


LIBRARY = (
    b"<html><head><title>County library</title></head><body><h1>County library</h1>"
    b"<p>Opening hours: nine to five, Monday to Saturday; closed on holidays.</p>"
    b"<p>Our reading room has newspapers, magazines and free wireless access.</p>"
    b"</body></html>"
)


def crawl_one_site(
    answer: Callable[[BaseHTTPRequestHandler], None], host: str, tmp_path: Path
) -> tuple[str, dict[str, str]]:
    """Crawl a site whose every GET ``answer`` handles, with every profile; returns its
    base URL and the verdict of its homepage row per profile."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            answer(self)

    with http_server(Handler, host) as base:
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(base + "/\n", encoding="utf-8")
        db_url = f"sqlite:///{tmp_path / 'hw.db'}"
        result = run_cli("crawl", str(seeds), "--db", db_url, "-q", *FAST)
        assert result.returncode == 0, result.stderr[-3000:]
    return base, dict(db_rows(db_url, "SELECT profile, verdict FROM pages"))


def test_language_cloaking_is_seen_by_the_chinese_visitors(tmp_path: Path) -> None:
    """A kit serving its spam to Chinese-speaking visitors only (Accept-Language zh) is
    caught by the profiles that send what Baiduspider and a Baidu user's browser send;
    each profile's language goes out as such (Googlebot sends none)."""
    sent: dict[tuple[str, str | None], str | None] = {}  # (UA, Referer) -> Accept-Language

    def answer(handler: BaseHTTPRequestHandler) -> None:
        language = handler.headers.get("Accept-Language")
        sent[(handler.headers.get("User-Agent", ""), handler.headers.get("Referer"))] = language
        chinese = (language or "").lower().startswith("zh")
        reply(handler, SEED_PAGE.read_bytes() if chinese else LIBRARY)

    base, verdicts = crawl_one_site(answer, "127.0.0.70", tmp_path)
    assert verdicts["browser"] == verdicts["googlebot"] == "clean"
    assert verdicts["baiduspider"] == verdicts["search-baidu"] == "hijacked"
    by_profile = {
        name: sent[(p.user_agent, p.referer_for(base + "/"))]
        for name, p in BUILTIN_PROFILES.items()
    }
    assert by_profile == {name: p.accept_language for name, p in BUILTIN_PROFILES.items()}
    assert by_profile["googlebot"] is None and by_profile["baiduspider"] == "zh-cn,zh-tw"


def test_search_visitors_keep_their_referer_across_a_redirect(tmp_path: Path) -> None:
    """``/`` redirects to ``/home/``, which shows spam to search traffic only: the search
    visitor must still arrive from the search engine there (and a crawler with no
    Referer still send none), as a browser does."""
    referers: dict[str, set[str | None]] = {}  # path -> Referers seen there

    def answer(handler: BaseHTTPRequestHandler) -> None:
        referer = handler.headers.get("Referer")
        referers.setdefault(handler.path, set()).add(referer)
        if handler.path == "/":
            reply(handler, b"", status=302, headers={"Location": "/home/"})
            return
        search = any(s in (referer or "") for s in ("baidu.com/s", "google.com/search"))
        reply(handler, SEED_PAGE.read_bytes() if search else LIBRARY)

    base, verdicts = crawl_one_site(answer, "127.0.0.71", tmp_path)
    assert verdicts["browser"] == verdicts["googlebot"] == "clean"
    assert verdicts["search-baidu"] == verdicts["search-google-mobile"] == "hijacked"
    search = BUILTIN_PROFILES["search-baidu"].referer_for(base + "/")
    assert search in referers["/home/"] and None in referers["/home/"]
    assert f"{base}/" not in referers["/home/"]  # no hop sent its own URL as the Referer
