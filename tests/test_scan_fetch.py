"""``hijackwatch scan URL`` against hostile servers: trickled bytes, Ctrl-C, compressed
and unanalysable bodies (real HTTP servers on 127.0.0.1, the real CLI)."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import brotli
import pytest

from hijackwatch.cli import main
from hijackwatch.compression import MAX_GZIP_MEMBERS, zstd
from hijackwatch.profiles import BUILTIN_PROFILES, PAGE_MAX_BYTES, fetch_page, fetch_view
from tests.conftest import BENIGN_DIR, SEED_PAGE, http_server

ROOT = Path(__file__).resolve().parents[1]
TRICKLE_GAP = 0.2  # s between two bytes: every recv gets data, no socket timeout fires
GZIP_SEED = gzip.compress(SEED_PAGE.read_bytes())
BOMB = gzip.compress(b"\0" * (PAGE_MAX_BYTES + 10 * 1024 * 1024), 9)  # ~20 KB
CLEAN_PAGE = (BENIGN_DIR / "readability" / "001.html").read_bytes()
CRAWLER_ONLY = "/trickle-for-crawlers"  # the browser gets CLEAN_PAGE at once


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    # path -> (headers, body); Content-Encoding is sent whatever the client accepts
    pages: ClassVar[dict[str, tuple[dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        crawler = "Googlebot" in (self.headers.get("User-Agent") or "")
        if self.path == "/trickle-body" or (self.path == CRAWLER_ONLY and crawler):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self._trickle(b"<html><head><title>slow</title></head><body>" + b"a" * 10_000)
            return
        if self.path == "/trickle-headers":
            self._trickle(b"HTTP/1.0 200 OK\r\nX-Slow: " + b"a" * 10_000)
            return
        if self.path == CRAWLER_ONLY:
            headers, body = {}, CLEAN_PAGE
        else:
            headers, body = self.pages.get(self.path, ({}, b"not found"))
        self.send_response(200 if self.path in self.pages or self.path == CRAWLER_ONLY else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self, data: bytes) -> None:
        for i in range(len(data)):
            try:
                self.wfile.write(data[i : i + 1])
            except OSError:  # the client gave up
                return
            time.sleep(TRICKLE_GAP)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    _Handler.pages = {
        "/gzip.html": ({"Content-Encoding": "gzip"}, GZIP_SEED),
        # two gzip members, the spam in the second
        "/gzip2.html": (
            {"Content-Encoding": "gzip"},
            gzip.compress(b"<html><body>") + gzip.compress(SEED_PAGE.read_bytes()),
        ),
        "/deflate.html": ({"Content-Encoding": "deflate"}, zlib.compress(SEED_PAGE.read_bytes())),
        "/raw-deflate.html": (
            {"Content-Encoding": "deflate"},
            zlib.compress(SEED_PAGE.read_bytes(), wbits=-15),
        ),
        "/br.html": ({"Content-Encoding": "br"}, brotli.compress(SEED_PAGE.read_bytes())),
        "/zstd.html": ({"Content-Encoding": "zstd"}, zstd.compress(SEED_PAGE.read_bytes())),
        "/bomb.html": ({"Content-Encoding": "gzip"}, BOMB),
        # 200,000 empty members after the page: decoding each copied all that followed
        "/members.html": ({"Content-Encoding": "gzip"}, GZIP_SEED + gzip.compress(b"") * 200_000),
        "/empty-members.html": ({"Content-Encoding": "gzip"}, gzip.compress(b"") * 200_000),
        "/not-gzip.html": ({"Content-Encoding": "gzip"}, b"<title>casino</title>"),
        "/double-gzip.html": ({}, GZIP_SEED),  # gzip data served as a plain HTML body
        "/binary.html": ({}, b"\x7fELF\x02\x01\x01" + bytes(600)),
        "/empty.html": ({}, b""),
    }
    with http_server(_Handler) as url:
        yield url


def scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict], str]:
    code = main(["scan", "--json", *args])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


# --- item 2: a trickling server cannot hold a fetch past its deadline ---------------------


@pytest.mark.parametrize("path", ["/trickle-body", "/trickle-headers"])
def test_a_trickling_server_is_cut_off_at_the_deadline(server: str, path: str) -> None:
    started = time.monotonic()
    view = fetch_view(server + path, BUILTIN_PROFILES["googlebot"], timeout=1.0)
    elapsed = time.monotonic() - started
    assert view.status is None and view.error is not None
    assert "timed out" in view.error and "1 s" in view.error
    assert elapsed < 1.0 + 1.0, elapsed  # old code: a recv every 0.2 s, never timed out


def test_scan_cli_gives_up_on_a_trickling_view_and_says_so(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code, (record,), _ = scan(
        capsys, "--timeout", "1", "--profile", "googlebot", server + CRAWLER_ONLY
    )
    assert time.monotonic() - started < 1.0 + 2.0
    views = {view["profile"]: view for view in record["profiles"]}
    assert views["browser"]["verdict"] == "clean"
    assert views["googlebot"]["verdict"] == "error" and views["googlebot"]["status"] is None
    # the crawler's view is the one cloakers poison: unread, it leaves the page unchecked
    assert record["verdict"] == "error" and "timed out" in record["error"]
    assert code == 2


def test_scan_cli_every_view_trickling_is_a_fetch_failure(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code, records, err = scan(capsys, "--timeout", "1", server + "/trickle-body")
    assert time.monotonic() - started < 1.0 + 2.0  # six profiles, fetched in parallel
    assert code == 2 and records == []
    assert "fetch failed" in err and "timed out" in err


def test_ctrl_c_stops_a_scan_at_once_with_status_130(server: str) -> None:
    """A real ``python -m hijackwatch scan`` on a trickling server, sent SIGINT."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hijackwatch", "scan", server + "/trickle-body"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a shell's background job would start with SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        time.sleep(3)  # imported, fetching (the default deadline is 15 s)
        assert proc.poll() is None
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        waited = time.monotonic() - sent
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, (out, err)
    assert waited < 2.0, waited  # old code: waited for the fetch threads, i.e. ever
    assert err.strip() == "hijackwatch scan: interrupted" and "Traceback" not in err


# --- item 5: an unknown --profile is an error -----------------------------------------


def test_an_unknown_profile_is_a_usage_error_naming_it(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, records, err = scan(capsys, "--profile", "googelbot,baiduspider", server + "/gzip.html")
    assert code == 2 and records == []  # nothing scanned as the browser alone
    assert "unknown profile 'googelbot'" in err
    assert "googlebot, googlebot-mobile, baiduspider, search-baidu" in err


# --- item 11: compressed and unanalysable bodies ----------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/gzip.html", "/gzip2.html", "/deflate.html", "/raw-deflate.html", "/br.html", "/zstd.html"],
)
def test_content_encoding_is_decoded(
    server: str, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    code, (record,), _ = scan(capsys, "--profile", "googlebot", server + path)
    assert code == 0
    assert record["verdict"] == "hijacked", record
    assert {view["verdict"] for view in record["profiles"]} == {"hijacked"}


def test_a_gzip_bomb_stays_bounded(server: str) -> None:
    """Cut at the limit, as the crawl cuts it (and analysed: a page padded past the
    limit must not hide), never decoded further."""
    started = time.monotonic()
    view = fetch_view(server + "/bomb.html", BUILTIN_PROFILES["browser"], timeout=5)
    assert view.error is None and view.cut_at == PAGE_MAX_BYTES
    assert view.body is not None and len(view.body) == PAGE_MAX_BYTES
    assert time.monotonic() - started < 3


def test_countless_gzip_members_are_cut_quickly(server: str) -> None:
    """Decoding stops after MAX_GZIP_MEMBERS: the page in the first is kept and analysed
    (as in the crawl); a body of nothing but empty members is an error."""
    started = time.monotonic()
    view = fetch_view(server + "/members.html", BUILTIN_PROFILES["browser"], timeout=30)
    assert view.error is None and view.body == SEED_PAGE.read_bytes()
    view = fetch_view(server + "/empty-members.html", BUILTIN_PROFILES["browser"], timeout=30)
    assert view.error and f"more than {MAX_GZIP_MEMBERS} gzip members" in view.error
    assert time.monotonic() - started < 10


def test_a_profile_option_naming_none_is_a_usage_error(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, records, err = scan(capsys, "--profile", ",", server + "/gzip.html")
    assert code == 2 and records == [] and "no profile named" in err


def test_a_bad_gzip_stream_is_a_view_error(server: str) -> None:
    view = fetch_view(server + "/not-gzip.html", BUILTIN_PROFILES["browser"], timeout=5)
    assert view.error and "cannot decode Content-Encoding gzip" in view.error


def test_the_fetch_asks_for_what_it_decodes(server: str) -> None:
    # the server gzips anyway; urllib alone would have sent "identity"
    status, _, body, *_ = fetch_page(server + "/gzip.html", {}, max_bytes=1000)
    assert status == 200 and len(body) == 1000 and body.lstrip().startswith(b"<")


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/double-gzip.html", "gzip data"),
        ("/binary.html", "executable"),
        ("/empty.html", "empty document"),
    ],
)
def test_an_unanalysable_page_is_an_error_not_clean(
    server: str, capsys: pytest.CaptureFixture[str], path: str, error: str
) -> None:
    code, (record,), _ = scan(capsys, "--profile", "googlebot", server + path)
    assert record["verdict"] == "error" and error in record["error"]
    assert {view["verdict"] for view in record["profiles"]} == {"error"}
    assert code == 2  # not 0: nothing was checked
    assert main(["scan", "--profile", "googlebot", server + path]) == 2
    out = capsys.readouterr().out
    assert f"{server}{path}  error  score 0" in out and "clean" not in out
    assert "as googlebot: 200 error score 0" in out and error in out


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(500), "PNG"),
        (GZIP_SEED, "gzip data"),
        (b"  \n", "empty document"),
    ],
)
def test_an_unanalysable_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: bytes, error: str
) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(body)
    code, records, _ = scan(capsys, str(page), str(SEED_PAGE))
    assert code == 2
    assert [r["verdict"] for r in records] == ["error", "hijacked"]  # the next one still scanned
    assert error in records[0]["error"]
    assert main(["scan", str(page)]) == 2
    out = capsys.readouterr().out
    assert "error  score 0" in out and "clean" not in out
