"""Storage: migrations, incidents, pruning, SQLite concurrency, schema docs (real databases)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from hijackwatch.detect.findings import Finding
from hijackwatch.items import PageItem
from hijackwatch.storage import Database, SchemaOutOfDate, StorageError, page_record
from hijackwatch.storage.models import Base, CrawlRun, FindingRow, Incident, Page, PageBody

REPO = Path(__file__).resolve().parent.parent
SCHEMA_DOC = REPO / "docs" / "schema.md"

SITE_A = "a.example.edu.cn"
SITE_B = "127.0.0.2:8001"
RUN1_AT = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
RUN2_AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
HOSTILE_TITLE = "【pg電子】<script>window.__pwned=1</script>[bold red]x[/]"
HOSTILE_EVIDENCE = '<img src=x onerror="window.__pwned=1"> =HYPERLINK("http://evil")'

# Run 1: site A hijacked for crawlers only (cloaking), site B clean (one fetch error).
RUN1: list[dict[str, Any]] = [
    {"url": f"http://{SITE_A}/", "site": SITE_A, "status": 200, "verdict": "clean"},
    {
        "url": f"http://{SITE_A}/casino.html",
        "site": SITE_A,
        "status": 200,
        "profile": "browser",
        "verdict": "clean",
        "title": "Library hours",
    },
    {
        "url": f"http://{SITE_A}/casino.html",
        "site": SITE_A,
        "status": 200,
        "profile": "googlebot",
        "verdict": "hijacked",
        "score": 90.0,
        "title": HOSTILE_TITLE,
        "body": "<html><title>spam</title><big id=qd94c></big></html>",
        "findings": [
            {"kind": "title_injection", "severity": "high", "evidence": HOSTILE_EVIDENCE},
            {"kind": "ua_cloaking", "severity": "high", "evidence": "javascript:alert(1)"},
        ],
        "outbound_domains": ["spam-casino.example"],
    },
    {"url": f"http://{SITE_B}/", "site": SITE_B, "status": 200, "verdict": "clean"},
    {"url": f"http://{SITE_B}/about", "site": SITE_B, "status": None, "error": "timeout"},
]
# Run 2: site A cleaned, site B hijacked (browser view).
RUN2: list[dict[str, Any]] = [
    {"url": f"http://{SITE_A}/", "site": SITE_A, "status": 200, "verdict": "clean"},
    {"url": f"http://{SITE_A}/casino.html", "site": SITE_A, "status": 404, "verdict": "clean"},
    {
        "url": f"http://{SITE_A}/casino.html",
        "site": SITE_A,
        "status": 404,
        "profile": "googlebot",
        "verdict": "clean",
    },
    {"url": f"http://{SITE_B}/", "site": SITE_B, "status": 200, "verdict": "clean"},
    {
        "url": f"http://{SITE_B}/news/slot-gacor.html",
        "site": SITE_B,
        "status": 200,
        "verdict": "hijacked",
        "score": 100.0,
        "title": "slot gacor maxwin",
        "findings": [{"kind": "hidden_links", "severity": "high", "evidence": "slot gacor x 40"}],
        "outbound_domains": ["slot.example", "gacor.example"],
    },
    {
        "url": f"http://{SITE_B}/news/slot-gacor.html",
        "site": SITE_B,
        "status": 200,
        "profile": "search-visitor",
        "verdict": "suspicious",
        "score": 30.0,
    },
]


def page_items(rows: list[dict[str, Any]]) -> list[PageItem]:
    """PageItems as DetectionPipeline would hand them over."""
    items = []
    for row in rows:
        data = dict(row)
        data["findings"] = [Finding(**f) for f in data.get("findings", [])]
        if isinstance(data.get("body"), str):
            data["body"] = data["body"].encode()
        items.append(PageItem(**data))
    return items


def write_run(db: Database, rows: list[dict[str, Any]], at: datetime, status: str = "finished"):
    run_id = db.start_run(["a.example.edu.cn", "127.0.0.2:8001"], {"test": True}, started_at=at)
    for item in page_items(rows):
        item.fetched_at = at + timedelta(minutes=1)
        db.write_pages(run_id, [page_record(item)])
    return db.finish_run(run_id, status, finished_at=at + timedelta(minutes=5))


def write_two_runs(db: Database) -> tuple[Any, Any]:
    """The two-run scenario through the Database API: A hijacked then cleaned; B the reverse."""
    db.ensure_schema()
    return write_run(db, RUN1, RUN1_AT), write_run(db, RUN2, RUN2_AT)


def incidents(db: Database) -> set[tuple[str, str | None, int | None, int | None]]:
    with db.session() as session:
        rows = session.execute(
            text(
                "SELECT s.key, i.url, i.opened_run_id, i.closed_run_id FROM incidents i "
                "JOIN sites s ON s.id = i.site_id"
            )
        ).all()
    return {tuple(r) for r in rows}


# -- migrations -----------------------------------------------------------------------


def test_upgrade_creates_schema_matching_models(db_url: str) -> None:
    db = Database(db_url)
    assert db.is_empty()
    with pytest.raises(SchemaOutOfDate, match="hijackwatch db upgrade"):
        db.check_current()
    assert db.ensure_schema() is True  # a brand-new database is created
    db.check_current()
    assert db.ensure_schema() is False
    assert db.current_revision() == db.head_revision()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        views = set(inspect(conn).get_view_names())
    assert diff == [], f"models and migrations disagree: {diff}"
    assert {"latest_site_status", "open_incidents", "finding_kind_counts", "site_history"} <= views
    db.dispose()


def test_outdated_schema_is_refused_with_the_command_to_run(db_url: str) -> None:
    db = Database(db_url)
    db.upgrade()
    with db.engine.begin() as conn:  # a database from an older hijackwatch without Alembic
        conn.execute(text("DROP TABLE alembic_version"))
    with pytest.raises(SchemaOutOfDate) as info:
        db.ensure_schema()  # not empty, so never silently migrated
    assert "hijackwatch db upgrade" in str(info.value)
    assert isinstance(info.value, StorageError)
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('9999_future')"))
    with pytest.raises(SchemaOutOfDate, match="newer than this hijackwatch"):
        db.check_current()
    db.dispose()


def test_postgresql_url_without_driver_maps_to_psycopg() -> None:
    db = Database("postgresql://user@127.0.0.1:1/x")
    assert db.url.startswith("postgresql+psycopg://")
    assert db.engine.dialect.driver == "psycopg"


# -- runs and incidents ---------------------------------------------------------------


def test_two_runs_open_and_close_incidents(db_url: str) -> None:
    db = Database(db_url)
    first, second = write_two_runs(db)

    assert first.new_hijacked_sites == [SITE_A]  # hijacked for googlebot only still counts
    assert first.cleaned_sites == [] and first.still_hijacked_sites == []
    assert (first.pages, first.fetches, first.hijacked_pages, first.errors) == (4, 5, 1, 1)
    assert second.new_hijacked_sites == [SITE_B]
    assert second.cleaned_sites == [SITE_A]
    assert second.new_hijacked_pages == [f"http://{SITE_B}/news/slot-gacor.html"]
    assert second.cleaned_pages == [f"http://{SITE_A}/casino.html"]
    assert second.stats()["hijackwatch/new_hijacked_sites"] == 1

    assert incidents(db) == {
        (SITE_A, None, first.run_id, second.run_id),
        (SITE_A, f"http://{SITE_A}/casino.html", first.run_id, second.run_id),
        (SITE_B, None, second.run_id, None),
        (SITE_B, f"http://{SITE_B}/news/slot-gacor.html", second.run_id, None),
    }
    with db.session() as session:
        runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
        assert [(r.status, r.new_hijacked_sites, r.cleaned_sites) for r in runs] == [
            ("finished", 1, 0),
            ("finished", 1, 1),
        ]
        opened = session.scalar(select(Incident.opened_at).where(Incident.closed_at.is_(None)))
        assert opened is not None and opened.replace(tzinfo=UTC) == RUN2_AT
        hijacked = session.scalar(select(Page).where(Page.verdict == "hijacked"))
        assert hijacked is not None and hijacked.outbound_domains == ["spam-casino.example"]
    db.dispose()


def test_still_hijacked_and_partial_runs(db_url: str) -> None:
    db = Database(db_url)
    db.ensure_schema()
    first = write_run(db, RUN1, RUN1_AT)
    again = write_run(db, RUN1, RUN1_AT + timedelta(days=1))
    assert again.still_hijacked_sites == [SITE_A] and again.new_hijacked_sites == []
    # an interrupted run that saw A clean must not declare the site cleaned
    partial = write_run(db, RUN2[:1], RUN1_AT + timedelta(days=2), status="interrupted")
    assert partial.cleaned_sites == []
    assert (SITE_A, None, first.run_id, None) in incidents(db)
    # a site the run did not crawl keeps its incident
    other = write_run(db, RUN2[3:], RUN1_AT + timedelta(days=3))
    assert other.cleaned_sites == [] and (SITE_A, None, first.run_id, None) in incidents(db)
    done = write_run(db, RUN2, RUN1_AT + timedelta(days=4))
    assert done.cleaned_sites == [SITE_A]
    db.dispose()


def test_bodies_kept_for_flagged_pages_and_pruned_with_evidence(db_url: str) -> None:
    db = Database(db_url)
    write_two_runs(db)
    with db.session() as session:
        bodies = session.scalars(select(PageBody)).all()
        assert len(bodies) == 1  # only the hijacked fetch that had a body
        assert zlib.decompress(bodies[0].body).startswith(b"<html><title>spam")
    result = db.prune(keep_days=10, now=RUN2_AT + timedelta(days=1))  # cuts run 1 only
    assert (result.bodies_deleted, result.evidence_cleared) == (1, 2)
    with db.session() as session:
        assert session.scalars(select(PageBody)).all() == []
        evidence = dict(session.execute(select(FindingRow.kind, FindingRow.evidence)).all())
        assert evidence == {
            "title_injection": None,
            "ua_cloaking": None,
            "hidden_links": "slot gacor x 40",
        }
        # verdict history is intact
        assert (
            session.scalar(
                select(Page.verdict).where(Page.profile == "googlebot", Page.run_id == 1)
            )
            == "hijacked"
        )
    assert len(incidents(db)) == 4
    db.dispose()


def test_sqlite_reader_not_blocked_by_open_write_transaction(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    write_two_runs(db)
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # EXCLUSIVE shuts readers out of a rollback-journal database; WAL lets them read on
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("INSERT INTO sites (key, first_seen_at) VALUES ('x', '2026-11-27')")
    result: list[Any] = []

    def read() -> None:
        reader = Database(sqlite_url)
        with reader.engine.connect() as conn:
            result.append(conn.execute(text("SELECT COUNT(*) FROM sites")).scalar())
        reader.dispose()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(timeout=3)
    read_while_locked = list(result)
    writer.execute("ROLLBACK")
    writer.close()
    thread.join()
    assert read_while_locked == [2]  # the committed state, read without waiting for the writer
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    db.dispose()


# -- documentation ----------------------------------------------------------------------


def documented(kind: str) -> dict[str, set[str]]:
    """``### table `name` `` sections of docs/schema.md and the `column` cells of their table."""
    found: dict[str, set[str]] = {}
    current: str | None = None
    for line in SCHEMA_DOC.read_text(encoding="utf-8").splitlines():
        header = re.match(r"^### (table|view) `(\w+)`", line)
        if header:
            current = header.group(2) if header.group(1) == kind else None
            if current:
                found[current] = set()
        elif line.startswith("## "):
            current = None
        elif current and (cell := re.match(r"^\| `(\w+)` \|", line)):
            found[current].add(cell.group(1))
    return found


def test_schema_doc_matches_database(sqlite_url: str) -> None:
    tables = documented("table")
    assert tables == {t.name: {c.name for c in t.columns} for t in Base.metadata.sorted_tables}
    db = Database(sqlite_url)
    db.upgrade()
    with db.engine.connect() as conn:
        insp = inspect(conn)
        actual_views = {v: {c["name"] for c in insp.get_columns(v)} for v in insp.get_view_names()}
    assert documented("view") == actual_views
    db.dispose()


def site_statuses(db: Database, view: str = "site_history") -> dict[tuple[int, str], str]:
    with db.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT run_id, site, status FROM {view}")).all()
    return {(run_id, site): status for run_id, site, status in rows}


def test_views_call_a_site_the_run_did_not_see_error(db_url: str) -> None:
    """503 on every page is the site hiding, not the site clean: SQL users get what the
    report says. Runs settled before revision 0002 (no site_runs rows) keep the old
    reading, and the revision migrates down and up again with data in place."""
    db = Database(db_url)
    db.ensure_schema()
    blocked = [
        {"url": f"http://{SITE_B}/", "site": SITE_B, "status": 503, "verdict": "clean"},
        {"url": f"http://{SITE_B}/about", "site": SITE_B, "status": None, "error": "timeout"},
    ]
    run = write_run(db, RUN2[:3] + blocked, RUN2_AT)
    assert run.cleaned_sites == []
    expected = {(run.run_id, SITE_A): "clean", (run.run_id, SITE_B): "error"}
    assert site_statuses(db) == expected
    latest = site_statuses(db, "latest_site_status")
    assert latest == expected
    cfg = db.alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001_baseline")
    assert site_statuses(db)[(run.run_id, SITE_B)] == "clean"  # the old view
    db.upgrade()
    with db.engine.begin() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM site_runs")).scalar() == 0
    # settled before 0002: no 2xx at all is not seen, by the views' own reading
    assert site_statuses(db) == expected
    resettled = write_run(db, blocked, RUN2_AT + timedelta(days=1))
    assert site_statuses(db)[(resettled.run_id, SITE_B)] == "error"
    db.dispose()


def test_report_takes_what_settling_recorded(db_url: str) -> None:
    """The report reads site_runs for a settled run: a site settling saw (through a
    same-page redirect outside the report's own sample, say) is not called unseen."""
    from hijackwatch.storage.incidents import unseen_sites
    from hijackwatch.storage.models import SiteRun

    db = Database(db_url)
    db.ensure_schema()
    blocked = [{"url": f"http://{SITE_B}/", "site": SITE_B, "status": 503, "verdict": "clean"}]
    run = write_run(db, RUN2[:3] + blocked, RUN2_AT)
    with db.session() as session:
        ids = dict(session.execute(text("SELECT key, id FROM sites")).all())
        assert unseen_sites(session, run.run_id, list(ids.values())) == {ids[SITE_B]}
        recorded = session.get(SiteRun, (run.run_id, ids[SITE_B]))
        assert recorded is not None and recorded.seen is False
        recorded.seen = True  # what settling decided wins over the report's own reading
        session.flush()
        assert unseen_sites(session, run.run_id, list(ids.values())) == set()
        session.rollback()
    db.dispose()


def test_spool_import_into_a_finished_run_resettles_incidents(db_url: str, tmp_path: Path) -> None:
    """Pages spooled during an outage, imported after the run finished without them."""
    from hijackwatch.storage.spool import Spool

    db = Database(db_url)
    db.ensure_schema()
    run_id = db.start_run(["x"], started_at=RUN2_AT)
    spool = Spool(tmp_path, {"run_id": run_id, "started_at": RUN2_AT.isoformat(), "seeds": ["x"]})
    items = page_items(RUN2)
    db.write_pages(run_id, [page_record(i) for i in items[:3]])  # site A only: clean
    path = spool.write_pages([page_record(i) for i in items[3:]])  # site B: lost for now
    before = db.finish_run(run_id)
    assert before.new_hijacked_sites == []
    result = db.import_spool(path)
    assert (result.run_id, result.pages, result.finished) == (run_id, 3, False)
    assert result.outcome is not None and result.outcome.new_hijacked_sites == [SITE_B]
    with db.session() as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None and run.new_hijacked_sites == 1 and run.fetches == len(RUN2)
    assert not path.exists() and path.with_name(path.name + ".imported").exists()
    # a spool from another database's run becomes a new run here
    other = Spool(tmp_path, {"run_id": 77, "started_at": RUN1_AT.isoformat(), "seeds": ["y"]})
    again = db.import_spool(other.write_pages([page_record(i) for i in page_items(RUN1)]))
    assert again.run_id != 77 and again.pages == len(RUN1)
    assert again.outcome is not None and again.outcome.status == "interrupted"
    assert again.outcome.still_hijacked_sites == [] and again.outcome.cleaned_sites == []
    with pytest.raises(StorageError, match="no run header"):
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"type": "page", "page": {}}\n')
        db.import_spool(bad)
    db.dispose()


def test_a_late_spool_of_an_older_run_leaves_the_newer_run_latest(
    db_url: str, tmp_path: Path
) -> None:
    """Run 1's spooled pages and end, imported after run 2 crawled the same sites: run 2
    stays the sites' latest run and keeps its incidents (QA: sites moved back to run 1,
    shown as NEW hijacked)."""
    from hijackwatch.storage.spool import Spool, finish_entry

    db = Database(db_url)
    db.ensure_schema()
    run1 = db.start_run(["x"], started_at=RUN1_AT)
    spool = Spool(tmp_path, {"run_id": run1, "started_at": RUN1_AT.isoformat(), "seeds": ["x"]})
    path = spool.write_pages(
        [page_record(i) for i in page_items(RUN1)], finish_entry(run1, "finished", "finished")
    )
    second = write_run(db, RUN2, RUN2_AT)
    before = incidents(db)
    imported = db.import_spool(path)
    assert imported.run_id == run1 and imported.pages == len(RUN1)
    assert incidents(db) == before
    with db.engine.connect() as conn:
        latest = dict(conn.execute(text("SELECT site, run_id FROM latest_site_status")).all())
    assert latest == {SITE_A: second.run_id, SITE_B: second.run_id}
    assert site_statuses(db)[(run1, SITE_A)] == "hijacked"  # its own history is kept
    db.dispose()


def test_text_no_database_can_hold_is_stored_replaced(db_url: str, tmp_path: Path) -> None:
    """A script escape decoded to a lone surrogate, a NUL in a title: PostgreSQL refuses
    NUL, UTF-8 cannot encode a lone surrogate. The page is stored anyway, and spooled."""
    from hijackwatch.detect import analyse
    from hijackwatch.storage.records import page_record
    from hijackwatch.storage.spool import Spool

    html = (
        '<html><head><title>t</title><script>var u="\\u0068ttp://evil.example/\\ud800x";'
        "window.location.href=u;</script></head><body>x</body></html>"
    )
    analysis = analyse(html, f"http://{SITE_A}/s.html")
    assert any("\ud800" in f.evidence for f in analysis.findings)  # what analyse() hands over
    item = page_items([{"url": f"http://{SITE_A}/s.html", "site": SITE_A, "status": 200}])[0]
    item.findings, item.verdict, item.title = analysis.findings, "suspicious", "bad\x00title"
    record = page_record(item)
    db = Database(db_url)
    db.ensure_schema()
    run_id = db.start_run([SITE_A])
    assert db.write_pages(run_id, [record]) == 1
    with db.engine.connect() as conn:
        title = conn.execute(text("SELECT title FROM pages")).scalar_one()
        evidence = " ".join(conn.execute(text("SELECT evidence FROM findings")).scalars())
    db.dispose()
    assert title == "bad\ufffdtitle" and "evil.example/\ufffdx" in evidence
    spool = Spool(tmp_path, {"run_id": run_id})
    assert spool.write_pages([record]).read_text(encoding="utf-8").count("\ufffd") >= 2


def test_a_full_disk_leaves_no_empty_spool_file(tmp_path: Path) -> None:
    """The header could not be written (disk full): the file it was opened as must not
    stay behind as a 0-byte file that import-spool refuses ("no run header")."""
    code = (
        "import resource, signal, sys, tempfile\n"
        "from pathlib import Path\n"
        "from hijackwatch.storage.spool import Spool\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death\n"
        "tempfile.tempdir = sys.argv[2]  # the fallback directory is full too\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (8, 8))  # any file: at most 8 bytes\n"
        "try:\n"
        "    Spool(Path(sys.argv[1]), {'run_id': 5}).write([{'type': 'page', 'page': {}}])\n"
        "except OSError as exc:\n"
        "    print('refused:', exc)\n"
    )
    spool_dir, fallback = tmp_path / "spool", tmp_path / "tmp"
    spool_dir.mkdir()
    fallback.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", code, str(spool_dir), str(fallback)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "refused: no writable directory" in done.stdout, done.stderr
    assert list(spool_dir.iterdir()) == [] and list(fallback.iterdir()) == []
