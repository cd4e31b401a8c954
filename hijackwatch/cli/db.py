"""``hijackwatch report`` and ``hijackwatch db`` (upgrade, status, prune, import-spool)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hijackwatch.alerts import notify_run
from hijackwatch.cli import (
    EXIT_DATABASE,
    EXIT_USAGE,
    CommandError,
    int_between,
    stdout_console,
)
from hijackwatch.seeds import site_key
from hijackwatch.storage import DEFAULT_URL, URL_ENV, Database, StorageError
from hijackwatch.storage.database import MAX_KEEP_DAYS, PruneResult
from hijackwatch.storage.deadline import NoAnswer, call_with_deadline
from hijackwatch.storage.engine import redact
from hijackwatch.storage.errors import NotASpoolFile, one_line
from hijackwatch.storage.models import Site

T = TypeVar("T")

DB_HELP = f"database URL (default: env {URL_ENV}, else {DEFAULT_URL})"
READ_TIMEOUT = 600.0  # report, db status: a scheduled read must end, not pile up


def _open(url: str | None, *, create: bool = False) -> Database:
    """The database at ``url``. Only ``db upgrade`` (like ``crawl``) may create a SQLite
    file: anywhere else a new empty file would just hide a mistyped path."""
    try:
        return Database(url, create=create)
    except StorageError as exc:  # also a URL that cannot work: unparseable, no driver
        raise CommandError(one_line(exc), EXIT_DATABASE) from None


@contextmanager
def _using(db: Database) -> Iterator[Database]:
    """Database failures become one-line errors (exit 3); the engine is always closed."""
    try:
        yield db
    except StorageError as exc:
        raise CommandError(one_line(exc), EXIT_DATABASE) from exc
    except SQLAlchemyError as exc:
        raise CommandError(
            f"database error in {redact(db.url)}: {one_line(exc)}", EXIT_DATABASE
        ) from exc
    finally:
        db.dispose()


def _bounded(db: Database, timeout: float, work: Callable[[], T]) -> T:
    """``work()`` given at most ``timeout`` s (0: no limit). A server that took the
    connection and went silent never answers nor fails: only a time limit ends that."""
    try:
        return call_with_deadline(work, timeout, db.url)
    except NoAnswer:
        raise CommandError(
            f"{redact(db.url)} did not finish within {timeout:g}s (--timeout; a server "
            "that stopped answering, or more work than that: 0 sets no limit)",
            EXIT_DATABASE,
        ) from None


def _check_run(db: Database, run_id: int) -> None:
    """An unknown ``--run`` is bad input (exit 2): say which runs there are."""
    latest = db.runs(1)
    # the bound first: a run id beyond the integer column is an error on PostgreSQL
    if latest and run_id <= latest[0].id and db.run(run_id) is not None:
        return
    held = f"the latest run is {latest[0].id}" if latest else "it holds no runs yet"
    raise CommandError(
        f"no run {run_id} in {redact(db.url)}; {held} (`hijackwatch db status` lists runs)",
        EXIT_USAGE,
    )


def _site_argument(text: str) -> str:
    """``--site`` as written in seeds.txt (``www.Example.edu.cn``, ``例子.中国``, a URL)
    turned into the site key the database uses (``example.edu.cn``, punycode)."""
    value = text.strip()
    key = site_key(value if "://" in value else f"http://{value}")
    if key is None:
        raise CommandError(f"--site {text!r} is not a host name or URL", EXIT_USAGE)
    return key


def _check_site(db: Database, key: str, written: str) -> None:
    """A site never crawled is bad input (exit 2), not an empty report: a scripted
    check for one site must not read a typo as "not hijacked"."""
    with db.engine.connect() as conn:
        found = conn.execute(select(Site.id).where(Site.key == key)).first()
    if found is None:
        shown = key if key == written else f"{key} (from {written!r})"
        raise CommandError(
            f"no site {shown} in {redact(db.url)} (`hijackwatch report --only all` lists "
            "the sites)",
            EXIT_USAGE,
        )


# -- report -------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    from hijackwatch.report import Report, build_report, render, render_table

    site = _site_argument(args.site) if args.site else None

    def read(db: Database) -> Report:
        db.check_current()
        if args.run is not None:
            _check_run(db, args.run)
        if site is not None:
            _check_site(db, site, args.site)
        try:
            return build_report(db, only=args.only, site=site, since=args.since, run_id=args.run)
        except ValueError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from exc

    with _using(_open(args.db)) as db:
        report = _bounded(db, args.timeout, lambda: read(db))
    if args.output:
        text = render(report, args.format)
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc}", EXIT_USAGE) from exc
        print(f"report written to {args.output} ({len(report.sites)} site(s))", file=sys.stderr)
    elif args.format == "table":
        # piped output is read by scripts and people alike: wide enough not to fold keys
        width = None if sys.stdout.isatty() else 160
        render_table(report, stdout_console(highlight=False, width=width))
    else:
        sys.stdout.write(render(report, args.format))
    return 0


# -- db -----------------------------------------------------------------------------------


def cmd_upgrade(args: argparse.Namespace) -> int:
    def upgrade(db: Database) -> tuple[str | None, str | None]:
        before = db.current_revision()
        db.upgrade()
        return before, db.current_revision()

    with _using(_open(args.db, create=True)) as db:
        before, after = _bounded(db, args.timeout, lambda: upgrade(db))
    if before == after:
        print(f"{redact(db.url)}: schema already current ({after})")
    else:
        print(f"{redact(db.url)}: schema upgraded {before or '(empty)'} -> {after}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with _using(_open(args.db)) as db:
        current = _bounded(db, args.timeout, db.current_revision)
        head = db.head_revision()
        print(f"database: {redact(db.url)}")
        print(f"schema:   {current or '(none)'} (this hijackwatch expects {head})")
        if db.is_newer(current):
            print("          a newer hijackwatch migrated it: upgrade hijackwatch")
            return EXIT_DATABASE
        if db.is_unknown(current):
            print("          an unknown revision, not one hijackwatch wrote: check the URL")
            return EXIT_DATABASE
        if current != head:
            print("          run `hijackwatch db upgrade` to bring it up to date")
            return EXIT_DATABASE
        for run in _bounded(db, args.timeout, lambda: db.runs(args.runs)):
            print(
                f"run {run.id:>5} {run.started_at:%Y-%m-%d %H:%M} {run.status:<11} "
                f"sites={run.sites} pages={run.pages} hijacked={run.hijacked} "
                f"suspicious={run.suspicious} errors={run.errors} "
                f"new_sites={run.new_hijacked_sites} cleaned_sites={run.cleaned_sites}"
            )
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    def prune(db: Database) -> PruneResult:
        db.check_current()
        return db.prune(args.keep_days)

    with _using(_open(args.db)) as db:
        result = _bounded(db, args.timeout, lambda: prune(db))
    print(
        f"pruned evidence older than {result.cutoff:%Y-%m-%d %H:%M} UTC: "
        f"{result.bodies_deleted} page bodies deleted, "
        f"{result.evidence_cleared} finding evidence texts cleared (verdict history kept)"
    )
    return 0


def cmd_import_spool(args: argparse.Namespace) -> int:
    with _using(_open(args.db)) as db:
        _bounded(db, args.timeout, db.ensure_schema)
        for name in args.files:
            try:
                result = _bounded(db, args.timeout, lambda name=name: db.import_spool(name))
            except FileNotFoundError as exc:
                raise CommandError(f"no such spool file: {exc.filename}", EXIT_USAGE) from exc
            except (NotASpoolFile, UnicodeDecodeError) as exc:  # bad input, the database is fine
                raise CommandError(one_line(exc), EXIT_USAGE) from exc
            # the run's settled status (finished, interrupted...), else only pages were added
            state = result.outcome.status if result.outcome is not None else "pages only"
            skipped = f", {result.skipped} already stored, skipped" if result.skipped else ""
            print(
                f"{name}: {result.pages} page(s) imported into run {result.run_id} "
                f"({state}{skipped})"
            )
            if args.notify and result.outcome is not None:
                # the crawl that wrote the spool could not settle, so it sent no alert;
                # undelivered, it waits with the pending alerts beside the spool files
                sent = notify_run(args.notify, result.outcome, pending_dir=Path(name).parent)
                if sent is not None:
                    print(f"run {result.run_id}: alert {'sent' if sent else 'NOT delivered'}")
    return 0


def _database_options(parser: argparse.ArgumentParser, timeout: float = 0.0) -> None:
    parser.add_argument("--db", metavar="URL", help=DB_HELP)
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=timeout,
        metavar="S",
        help=f"time limit in seconds for the database work, exit 3 past it (default "
        f"{f'{timeout:g}' if timeout else '0: no limit'}); ends a wait on a server that "
        "stopped answering",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 86_400 * 7:
        raise argparse.ArgumentTypeError(f"must be between 0 and 604800, not {text}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hijackwatch.report import FORMATS, ONLY_CHOICES

    report = subparsers.add_parser(
        "report",
        help="report hijacked sites and pages from the database",
        description="Per site: status, since when (incident), pages and findings with evidence.",
    )
    _database_options(report, READ_TIMEOUT)
    report.add_argument("--format", choices=FORMATS, default="table")
    report.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    report.add_argument("--site", metavar="KEY", help="only this site key (e.g. example.edu.cn)")
    report.add_argument(
        "--since", metavar="DATE", help="sites crawled (with --only new: hijacked) since DATE"
    )
    report.add_argument(
        "--run", type=int_between(1), metavar="ID", help="as of this run (default: latest)"
    )
    report.add_argument(
        "--only",
        choices=ONLY_CHOICES,
        default="hijacked",
        help="hijacked: hijacked now (default); new: newly hijacked; all: every site",
    )
    report.set_defaults(func=cmd_report)

    db = subparsers.add_parser("db", help="manage the database (upgrade, status, prune, import)")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")

    upgrade = db_sub.add_parser("upgrade", help="create or migrate the schema to this version")
    _database_options(upgrade)
    upgrade.set_defaults(func=cmd_upgrade)

    status = db_sub.add_parser("status", help="schema revision and recent runs")
    _database_options(status, READ_TIMEOUT)
    status.add_argument(
        "--runs", type=int_between(0), default=10, metavar="N", help="show N recent runs"
    )
    status.set_defaults(func=cmd_status)

    prune = db_sub.add_parser(
        "prune", help="delete old page bodies and evidence text; keep verdict history"
    )
    _database_options(prune)
    prune.add_argument(
        "--keep-days",
        type=int_between(0, MAX_KEEP_DAYS),
        required=True,
        metavar="N",
        help=f"keep the last N days (0 to {MAX_KEEP_DAYS})",
    )
    prune.set_defaults(func=cmd_prune)

    spool = db_sub.add_parser(
        "import-spool", help="load spool files written while the database was unreachable"
    )
    spool.add_argument("files", nargs="+", metavar="FILE")
    spool.add_argument(
        "--notify",
        metavar="URL",
        help="POST the alert of each run the import settles (new or cleaned incidents) "
        "to this webhook, as the crawl would have",
    )
    _database_options(spool)
    spool.set_defaults(func=cmd_import_spool)
