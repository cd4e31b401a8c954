"""docs/queries.sql: every query runs on SQLite and PostgreSQL and gives the same answer."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hijackwatch.storage import Database
from tests.test_storage import SITE_A, SITE_B, write_two_runs

QUERIES_FILE = Path(__file__).resolve().parent.parent / "docs" / "queries.sql"
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2})?$")


def load_queries() -> dict[str, str]:
    """``-- name: x`` headers, each query ending with ``;`` at a line end."""
    queries: dict[str, str] = {}
    for chunk in re.split(r";\s*$", QUERIES_FILE.read_text(encoding="utf-8"), flags=re.M):
        match = re.search(r"^-- name: (\w+)\s*$", chunk, flags=re.M)
        if match:
            body = chunk[match.end() :].strip()
            assert match.group(1) not in queries, f"duplicate query name {match.group(1)}"
            queries[match.group(1)] = body
        else:
            assert not re.search(r"^\s*[^-\s]", chunk, flags=re.M), f"query without name: {chunk}"
    return queries


def normalise(value: Any) -> Any:
    """Same fact, same value: SQLite hands timestamps back as text, PostgreSQL as datetimes."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, str) and _TIMESTAMP.match(value):
        return normalise(datetime.fromisoformat(value))
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return value


def answers(url: str) -> dict[str, list[tuple[Any, ...]]]:
    db = Database(url)
    write_two_runs(db)
    results = {}
    with db.engine.connect() as conn:
        for name, sql in load_queries().items():
            rows = conn.execute(text(sql)).all()
            results[name] = [tuple(normalise(v) for v in row) for row in rows]
    db.dispose()
    return results


def test_queries_file_is_well_formed() -> None:
    queries = load_queries()
    assert len(queries) >= 10
    assert {"hijacked_sites_now", "open_site_incidents", "finding_kinds"} <= set(queries)


def test_queries_answer_alike_on_sqlite_and_postgresql(sqlite_url: str, pg_url: str) -> None:
    lite, pg = answers(sqlite_url), answers(pg_url)
    for name in lite:
        assert lite[name] == pg[name], f"query {name} differs between SQLite and PostgreSQL"
    # and the answers are the right ones, not just equal
    assert [row[:3] for row in lite["hijacked_sites_now"]] == [(SITE_B, 1, 2)]
    assert lite["hijacked_sites_now"][0][3] == "2026-11-20 10:00:00"
    assert [(r[0], r[1], r[2]) for r in lite["cleaned_sites"]] == [(SITE_A, 1, 2)]
    assert [r[0] for r in lite["open_site_incidents"]] == [SITE_B]
    assert {r[0]: r[1] for r in lite["finding_kinds"]} == {
        "hidden_links": 1,
        "title_injection": 1,
        "ua_cloaking": 1,
    }
    assert lite["new_hijacked_sites_per_run"] == [
        (1, "finished", 1, 0, 1, 4),
        (2, "finished", 1, 1, 1, 4),
    ]
    assert lite["cloaked_pages"] == [(SITE_B, f"http://{SITE_B}/news/slot-gacor.html", 1, 1)]
    empty = [name for name, rows in lite.items() if not rows]
    assert empty == ["error_pages_latest"]  # run 2 had no fetch errors


@pytest.mark.parametrize("name", sorted(load_queries()))
def test_each_query_runs_on_sqlite(name: str, sqlite_url: str) -> None:
    """Without PostgreSQL around, still prove each query is valid SQL for SQLite."""
    db = Database(sqlite_url)
    db.upgrade()
    with db.engine.connect() as conn:
        conn.execute(text(load_queries()[name])).all()
    db.dispose()
