"""Shared fixtures: real databases only (SQLite files and, when configured, PostgreSQL)."""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SEED_PAGE = SHARED / "samples" / "seed-page.html"
BENIGN_DIR = SHARED / "corpus" / "benign"

PG_ENV = "HIJACKWATCH_TEST_PG_URL"  # e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test
REDIS_ENV = "HIJACKWATCH_TEST_REDIS_URL"  # e.g. redis://127.0.0.1:6379/15
REQUIRE_ENV = "HIJACKWATCH_REQUIRE_SERVICES"  # CI sets it: a missing service fails, never skips
CHROMIUM = Path("/usr/bin/chromium")


# Whatever a fixture page references (analytics, CDNs), nothing a test runs may fetch
# from outside 127.0.0.0/8: the crawl, `scan URL` and render mode all honour this.
os.environ.setdefault("HIJACKWATCH_LOOPBACK_ONLY", "1")


def unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where every service must be there."""
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason} (and {REQUIRE_ENV} is set)")
    pytest.skip(reason)


def _pg_schema_url(base: str) -> Iterator[str]:
    """A throwaway PostgreSQL schema per test, so tests never see each other's rows."""
    from sqlalchemy import create_engine, text

    schema = f"hw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hijackwatch.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        unavailable(f"{PG_ENV} not set (CI sets it; PostgreSQL tests skip elsewhere)")
    yield from _pg_schema_url(base)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every storage test runs against a real SQLite file and a real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hijackwatch.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        unavailable(f"{PG_ENV} not set (CI sets it; PostgreSQL tests skip elsewhere)")
    yield from _pg_schema_url(base)


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        unavailable(f"{REDIS_ENV} not set (CI sets it)")
    return url


@pytest.fixture
def chromium() -> str:
    """Path of Debian's Chromium; tests that render skip without it (CI installs it)."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} not installed (apt-get install chromium)")
    return str(CHROMIUM)


@pytest.fixture
def no_spool_anywhere(tmp_path: Path) -> Iterator[Path]:
    """A spool directory and a temp directory that cannot be created: their parent is a
    regular file (permission bits would not stop root). Yields the blocking file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    saved = tempfile.tempdir
    tempfile.tempdir = str(blocker / "tmp")
    try:
        yield blocker
    finally:
        tempfile.tempdir = saved


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Iterator[str]:
    """A real HTTP server on a free port of ``host`` for the block; yields its base URL."""
    httpd = ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def reply(
    handler: BaseHTTPRequestHandler,
    body: bytes,
    content_type: str | None = "text/html",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer a test server's request with ``body`` (and its Content-Length)."""
    handler.send_response(status)
    if content_type is not None:
        handler.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def db_rows(db_url: str, sql: str, **params: Any) -> list[Any]:
    """The rows of one query against a database URL (engine opened and disposed)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()
