"""What the crawl records for where it starts: every start URL of a site (QA L5), a site
that answers only errors (QA M1) and a site on an IPv6 literal (QA L4)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import db_rows, http_server, reply
from tests.test_e2e_crawl import FAST, browser_verdicts, run_cli


def _crawl(seeds: Path, db_url: str, *args: str) -> str:
    """Crawl ``seeds`` (profiles off); returns stdout and stderr."""
    result = run_cli(
        "crawl", str(seeds), "--db", db_url, *FAST, "-s", "HIJACKWATCH_PROFILE_MODE=off", *args
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


class _Sections(BaseHTTPRequestHandler):
    """A homepage and a /news/ section that nothing links: each links pages of its own."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path in ("/", "/news/"):
            links = "".join(f'<a href="{self.path}p{n}.html">{n}</a>' for n in range(5))
            body = f"<html><body><p>Section {self.path}</p>{links}</body></html>".encode()
        elif self.path.endswith(".html"):
            body = b"<html><body><p>An article.</p></body></html>"
        else:
            self.send_error(404)
            return
        reply(self, body)


def test_another_url_of_a_listed_site_is_one_more_start_page(
    sqlite_url: str, tmp_path: Path
) -> None:
    with http_server(_Sections, "127.0.0.86") as base:
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(f"{base}/\n{base}/news/\n{base}/news/\n")
        out = _crawl(seeds, sqlite_url, "--max-pages", "4")
    # the same page twice is still a duplicate; another page of the site is not
    assert "line 3: duplicate of an earlier entry" in out
    assert "line 2" not in out
    rows = db_rows(sqlite_url, "SELECT url, site_id, depth FROM pages")
    depths = {url: depth for url, _, depth in rows}
    assert depths[f"{base}/"] == 0 and depths[f"{base}/news/"] == 0
    # one site, one page budget for both start pages
    assert len({site for _, site, _ in rows}) == 1
    assert len(rows) == 4
    assert len(db_rows(sqlite_url, "SELECT id FROM sites")) == 1


def _answering(status: int, ctype: str, body: bytes) -> type[BaseHTTPRequestHandler]:
    class Answer(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            reply(self, body, ctype, status)

    return Answer


def test_a_site_answering_only_errors_keeps_its_rows(sqlite_url: str, tmp_path: Path) -> None:
    """503 as text/plain or JSON, 403 as text/plain: not pages, but the site was seen
    answering errors, and a row per fetch says so (it used to vanish from the run)."""
    answers = [
        (503, "text/plain", b"Service Unavailable"),
        (503, "application/json", b'{"error":"maintenance"}'),
        (403, "text/plain; charset=utf-8", b"Access denied"),
    ]
    with (
        http_server(_answering(*answers[0]), "127.0.0.85") as plain,
        http_server(_answering(*answers[1]), "127.0.0.85") as json,
        http_server(_answering(*answers[2]), "127.0.0.85") as denied,
    ):
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(f"{plain}/\n{json}/\n{denied}/\n")
        out = _crawl(seeds, sqlite_url, "-s", "RETRY_ENABLED=0")
    rows = {
        url: (status, ctype, error)
        for url, status, ctype, error in db_rows(
            sqlite_url, "SELECT url, status, content_type, error FROM pages"
        )
    }
    for base, (status, ctype, _) in zip((plain, json, denied), answers, strict=True):
        assert rows[f"{base}/"] == (status, ctype, None), rows
        assert base.removeprefix("http://") in out  # in the crawl summary
    # robots.txt and /sitemap.xml answered errors too: optional files, no rows
    assert len(rows) == 3


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture
def ipv6_site() -> Iterator[str]:
    """The _Sections site on the IPv6 loopback address (skipped where there is none)."""
    try:
        httpd = _V6Server(("::1", 0), _Sections)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://[::1]:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_ipv6_literal_seed_is_crawled(ipv6_site: str, sqlite_url: str, tmp_path: Path) -> None:
    """Scrapy's default resolver is IPv4 only ("no results for hostname lookup: ::1");
    HIJACKWATCH_LOOPBACK_ONLY (FAST sets it) lets ::1 through."""
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{ipv6_site}/\n")
    _crawl(seeds, sqlite_url)
    verdicts = browser_verdicts(sqlite_url)
    assert verdicts[f"{ipv6_site}/"] == "clean", verdicts
    assert f"{ipv6_site}/p4.html" in verdicts  # its links followed too
    errors = db_rows(sqlite_url, "SELECT url, error FROM pages WHERE error IS NOT NULL")
    assert errors == []
