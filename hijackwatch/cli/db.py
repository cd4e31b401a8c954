"""``hijackwatch report`` and ``hijackwatch db`` (upgrade, status, prune, import-spool)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from hijackwatch.cli import EXIT_DATABASE, EXIT_USAGE, CommandError
from hijackwatch.storage import DEFAULT_URL, URL_ENV, Database, StorageError
from hijackwatch.storage.engine import redact, resolve_url

DB_HELP = f"database URL (default: env {URL_ENV}, else {DEFAULT_URL})"


def _existing_db(url: str | None) -> Database:
    """Open a database that must already hold a current schema (reading never creates one)."""
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except Exception as exc:
        raise CommandError(f"bad database URL: {exc}", EXIT_USAGE) from exc
    if (
        parsed.get_backend_name() == "sqlite"
        and parsed.database not in (None, "", ":memory:")
        and not Path(parsed.database).exists()
    ):
        raise CommandError(
            f"no database at {parsed.database}; run `hijackwatch crawl` first or pass --db",
            EXIT_DATABASE,
        )
    try:
        db = Database(resolved)
        db.check_current()
    except StorageError as exc:
        raise CommandError(str(exc), EXIT_DATABASE) from exc
    return db


def _open(url: str | None) -> Database:
    try:
        return Database(url)
    except StorageError as exc:
        raise CommandError(str(exc), EXIT_DATABASE) from exc


@contextmanager
def _using(db: Database) -> Iterator[Database]:
    """Database failures become one-line errors (exit 3); the engine is always closed."""
    try:
        yield db
    except StorageError as exc:
        raise CommandError(str(exc), EXIT_DATABASE) from exc
    except SQLAlchemyError as exc:
        raise CommandError(f"database error: {exc}", EXIT_DATABASE) from exc
    finally:
        db.dispose()


# -- report -------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    from hijackwatch.report import build_report, render, render_table

    with _using(_existing_db(args.db)) as db:
        try:
            report = build_report(
                db, only=args.only, site=args.site, since=args.since, run_id=args.run
            )
        except ValueError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from exc
    if args.output:
        text = render(report, args.format)
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc}", EXIT_USAGE) from exc
        print(f"report written to {args.output} ({len(report.sites)} site(s))", file=sys.stderr)
    elif args.format == "table":
        from rich.console import Console

        # piped output is read by scripts and people alike: wide enough not to fold keys
        width = None if sys.stdout.isatty() else 160
        render_table(report, Console(highlight=False, width=width))
    else:
        sys.stdout.write(render(report, args.format))
    return 0


# -- db -----------------------------------------------------------------------------------


def cmd_upgrade(args: argparse.Namespace) -> int:
    with _using(_open(args.db)) as db:
        before = db.current_revision()
        db.upgrade()
        after = db.current_revision()
    if before == after:
        print(f"{redact(db.url)}: schema already current ({after})")
    else:
        print(f"{redact(db.url)}: schema upgraded {before or '(empty)'} -> {after}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with _using(_open(args.db)) as db:
        current, head = db.current_revision(), db.head_revision()
        print(f"database: {redact(db.url)}")
        print(f"schema:   {current or '(none)'} (this hijackwatch expects {head})")
        if current != head:
            print("          run `hijackwatch db upgrade` to bring it up to date")
            return EXIT_DATABASE
        for run in db.runs(args.runs):
            print(
                f"run {run.id:>5} {run.started_at:%Y-%m-%d %H:%M} {run.status:<11} "
                f"sites={run.sites} pages={run.pages} hijacked={run.hijacked} "
                f"suspicious={run.suspicious} errors={run.errors} "
                f"new_sites={run.new_hijacked_sites} cleaned_sites={run.cleaned_sites}"
            )
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    if args.keep_days < 0:
        raise CommandError("--keep-days must be >= 0", EXIT_USAGE)
    with _using(_existing_db(args.db)) as db:
        result = db.prune(args.keep_days)
    print(
        f"pruned evidence older than {result.cutoff:%Y-%m-%d %H:%M} UTC: "
        f"{result.bodies_deleted} page bodies deleted, "
        f"{result.evidence_cleared} finding evidence texts cleared (verdict history kept)"
    )
    return 0


def cmd_import_spool(args: argparse.Namespace) -> int:
    with _using(_open(args.db)) as db:
        db.ensure_schema()
        for name in args.files:
            try:
                result = db.import_spool(name)
            except FileNotFoundError as exc:
                raise CommandError(f"no such spool file: {exc.filename}", EXIT_USAGE) from exc
            state = "finished" if result.outcome is not None else "pages only"
            skipped = f", {result.skipped} already stored, skipped" if result.skipped else ""
            print(
                f"{name}: {result.pages} page(s) imported into run {result.run_id} "
                f"({state}{skipped})"
            )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hijackwatch.report import FORMATS, ONLY_CHOICES

    report = subparsers.add_parser(
        "report",
        help="report hijacked sites and pages from the database",
        description="Per site: status, since when (incident), pages and findings with evidence.",
    )
    report.add_argument("--db", metavar="URL", help=DB_HELP)
    report.add_argument("--format", choices=FORMATS, default="table")
    report.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    report.add_argument("--site", metavar="KEY", help="only this site key (e.g. example.edu.cn)")
    report.add_argument(
        "--since", metavar="DATE", help="sites crawled (with --only new: hijacked) since DATE"
    )
    report.add_argument("--run", type=int, metavar="ID", help="as of this run (default: latest)")
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
    upgrade.add_argument("--db", metavar="URL", help=DB_HELP)
    upgrade.set_defaults(func=cmd_upgrade)

    status = db_sub.add_parser("status", help="schema revision and recent runs")
    status.add_argument("--db", metavar="URL", help=DB_HELP)
    status.add_argument("--runs", type=int, default=10, metavar="N", help="show N recent runs")
    status.set_defaults(func=cmd_status)

    prune = db_sub.add_parser(
        "prune", help="delete old page bodies and evidence text; keep verdict history"
    )
    prune.add_argument("--db", metavar="URL", help=DB_HELP)
    prune.add_argument("--keep-days", type=int, required=True, metavar="N")
    prune.set_defaults(func=cmd_prune)

    spool = db_sub.add_parser(
        "import-spool", help="load spool files written while the database was unreachable"
    )
    spool.add_argument("files", nargs="+", metavar="FILE")
    spool.add_argument("--db", metavar="URL", help=DB_HELP)
    spool.set_defaults(func=cmd_import_spool)
