"""Engine construction: URL resolution and the per-dialect settings every connection needs."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from hijackwatch.storage.errors import StorageError, one_line

DEFAULT_URL = "sqlite:///hijackwatch.db"
URL_ENV = "HIJACKWATCH_DB_URL"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SHIPPED_URLS = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
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


# query arguments libpq and the drivers read a secret from
SECRET_QUERY_KEYS = frozenset({"password", "sslpassword", "passfile", "sslkey"})
# for a URL SQLAlchemy cannot parse: "scheme://user:" kept, the rest up to the last "@"
# of the authority masked (a password may hold "@"); the query's secrets too
_USERINFO_SECRET = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*:?/*[^:/?#@]*:)[^/?#]*@")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:" + "|".join(sorted(SECRET_QUERY_KEYS)) + r")=)[^&#]*")


def redact(url: str) -> str:
    """The URL without its password (in the user part or the query), for messages."""
    try:
        parsed = make_url(url)
    except Exception:  # unparseable, yet it may hold a password
        return _mask(url)
    if "@" in (parsed.host or ""):  # a password holding "@" was split there
        return _mask(url)
    if not SECRET_QUERY_KEYS.isdisjoint(k.lower() for k in parsed.query):
        query = {k: "xxx" if k.lower() in SECRET_QUERY_KEYS else v for k, v in parsed.query.items()}
        parsed = parsed.set(query=query)
    return parsed.render_as_string(hide_password=True)


def _mask(url: str) -> str:
    return _QUERY_SECRET.sub(r"\1xxx", _USERINFO_SECRET.sub(r"\1***@", url))


def db_error(url: str, exc: BaseException, action: str = "use") -> str:
    """One line for an error met using the database at ``url``: ours as it is (it names
    the database), a driver's with the URL redacted, without SQLAlchemy's statement and
    parameters (seeds, options)."""
    if isinstance(exc, StorageError):
        return one_line(exc)
    cause = getattr(exc, "orig", None) or exc
    return f"cannot {action} database {redact(url)}: {type(cause).__name__}: {one_line(cause)}"


def sqlite_file(url: str) -> Path | None:
    """The absolute path of a file-based SQLite database, else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    database = str(parsed.database)
    if database.startswith("file:"):  # a URI (?uri=true): its path, unless in memory
        parts = urlsplit(database)
        if not parts.path or "mode=memory" in parts.query or parts.path == ":memory:":
            return None
        return Path(unquote(parts.path)).resolve()
    return Path(database).resolve()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets ``report`` read while a crawl writes; busy_timeout waits instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def build_engine(url: str) -> Engine:
    """An engine with WAL/foreign keys on SQLite and liveness checks on servers.

    Every command opens its database here, so a URL that cannot work (unparseable,
    unknown database, driver not installed) is refused here, as a StorageError
    naming the URL and the way out, instead of a driver traceback.
    """
    try:
        parsed = make_url(url)
        return _create(url, parsed)
    except ImportError as exc:
        raise StorageError(
            f"cannot use database {redact(url)}: {_missing_driver(parsed, exc)}"
        ) from None
    except NoSuchModuleError:
        raise StorageError(
            f"cannot use database {redact(url)}: unknown database type {parsed.drivername!r}; "
            f"use {SHIPPED_URLS}"
        ) from None
    except (ArgumentError, ValueError) as exc:
        raise StorageError(
            f"bad database URL {redact(url)}: {one_line(exc)}; use {SHIPPED_URLS}"
        ) from None


def _missing_driver(parsed: URL, exc: ImportError) -> str:
    module = getattr(exc, "name", None) or parsed.get_driver_name()
    if not isinstance(exc, ModuleNotFoundError):  # installed, but it does not load
        return f"driver {module} cannot be loaded ({one_line(exc)})"
    if parsed.get_backend_name() == "postgresql":
        return f"driver {module} is not installed; use postgresql+psycopg:// (psycopg 3)"
    return f"driver {module} is not installed; hijackwatch supports {SHIPPED_URLS}"


def _create(url: str, parsed: URL) -> Engine:
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
