"""The one door to the crawl history: schema upgrades, run bookkeeping, writes, pruning."""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError as AlembicError
from sqlalchemy import delete, exists, func, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hijackwatch.storage.engine import build_engine, redact, resolve_url, sqlite_file
from hijackwatch.storage.errors import (
    DatabaseUnavailable,
    NotASpoolFile,
    SchemaOutOfDate,
    StorageError,
)
from hijackwatch.storage.incidents import (
    RunOutcome,
    apply_counts,
    chunks,
    outcome_of,
    settle_run,
)
from hijackwatch.storage.models import (
    CrawlRun,
    FindingRow,
    Incident,
    Page,
    PageBody,
    Site,
    utcnow,
)
from hijackwatch.storage.records import as_utc, compressed_body, parse_time

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UPGRADE_HINT = "hijackwatch db upgrade"
MAX_KEEP_DAYS = 36_500  # a century; far beyond it, the cutoff date leaves datetime's range


@dataclass
class PruneResult:
    bodies_deleted: int
    evidence_cleared: int
    cutoff: datetime


@dataclass
class SpoolImport:
    run_id: int
    pages: int  # page records inserted
    finished: bool
    outcome: RunOutcome | None
    skipped: int = 0  # page records already stored (or repeated in the file)


class WriteAbandoned(StorageError):
    """The writer gave up on this write (timeout); it rolled back instead of committing."""


def _unless_abandoned(abandoned: threading.Event | None, what: str) -> None:
    """Inside the transaction, just before COMMIT: roll back when the caller gave up."""
    if abandoned is not None and abandoned.is_set():
        raise WriteAbandoned(f"{what} given up on; rolled back")


PageKey = tuple[str, str, str, datetime]


def _page_key(site: str, url: str, profile: str | None, fetched: datetime | None) -> PageKey | None:
    """What identifies one page record within a run: one fetch of a URL under a profile."""
    fetched = as_utc(fetched)
    return None if fetched is None else (site, url, profile or "browser", fetched)


def _revision_number(revision: str | None) -> int:
    """``0002`` of ``0002_add_x``; -1 for a revision not numbered like ours."""
    head, _, _ = (revision or "").partition("_")
    return int(head) if head.isdigit() else -1


@functools.cache
def _migrations() -> ScriptDirectory:
    """The migration scripts, read once: an out-of-date check reads them up to three times."""
    return ScriptDirectory(str(MIGRATIONS_DIR))


class Database:
    """A hijackwatch database at ``url`` (default: env HIJACKWATCH_DB_URL, else ./hijackwatch.db).

    Thread-safe: each method uses its own session, so the pipeline can call it from a
    worker thread.
    """

    def __init__(self, url: str | None = None, *, create: bool = True) -> None:
        """``create=False``: refuse a SQLite file that does not exist yet, so reading or
        maintaining a mistyped path reports it instead of leaving an empty database there."""
        self.url = resolve_url(url)
        self.engine = build_engine(self.url)  # StorageError for a URL that cannot work
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._site_ids: dict[str, int] = {}
        self.sqlite_path = sqlite_file(self.url)
        if not create and self.sqlite_path is not None and not self.sqlite_path.exists():
            self.engine.dispose()
            raise DatabaseUnavailable(
                f"no database at {self.sqlite_path}; check the path (only `hijackwatch crawl` "
                "and `hijackwatch db upgrade` start a new one)"
            )

    def _check_file(self) -> None:
        """An open SQLite connection keeps writing into a deleted or moved file; refuse."""
        if self.sqlite_path is not None and not self.sqlite_path.exists():
            raise DatabaseUnavailable(f"SQLite database file {self.sqlite_path} has disappeared")

    def __repr__(self) -> str:
        return f"Database({redact(self.url)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    # -- schema -----------------------------------------------------------------------

    def alembic_config(self) -> Config:
        """Alembic config for this database and the shipped migrations (no alembic.ini)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def head_revision(self) -> str:
        head = _migrations().get_current_head()
        assert head is not None
        return head

    def current_revision(self) -> str | None:
        """The schema revision stored in the database (None for a database never upgraded)."""
        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except OperationalError as exc:
            raise DatabaseUnavailable(
                f"cannot open database {redact(self.url)}: {exc.orig}"
            ) from exc

    def is_empty(self) -> bool:
        """True when the database holds no tables at all (a brand-new file or schema)."""
        try:
            with self.engine.connect() as conn:
                return not inspect(conn).get_table_names()
        except OperationalError as exc:
            raise DatabaseUnavailable(
                f"cannot open database {redact(self.url)}: {exc.orig}"
            ) from exc

    def upgrade(self, revision: str = "head") -> None:
        """Create or migrate the schema (Alembic, run on this engine)."""
        self._refuse_newer(self.current_revision())
        cfg = self.alembic_config()
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        except OperationalError as exc:
            raise DatabaseUnavailable(f"cannot upgrade {redact(self.url)}: {exc.orig}") from exc
        except AlembicError as exc:  # e.g. a revision written meanwhile by a newer version
            raise SchemaOutOfDate(f"cannot upgrade {redact(self.url)}: {exc}") from exc

    def is_unknown(self, revision: str | None) -> bool:
        """True for a revision our migrations do not know (a newer hijackwatch's, or
        none of ours at all)."""
        return revision is not None and revision not in {
            r.revision for r in _migrations().walk_revisions()
        }

    def is_newer(self, revision: str | None) -> bool:
        """An unknown revision numbered after our head (``0002_…`` when we end at
        ``0001_…``): a newer hijackwatch wrote it. Revisions are numbered in order."""
        return self.is_unknown(revision) and _revision_number(revision) > _revision_number(
            self.head_revision()
        )

    def _refuse_newer(self, current: str | None) -> None:
        """Neither reading nor migrating a newer or unknown schema can be right."""
        if self.is_newer(current):
            raise SchemaOutOfDate(
                f"database {redact(self.url)} is at schema revision {current}, newer than this "
                f"hijackwatch (expects {self.head_revision()}); upgrade hijackwatch"
            )
        if self.is_unknown(current):
            raise SchemaOutOfDate(
                f"database {redact(self.url)} is at unknown schema revision {current} (this "
                f"hijackwatch expects {self.head_revision()}); not a revision hijackwatch "
                "wrote: check the database URL"
            )

    def check_current(self) -> None:
        """Raise SchemaOutOfDate unless the schema is exactly the one this code expects."""
        current, head = self.current_revision(), self.head_revision()
        if current == head:
            return
        if current is None:
            raise SchemaOutOfDate(
                f"database {redact(self.url)} has no hijackwatch schema; "
                f"run `{UPGRADE_HINT} --db URL` first"
            )
        self._refuse_newer(current)
        raise SchemaOutOfDate(
            f"database {redact(self.url)} schema is out of date (at {current}, need {head}); "
            f"run `{UPGRADE_HINT} --db URL`"
        )

    def ensure_schema(self) -> bool:
        """Create the schema in an empty database; refuse (SchemaOutOfDate) an outdated one.

        Returns True when the schema was created. A first crawl must just work, but an
        existing history is only migrated when the user asks (``db upgrade``), since a
        migration of years of data may take time and wants a backup first.
        """
        if self.is_empty():
            self.upgrade()
            return True
        self.check_current()
        return False

    def check_writable(self) -> None:
        """Raise the driver's error when nothing can be written (a read-only file, user
        or replica): a write that changes nothing, rolled back. Asked before a crawl
        starts, so the run fails with one line instead of inside Scrapy's start-up."""
        with self.engine.connect() as conn, conn.begin() as transaction:
            conn.execute(update(CrawlRun).where(CrawlRun.id == -1).values(status=CrawlRun.status))
            transaction.rollback()

    # -- runs -------------------------------------------------------------------------

    def start_run(
        self,
        seeds: Sequence[str] = (),
        options: dict[str, Any] | None = None,
        started_at: datetime | None = None,
        abandoned: threading.Event | None = None,
    ) -> int:
        """Insert a ``running`` crawl_runs row and return its id (``abandoned``: as in
        write_pages, so a start given up on before its COMMIT leaves no run ``running``)."""
        with self.session() as session:
            run_id = self._new_run(session, seeds, options, started_at).id
            _unless_abandoned(abandoned, "starting the run")
            return run_id

    @staticmethod
    def _new_run(
        session: Session,
        seeds: Sequence[str],
        options: dict[str, Any] | None,
        started_at: datetime | None,
    ) -> CrawlRun:
        run = CrawlRun(
            started_at=started_at or utcnow(),
            status="running",
            seeds="\n".join(seeds),
            options=options,
        )
        session.add(run)
        session.flush()
        return run

    def _site_id(self, session: Session, key: str, seen_at: datetime) -> int:
        cached = self._site_ids.get(key)
        if cached is not None:
            return cached
        site_id = session.scalar(select(Site.id).where(Site.key == key))
        if site_id is None:
            try:
                with session.begin_nested():
                    site = Site(key=key, first_seen_at=seen_at)
                    session.add(site)
                    session.flush()
                    site_id = site.id
            except IntegrityError:  # another writer created it meanwhile
                site_id = session.scalar(select(Site.id).where(Site.key == key))
        assert site_id is not None
        self._site_ids[key] = site_id
        return site_id

    def write_pages(
        self,
        run_id: int,
        records: Sequence[dict[str, Any]],
        abandoned: threading.Event | None = None,
        *,
        skip_stored: bool = False,
    ) -> int:
        """Insert page records (see records.page_record) in one transaction; returns how
        many were inserted.

        When ``abandoned`` is set by the time the rows are in, the transaction rolls
        back (WriteAbandoned): the caller has given up waiting and spooled the batch.
        ``skip_stored``: leave out records the run already has (an earlier attempt at
        them may have committed although its answer was lost).
        """
        if not records:
            return 0
        self._check_file()
        try:
            with self.session() as session:
                if skip_stored:
                    records = self._unstored(session, run_id, records)
                written = self._insert_pages(session, run_id, records) if records else 0
                _unless_abandoned(abandoned, f"write of {written} page(s)")
                return written
        except (SQLAlchemyError, WriteAbandoned):
            self._site_ids.clear()  # a rolled-back site insert must not stay cached
            raise

    def _insert_pages(
        self, session: Session, run_id: int, records: Sequence[dict[str, Any]]
    ) -> int:
        rows = []
        for rec in records:
            fetched = parse_time(rec.get("fetched_at")) or utcnow()
            rows.append(
                {
                    "run_id": run_id,
                    "site_id": self._site_id(session, rec["site"], fetched),
                    "url": rec["url"],
                    "final_url": rec.get("final_url"),
                    "status": rec.get("status"),
                    "profile": rec.get("profile") or "browser",
                    "title": rec.get("title"),
                    "score": float(rec.get("score") or 0.0),
                    "verdict": rec.get("verdict") or "clean",
                    "error": rec.get("error"),
                    "content_type": rec.get("content_type"),
                    "depth": int(rec.get("depth") or 0),
                    "referer": rec.get("referer"),
                    "fetched_at": fetched,
                    "outbound_domains": list(rec.get("outbound_domains") or []),
                }
            )
        ids = session.scalars(
            insert(Page).returning(Page.id, sort_by_parameter_order=True), rows
        ).all()
        findings = [
            {
                "page_id": pid,
                "kind": f["kind"],
                "severity": f["severity"],
                "evidence": f["evidence"],
            }
            for pid, rec in zip(ids, records, strict=True)
            for f in rec.get("findings") or []
        ]
        if findings:
            session.execute(insert(FindingRow), findings)
        bodies = [
            {
                "page_id": pid,
                "encoding": rec["body"].get("encoding"),
                "size": int(rec["body"]["size"]),
                "truncated": bool(rec["body"].get("truncated")),
                "body": compressed_body(rec["body"]),
            }
            for pid, rec in zip(ids, records, strict=True)
            if rec.get("body")
        ]
        if bodies:
            session.execute(insert(PageBody), bodies)
        return len(rows)

    def finish_run(
        self,
        run_id: int,
        status: str = "finished",
        reason: str | None = None,
        error: str | None = None,
        finished_at: datetime | None = None,
    ) -> RunOutcome:
        """Close the run row, settle incidents, store the counts; returns what changed."""
        if status not in ("finished", "interrupted", "failed"):
            raise ValueError(f"bad final run status {status!r}")
        self._check_file()
        with self.session() as session:
            return self._finish(session, run_id, status, reason, error, finished_at)

    def _finish(
        self,
        session: Session,
        run_id: int,
        status: str,
        reason: str | None = None,
        error: str | None = None,
        finished_at: datetime | None = None,
    ) -> RunOutcome:
        run = session.get(CrawlRun, run_id)
        if run is None:
            raise StorageError(f"no crawl run {run_id} in {redact(self.url)}")
        run.status, run.reason, run.error = status, reason, error
        run.finished_at = finished_at or utcnow()
        session.flush()
        return self._settle(session, run)

    @staticmethod
    def _settle(session: Session, run: CrawlRun) -> RunOutcome:
        judged_later = settle_run(session, run)
        outcome = outcome_of(session, run)
        apply_counts(session, run, outcome, judged_later)
        return outcome

    def runs(self, limit: int = 20) -> list[CrawlRun]:
        with self.session() as session:
            return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)))

    def run(self, run_id: int) -> CrawlRun | None:
        with self.session() as session:
            return session.get(CrawlRun, run_id)

    def open_incident_urls(
        self, site_keys: Sequence[str], per_site: int | None = None
    ) -> dict[str, list[str]]:
        """site key -> URLs of its open page incidents, at most ``per_site`` of them.

        The crawl requests them again: a hijacked page nothing links any more is never
        reached otherwise, so its incident could never close. Least recently fetched
        first (by any run, whatever the answer), so that under the bound successive runs
        take turns: a page answering 403 every time must not hold its place for good.
        """
        last_fetch = (
            select(func.max(Page.run_id))
            .where(Page.site_id == Incident.site_id, Page.url == Incident.url)
            .scalar_subquery()
        )
        rank = func.row_number().over(
            partition_by=Incident.site_id,
            order_by=(func.coalesce(last_fetch, 0), Incident.last_seen_at, Incident.id),
        )
        found: dict[str, list[str]] = {}
        with self.session() as session:
            for chunk in chunks(sorted(set(site_keys))):
                ranked = (
                    select(Site.key, Incident.url, rank.label("rank"))
                    .join(Site, Site.id == Incident.site_id)
                    .where(
                        Site.key.in_(chunk),
                        Incident.scope == "page",
                        Incident.closed_at.is_(None),
                        Incident.url.is_not(None),
                    )
                    .subquery()
                )
                query = select(ranked.c.key, ranked.c.url).order_by(ranked.c.key, ranked.c.rank)
                if per_site is not None:
                    query = query.where(ranked.c.rank <= per_site)
                for key, url in session.execute(query):
                    found.setdefault(key, []).append(url)
        return found

    # -- retention --------------------------------------------------------------------

    def prune(self, keep_days: int, now: datetime | None = None) -> PruneResult:
        """Drop page bodies and finding evidence older than ``keep_days``; verdicts stay."""
        if not 0 <= keep_days <= MAX_KEEP_DAYS:
            raise ValueError(f"keep_days must be between 0 and {MAX_KEEP_DAYS}")
        cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
        old_pages = select(Page.id).where(Page.fetched_at < cutoff)
        with self.session() as session:
            bodies = session.execute(
                delete(PageBody).where(PageBody.page_id.in_(old_pages))
            ).rowcount
            evidence = session.execute(
                update(FindingRow)
                .where(FindingRow.page_id.in_(old_pages), FindingRow.evidence.is_not(None))
                .values(evidence=None)
            ).rowcount
        if self.dialect == "sqlite":
            with self.engine.connect() as conn:  # hand freed pages back to the file system
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return PruneResult(int(bodies or 0), int(evidence or 0), cutoff)

    # -- spool ------------------------------------------------------------------------

    def import_spool(self, path: str | Path) -> SpoolImport:
        """Load a spool file written while the database was unreachable.

        The pages go into their original run when it exists here (same id and start
        time), else into a new run rebuilt from the spool's header. A spooled finish
        (or an already finished run with no later run) is settled again so incidents
        include the spooled pages. The file is renamed ``*.imported`` afterwards.

        Page records already in the run (same site, URL, profile and fetch time) are
        skipped: a write the crawl gave up on may have committed after all.
        """
        path = Path(path)
        header: dict[str, Any] | None = None
        finish: dict[str, Any] | None = None
        pages: list[dict[str, Any]] = []
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise NotASpoolFile(f"{path}:{lineno}: not a spool line ({exc})") from exc
                kind = entry.get("type") if isinstance(entry, dict) else None
                if not isinstance(kind, str) or (
                    kind == "page" and not isinstance(entry.get("page"), dict)
                ):
                    raise NotASpoolFile(f"{path}:{lineno}: not a spool line")
                if kind == "run":
                    header = entry
                elif kind == "page":
                    pages.append(entry["page"])
                elif kind == "finish":
                    finish = entry
        if header is None:
            raise NotASpoolFile(f"{path}: no run header; not a hijackwatch spool file")
        self._check_file()
        with self.session() as session:  # all or nothing: a failed import can be repeated
            run, created = self._spool_target_run(session, header)
            new = self._unstored(session, run.id, pages, fresh=created)
            for batch in chunks(new):
                self._insert_pages(session, run.id, batch)
            outcome = None
            if finish is not None:
                outcome = self._finish(
                    session,
                    run.id,
                    finish.get("status", "finished"),
                    reason=finish.get("reason"),
                    error=finish.get("error"),
                    finished_at=parse_time(finish.get("finished_at")),
                )
            elif created:  # the crawl's end is unknown: record what we have, close nothing
                outcome = self._finish(session, run.id, "interrupted", reason="spool-import")
            elif run.status != "running" and not session.scalar(
                select(exists().where(CrawlRun.id > run.id))
            ):
                outcome = self._settle(session, run)  # newest run: incidents catch up
            run_id = run.id
        path.rename(path.with_name(path.name + ".imported"))
        return SpoolImport(
            run_id, len(new), finish is not None, outcome, skipped=len(pages) - len(new)
        )

    def _unstored(
        self,
        session: Session,
        run_id: int,
        records: Sequence[dict[str, Any]],
        *,
        fresh: bool = False,
    ) -> list[dict[str, Any]]:
        """``records`` without those the run already has (``fresh``: a new run has none)
        and without repeats among them."""
        seen = set() if fresh else self._stored_keys(session, run_id, records)
        new: list[dict[str, Any]] = []
        for rec in records:
            key = _page_key(
                rec["site"], rec["url"], rec.get("profile"), parse_time(rec.get("fetched_at"))
            )
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            new.append(rec)
        return new

    @staticmethod
    def _stored_keys(
        session: Session, run_id: int, records: Sequence[dict[str, Any]]
    ) -> set[PageKey]:
        """Keys of the run's stored pages at the URLs of ``records``."""
        keys: set[PageKey] = set()
        urls = sorted({rec["url"] for rec in records})
        for chunk in chunks(urls):
            rows = session.execute(
                select(Site.key, Page.url, Page.profile, Page.fetched_at)
                .join(Site, Site.id == Page.site_id)
                .where(Page.run_id == run_id, Page.url.in_(chunk))
            )
            for site, url, profile, fetched in rows:
                key = _page_key(site, url, profile, fetched)
                if key is not None:
                    keys.add(key)
        return keys

    def _spool_target_run(self, session: Session, header: dict[str, Any]) -> tuple[CrawlRun, bool]:
        """The spooled run when this database has it (same id and start), else a new one."""
        started = parse_time(header.get("started_at"))
        run = session.get(CrawlRun, int(header.get("run_id") or 0))
        if run is not None and started is not None:
            known = as_utc(run.started_at)
            if known is not None and abs((known - started).total_seconds()) < 1:
                return run, False
        run = self._new_run(session, header.get("seeds") or [], header.get("options"), started)
        return run, True
