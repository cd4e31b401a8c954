"""Crawl history in SQL (SQLite or PostgreSQL): models, migrations, the Database API."""

from __future__ import annotations

from hijackwatch.storage.database import Database, PruneResult, SpoolImport
from hijackwatch.storage.engine import DEFAULT_URL, URL_ENV, resolve_url
from hijackwatch.storage.errors import DatabaseUnavailable, SchemaOutOfDate, StorageError
from hijackwatch.storage.incidents import RunOutcome
from hijackwatch.storage.records import page_record

__all__ = [
    "DEFAULT_URL",
    "URL_ENV",
    "Database",
    "DatabaseUnavailable",
    "PruneResult",
    "RunOutcome",
    "SchemaOutOfDate",
    "SpoolImport",
    "StorageError",
    "page_record",
    "resolve_url",
]
