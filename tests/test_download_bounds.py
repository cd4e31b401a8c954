"""End to end: a page past DOWNLOAD_MAXSIZE, or shorter than its Content-Length, is cut
and analysed, never dropped; a page that sends every visitor to a casino is hijacked.

A real HTTP server on 127.0.61.x, the real CLI and Scrapy engine in a fresh process, a
real SQLite file. Scrapy dropped a 12 MB page that travels as 13 KB of gzip (IgnoreRequest:
"exceeded DOWNLOAD_MAXSIZE"), so padding hid any hijacked page; an HTTP/1.0 body shorter
than its Content-Length was an error row (ResponseDataLossError) that `scan` analysed.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from hijackwatch.compression import CHUNK, brotli, decode_bounded, zstd
from hijackwatch.middlewares.bodies import PARTIAL_BODY, TRUNCATED, BoundedCompressionMiddleware
from hijackwatch.spiders.hijack import HijackSpider
from tests.conftest import db_rows, http_server
from tests.test_e2e_crawl import FAST, run_cli

LIMIT = 10 * 1024 * 1024  # settings.DOWNLOAD_MAXSIZE
SPAM = (Path(__file__).parent / "corpus" / "hijacked" / "en-hidden-001.html").read_bytes()
_END = SPAM.rindex(b"</body>")
PADDED = SPAM[:_END] + b"<!--" + b" " * (12 << 20) + b"-->" + SPAM[_END:]  # spam first
COMPRESS = {
    "gzip": lambda body: gzip.compress(body, 6),
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstd.compress,
}
CASINO = "http://slot-gacor88.xyz/daftar"
MOVED = "http://www.new-university-domain.org/"
HOME = (
    "<html><head><title>Faculty news</title></head><body><p>Seminars and events.</p>"
    + "".join(
        f'<a href="/{path}">{path}</a> '
        for path in [*(f"pad-{c}" for c in COMPRESS), "bigfront", "http10", "casino", "moved"]
    )
    + "</body></html>"
).encode()


class Site(BaseHTTPRequestHandler):
    # HTTP/1.0 (the default): every answer closes its connection, which ends /http10 early

    def do_GET(self) -> None:
        path = self.path.lstrip("/")
        if path in ("casino", "moved"):
            self.send_response(302)
            self.send_header("Location", CASINO if path == "casino" else MOVED)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {"Content-Type": "text/html; charset=utf-8"}
        length = None
        if path.startswith("pad-"):
            coding = path.removeprefix("pad-")
            body = COMPRESS[coding](PADDED)
            headers["Content-Encoding"] = coding
        elif path == "bigfront":
            body = PADDED  # 12 MB as sent: the handler used to abort on its Content-Length
        elif path == "http10":
            body, length = SPAM, 2 * len(SPAM)
        else:
            body = HOME
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length or len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the crawler stops reading at its limit
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """One crawl of the site with every profile; yields (base URL, path -> rows)."""
    tmp_path = tmp_path_factory.mktemp("bounds")
    db_url = f"sqlite:///{tmp_path / 'hijackwatch.db'}"
    with http_server(Site, host="127.0.61.1") as base:
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(f"{base}/\n")
        result = run_cli(
            "crawl", str(seeds), "--db", db_url, "-q", *FAST,
            "-s", "HIJACKWATCH_PROFILE_MODE=all", "-s", "HIJACKWATCH_CLOAKING_WAIT=10",
            timeout=300,
        )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr[-3000:]
    rows = db_rows(
        db_url,
        "SELECT p.id, p.url, p.profile, p.status, p.verdict, p.error, p.final_url, "
        "f.kind, f.severity, f.evidence FROM pages p LEFT JOIN findings f ON f.page_id = p.id",
    )
    pages: dict[str, dict[str, Any]] = defaultdict(dict)
    for row in rows:
        page = pages[row.url.removeprefix(base)].setdefault(
            row.profile, {"row": row, "findings": []}
        )
        if row.kind:
            page["findings"].append((row.kind, row.severity, row.evidence))
    yield base, pages


@pytest.mark.parametrize("path", [*(f"/pad-{c}" for c in COMPRESS), "/bigfront"])
def test_a_page_padded_past_the_limit_is_cut_and_analysed(
    crawl: tuple[str, dict[str, Any]], path: str
) -> None:
    _, pages = crawl
    views = pages[path]
    assert set(views) == {"browser", "googlebot", "googlebot-mobile", "baiduspider",
                          "search-baidu", "search-google-mobile"}  # fmt: skip
    for profile, view in views.items():
        row = view["row"]
        assert (row.status, row.error, row.verdict) == (200, None, "hijacked"), (profile, row)
        kinds = [kind for kind, _, _ in view["findings"]]
        assert "hidden_links" in kinds, (profile, kinds)
        (note,) = [f for f in view["findings"] if f[0] == PARTIAL_BODY]
        assert note[1] == "low"
        assert f"longer than {LIMIT} bytes" in note[2], note


def test_a_body_shorter_than_its_content_length_is_analysed(
    crawl: tuple[str, dict[str, Any]],
) -> None:
    _, pages = crawl
    browser = pages["/http10"]["browser"]
    assert (browser["row"].status, browser["row"].error) == (200, None)
    assert browser["row"].verdict == "hijacked"
    (note,) = [f for f in browser["findings"] if f[0] == PARTIAL_BODY]
    assert f"the {len(SPAM)} received were analysed" in note[2], note


def test_a_page_sending_everyone_to_a_casino_is_hijacked(
    crawl: tuple[str, dict[str, Any]],
) -> None:
    _, pages = crawl
    browser = pages["/casino"]["browser"]
    assert (browser["row"].status, browser["row"].final_url) == (302, CASINO)
    assert browser["row"].verdict == "hijacked"
    assert [(k, s) for k, s, _ in browser["findings"]] == [("offsite_redirect", "high")]
    assert CASINO in browser["findings"][0][2]


def test_a_redirect_to_an_ordinary_domain_is_a_domain_move(
    crawl: tuple[str, dict[str, Any]],
) -> None:
    _, pages = crawl
    assert "browser" in pages["/moved"]
    for profile, view in pages["/moved"].items():
        assert (view["row"].status, view["row"].verdict) == (302, "clean"), profile
        assert view["findings"] == [], profile
    assert pages["/"]["browser"]["findings"] == []  # a whole page gets no note


def test_scan_url_flags_a_redirect_of_every_visitor_to_a_casino() -> None:
    with http_server(Site, host="127.0.61.2") as base:
        result = run_cli("scan", "--json", f"{base}/casino", f"{base}/moved", timeout=60)
    assert result.returncode == 0, result.stderr
    casino, moved = (json.loads(line) for line in result.stdout.splitlines())
    assert casino["verdict"] == "hijacked"
    assert [(f["kind"], f["profile"]) for f in casino["findings"]] == [
        ("offsite_redirect", "browser")
    ]
    assert moved["verdict"] == "clean" and moved["findings"] == []


@pytest.mark.parametrize("coding", sorted(COMPRESS))
def test_a_compression_bomb_is_cut_at_the_limit(coding: str) -> None:
    """A bomb is cut (decoding stops one chunk past the limit); a body within it is whole."""
    bomb = COMPRESS[coding](b"\0" * (LIMIT + 20 * CHUNK))
    body, cut = decode_bounded(bomb, coding.encode(), LIMIT)
    assert cut and len(body) == LIMIT
    body, cut = decode_bounded(COMPRESS[coding](SPAM), coding.encode(), LIMIT)
    assert (body, cut) == (SPAM, False)
    exact = COMPRESS[coding](b"x" * LIMIT)
    assert decode_bounded(exact, coding.encode(), LIMIT)[1] is False


def test_endless_empty_gzip_members_are_refused_quickly() -> None:
    """Each gzip member copied the rest of the body: 10 MB of empty members took 91 s
    on the reactor thread. Past MAX_GZIP_MEMBERS (as scan's decoder) decoding stops."""
    members = gzip.compress(b"") * 500_000
    started = time.monotonic()
    with pytest.raises(zlib.error, match="gzip members"):
        decode_bounded(members, b"gzip", LIMIT)
    spam = gzip.compress(SPAM) + members  # what came first is kept
    assert decode_bounded(spam, b"gzip", LIMIT)[0] == SPAM
    assert time.monotonic() - started < 5


def test_only_page_views_are_cut_other_fetches_keep_scrapys_rule() -> None:
    """robots.txt, sitemaps and external scripts past the limit are still dropped."""
    crawler = get_crawler(HijackSpider, {"DOWNLOAD_MAXSIZE": LIMIT})
    crawler.stats.open_spider()
    middleware = BoundedCompressionMiddleware.from_crawler(crawler)
    bomb = COMPRESS["gzip"](PADDED)

    def fetch(meta: dict[str, Any]) -> Any:
        request = Request("http://127.0.61.3/p", meta=meta)
        middleware.process_request(request)
        headers = {"Content-Encoding": "gzip", "Content-Type": "text/html"}
        return middleware.process_response(
            request, HtmlResponse(request.url, body=bomb, headers=headers, request=request)
        )

    with pytest.raises(IgnoreRequest, match="exceeded DOWNLOAD_MAXSIZE"):
        fetch({"hw_site": "127.0.61.3"})
    page = fetch({"hw_site": "127.0.61.3", "hw_profile": "googlebot"})
    assert page.body == PADDED[:LIMIT] and TRUNCATED in page.flags
    assert crawler.stats.get_value("hijackwatch/bodies_truncated") == 1


def test_scan_url_cuts_a_page_past_the_limit_and_analyses_it() -> None:
    """``scan`` refused a page over 10 MB after decoding ("more than 10485760 bytes
    decoded") and cut one sent plain at 5 MB without a word; now it cuts both at the
    crawl's limit and says so with the crawl's note."""
    with http_server(Site, host="127.0.61.3") as base:
        result = run_cli(
            "scan", "--json", "--profile", "googlebot", f"{base}/pad-gzip", f"{base}/bigfront",
            timeout=120,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        record = json.loads(line)
        assert record["verdict"] == "hijacked", record
        kinds = {(f["kind"], f["profile"]) for f in record["findings"]}
        assert {("hidden_links", "browser"), ("hidden_links", "googlebot")} <= kinds, kinds
        notes = [f for f in record["findings"] if f["kind"] == PARTIAL_BODY]
        assert {f["profile"] for f in notes} == {"browser", "googlebot"}, notes
        for note in notes:
            assert note["severity"] == "low"
            assert f"longer than {LIMIT} bytes" in note["evidence"], note
    assert len(result.stdout.splitlines()) == 2
