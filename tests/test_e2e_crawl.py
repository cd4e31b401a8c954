"""End to end: the real CLI runs the real Scrapy engine over real HTTP into a real database."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import create_engine, text

from hijackwatch.demo import FixtureWeb
from tests.conftest import SEED_PAGE, http_server

REPO = Path(__file__).resolve().parent.parent
# LOOPBACK_ONLY: whatever a fixture page references, the crawl never leaves 127.0.0.0/8
FAST = [
    "-s",
    "DOWNLOAD_TIMEOUT=3",
    "-s",
    "HIJACKWATCH_PROGRESS_INTERVAL=0",
    "-s",
    "HIJACKWATCH_LOOPBACK_ONLY=1",
]


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it; a fresh process, since Twisted's reactor runs once."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("HIJACKWATCH_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "hijackwatch", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def browser_verdicts(db_url: str, run_id: int | None = None) -> dict[str, str]:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        run = run_id or conn.execute(text("SELECT max(id) FROM crawl_runs")).scalar_one()
        rows = conn.execute(
            text("SELECT url, verdict FROM pages WHERE run_id = :run AND profile = 'browser'"),
            {"run": run},
        ).all()
    engine.dispose()
    return {url: verdict for url, verdict in rows}


@pytest.fixture
def web():
    with FixtureWeb() as fixture:
        yield fixture


def test_crawl_fixture_web_verdicts(web: FixtureWeb, db_url: str, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    web.write_seeds(str(seeds), extra=["this is not a domain", "ftp://files.example.org/"])
    result = run_cli(
        "crawl", str(seeds), "--db", db_url, "-q", *FAST, "-s", "HIJACKWATCH_PROFILE_MODE=off"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # malformed seed lines are reported with their line number, the rest is crawled
    bad = 2 + len(web.seeds) + len(web.dead_seeds)  # after the header and the good lines
    assert f"line {bad}: " in result.stderr and "this is not a domain" in result.stderr
    assert f"line {bad + 1}: " in result.stderr and "ftp" in result.stderr

    verdicts = browser_verdicts(db_url)
    expected = web.expected_verdicts()
    assert len(expected) >= 25
    wrong = {
        f"{base}{path.lstrip('/')}": (verdicts.get(f"{base}{path.lstrip('/')}"), want)
        for (base, path), want in expected.items()
        if verdicts.get(f"{base}{path.lstrip('/')}") != want
    }
    assert not wrong, f"(got, expected) per URL: {wrong}"

    engine = create_engine(db_url)
    with engine.connect() as conn:
        # a parasite page reachable only through the sitemap was found
        kampus = web.base_of("kampus-id")
        assert verdicts[f"{kampus}wp-content/uploads/judi-online.html"] == "hijacked"
        # the dead site is recorded as an error row, not lost
        dead = web.dead_seeds[0]
        err = conn.execute(
            text("SELECT status, error FROM pages WHERE url = :u"), {"u": dead}
        ).one()
        assert err.status is None and err.error
        # non-HTML (PDF) is skipped, 404s are recorded with their status
        uni = web.base_of("city-university")
        assert f"{uni}prospectus.pdf" not in verdicts
        status = conn.execute(
            text("SELECT status FROM pages WHERE url = :u"), {"u": f"{uni}old-page/"}
        ).scalar_one()
        assert status == 404
        # the seed-like hijacked article carries the seed's three signals
        news = web.base_of("metro-news")
        kinds = set(
            conn.execute(
                text(
                    "SELECT f.kind FROM findings f JOIN pages p ON p.id = f.page_id"
                    " WHERE p.url = :u"
                ),
                {"u": f"{news}news/19035.html"},
            ).scalars()
        )
        assert {"title_injection", "template_debris", "injected_text"} <= kinds
        # nothing outside the fixture web was crawled: every page is on a seed's site
        hosts = {row[0].split("/")[2] for row in conn.execute(text("SELECT url FROM pages"))}
        allowed = {seed.split("/")[2] for seed in [*web.seeds, *web.dead_seeds]}
        assert hosts <= allowed
        run = conn.execute(text("SELECT status, finished_at FROM crawl_runs")).one()
        assert run.status == "finished" and run.finished_at is not None
    engine.dispose()


def test_crawl_missing_seeds_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_cli("crawl", str(tmp_path / "nope.txt"), "--db", f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "seeds file not found" in lines[0]


def test_crawl_unreachable_database_fails_before_crawling(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("example.org\n")
    result = run_cli(
        "crawl",
        str(seeds),
        "--db",
        "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
    )
    assert result.returncode == 3, result.stderr
    assert "database" in result.stderr.lower()


def test_crawl_with_storage_off_succeeds_and_says_so(web: FixtureWeb, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(web.base_of("city-university") + "\n")
    db = tmp_path / "x.db"
    result = run_cli(
        "crawl",
        str(seeds),
        "--db",
        f"sqlite:///{db}",
        "-q",
        "--max-pages",
        "2",
        *FAST,
        "-s",
        "HIJACKWATCH_PROFILE_MODE=off",
        "-s",
        "HIJACKWATCH_STORAGE_ENABLED=0",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "storage is off, nothing was recorded (finished)" in result.stderr
    assert "crawl summary" in result.stdout


def test_page_and_depth_limits_hold_per_site(
    web: FixtureWeb, sqlite_url: str, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(web.base_of("city-university") + "\n")
    result = run_cli(
        "crawl",
        str(seeds),
        "--db",
        sqlite_url,
        "-q",
        "--max-pages",
        "4",
        *FAST,
        "-s",
        "HIJACKWATCH_PROFILE_MODE=off",
        "-s",
        "HIJACKWATCH_PROGRESS_INTERVAL=0.2",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    urls = set(browser_verdicts(sqlite_url))
    assert 1 <= len(urls) <= 4
    # a progress line (one at the end too), then the summary table
    assert f"progress: sites 1/1 done, {len(urls)} pages" in result.stderr
    assert "crawl summary" in result.stdout

    shallow = tmp_path / "shallow.db"
    result = run_cli(
        "crawl",
        str(seeds),
        "--db",
        f"sqlite:///{shallow}",
        "-q",
        "--max-depth",
        "0",
        *FAST,
        "-s",
        "HIJACKWATCH_PROFILE_MODE=off",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    base = web.base_of("city-university")
    # depth 0: the homepage plus what the sitemap lists (sitemap URLs count as depth 1
    # and are cut too), nothing reached by following links
    assert set(browser_verdicts(f"sqlite:///{shallow}")) == {base}


def test_no_control_ports() -> None:
    """Crawling hostile sites: no telnet console, no remote-control server."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("hijackwatch.settings", priority="project")
    assert settings.getbool("TELNETCONSOLE_ENABLED") is False
    assert settings.getbool("REMOTE_CONTROL_ENABLED") is False
    assert settings.getint("DOWNLOAD_MAXSIZE") <= 10 * 1024 * 1024


def test_scrapy_crawl_from_repository_root(
    web: FixtureWeb, sqlite_url: str, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(web.base_of("metro-news") + "\n")
    env = {**os.environ}
    env.pop("HIJACKWATCH_DB_URL", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "hijack",
            "-a",
            f"seeds={seeds}",
            "-s",
            f"HIJACKWATCH_DB_URL={sqlite_url}",
            "-s",
            "HIJACKWATCH_PROFILE_MODE=off",
            "-s",
            "HIJACKWATCH_LOOPBACK_ONLY=1",
            "-s",
            "LOG_LEVEL=WARNING",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    verdicts = browser_verdicts(sqlite_url)
    base = web.base_of("metro-news")
    assert verdicts[f"{base}news/19035.html"] == "hijacked"
    assert verdicts[base] == "clean"


SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def _sitemap_xml(kind: str, *paths: str) -> bytes:
    entry = "sitemap" if kind == "sitemapindex" else "url"
    items = "".join(f"<{entry}><loc>{{base}}{path}</loc></{entry}>" for path in paths)
    return f'<?xml version="1.0"?><{kind} {SITEMAP_NS}>{items}</{kind}>'.encode()


class _SitemapIndexSite(BaseHTTPRequestHandler):
    """A WordPress-like site whose parasite pages are listed only in the child sitemaps
    of its /sitemap.xml index (Yoast's post-sitemap.xml, a gzip page-sitemap.xml.gz),
    with indexes that list each other and an endless chain of them."""

    requests: ClassVar[Counter[str]] = Counter()
    lock = threading.Lock()
    FILES: ClassVar[dict[str, bytes]] = {
        "/robots.txt": b"User-agent: *\nSitemap: {base}/sitemap.xml\n",
        "/sitemap.xml": _sitemap_xml(
            "sitemapindex",
            "/post-sitemap.xml",
            "/page-sitemap.xml.gz",
            "/loop-sitemap.xml",
            "/chain/1.xml",
        ),
        "/post-sitemap.xml": _sitemap_xml("urlset", "/bet/777.html", "/feed.xml"),
        "/page-sitemap.xml.gz": _sitemap_xml("urlset", "/bet/888.html", "/backup.xml.gz"),
        "/loop-sitemap.xml": _sitemap_xml("sitemapindex", "/sitemap.xml", "/loop-sitemap.xml"),
    }

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.lock:
            self.requests[self.path] += 1
        base = f"http://{self.headers['Host']}".encode()
        ctype = "application/xml"
        if self.path == "/":
            body, ctype = (
                b"<html><body><p>Opening hours of the library.</p></body></html>",
                "text/html",
            )
        elif self.path.startswith("/bet/"):
            body, ctype = SEED_PAGE.read_bytes(), "text/html; charset=utf-8"
        elif self.path.startswith("/chain/") and self.path.endswith(".xml"):
            n = int(self.path.split("/")[2].removesuffix(".xml"))
            body = _sitemap_xml("sitemapindex", f"/chain/{n + 1}.xml")
        elif self.path in self.FILES:
            body = self.FILES[self.path]
            ctype = "text/plain" if self.path == "/robots.txt" else ctype
        else:
            self.send_error(404)
            return
        body = body.replace(b"{base}", base)
        if self.path.endswith(".gz"):
            body, ctype = gzip.compress(body), "application/x-gzip"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_crawl_reads_the_sitemaps_a_sitemap_index_names(sqlite_url: str, tmp_path: Path) -> None:
    """Children of a sitemap index named *.xml and *.xml.gz are read (they were taken for
    files and skipped); indexes that loop or never end stop at HIJACKWATCH_MAX_SITEMAPS."""
    _SitemapIndexSite.requests = Counter()
    with http_server(_SitemapIndexSite, "127.0.0.61") as base:
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(f"{base}/\n")
        result = run_cli(
            "crawl",
            str(seeds),
            "--db",
            sqlite_url,
            "-q",
            *FAST,
            "-s",
            "HIJACKWATCH_PROFILE_MODE=off",
            "-s",
            "HIJACKWATCH_MAX_SITEMAPS=8",
        )
    assert result.returncode == 0, result.stderr[-3000:]
    verdicts = browser_verdicts(sqlite_url)
    # the parasite pages only the child sitemaps list
    assert verdicts.get(f"{base}/bet/777.html") == "hijacked", verdicts
    assert verdicts.get(f"{base}/bet/888.html") == "hijacked", verdicts
    requests = _SitemapIndexSite.requests
    # a urlset's .xml and .gz entries are files, not pages
    assert "/feed.xml" not in requests and "/backup.xml.gz" not in requests
    # every sitemap once, robots.txt's repeat of /sitemap.xml and the loop included;
    # the endless chain stops at the budget of 8 sitemap files
    sitemaps = {path for path in requests if path.endswith((".xml", ".gz"))}
    assert sitemaps == {
        "/sitemap.xml",
        "/post-sitemap.xml",
        "/page-sitemap.xml.gz",
        "/loop-sitemap.xml",
        "/chain/1.xml",
        "/chain/2.xml",
        "/chain/3.xml",
        "/chain/4.xml",
    }
    assert all(requests[path] == 1 for path in sitemaps), requests
