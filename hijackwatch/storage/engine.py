"""Engine construction: URL resolution and the per-dialect settings every connection needs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

DEFAULT_URL = "sqlite:///hijackwatch.db"
URL_ENV = "HIJACKWATCH_DB_URL"
SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_DEFAULTS: dict[str, Any] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 15,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # ms of unacknowledged data before the connection is dead
}


def resolve_url(url: str | None = None) -> str:
    """The URL to use: explicit, else env ``HIJACKWATCH_DB_URL``, else the local SQLite file.

    Plain ``postgresql://`` / ``postgres://`` map to psycopg 3, the only driver we ship.
    """
    url = url or os.environ.get(URL_ENV) or DEFAULT_URL
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def sqlite_file(url: str) -> Path | None:
    """The absolute path of a file-based SQLite database, else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if str(parsed.database).startswith("file:"):
        return None
    return Path(parsed.database).resolve()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets ``report`` read while a crawl writes; busy_timeout waits instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def build_engine(url: str) -> Engine:
    """An engine with WAL/foreign keys on SQLite and liveness checks on servers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        # a server that stops answering must fail a flush (-> retry, spool), not hang it;
        # the URL's own query parameters win over these defaults
        connect_args = {k: v for k, v in PG_CONNECT_DEFAULTS.items() if k not in parsed.query}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
