"""``hijackwatch crawl`` and ``hijackwatch demo``: run the Scrapy crawl and summarise it."""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hijackwatch.cli import (
    EXIT_CRAWL_FAILED,
    EXIT_DATABASE,
    EXIT_NEW_HIJACKS,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    int_between,
    stdout_console,
)
from hijackwatch.seeds import URL_LENGTH_LIMIT, Seed, SeedsFileError, read_seeds_file
from hijackwatch.storage.errors import one_line

if TYPE_CHECKING:
    from types import FrameType

    from scrapy.crawler import Crawler
    from scrapy.settings import Settings

    from hijackwatch.pipelines.storage import StoragePipeline

# close reason recorded for a run stopped by a second Ctrl-C (Scrapy's first is "shutdown")
FORCED_REASON = "shutdown_forced"
# the crawl's size, as an option or a -s setting: 0 or fewer pages (or a negative depth)
# would record an empty "finished" run every night
PAGES_RANGE = int_between(1)
DEPTH_RANGE = int_between(0)
SETTING_RANGES = {"HIJACKWATCH_MAX_PAGES": PAGES_RANGE, "HIJACKWATCH_MAX_DEPTH": DEPTH_RANGE}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    crawl = sub.add_parser("crawl", help="crawl the sites in a seeds file and store the results")
    crawl.add_argument("seeds", metavar="SEEDS_FILE", help="one domain or URL per line")
    _crawl_options(crawl)
    crawl.add_argument(
        "--fail-on-new",
        action="store_true",
        help=f"exit {EXIT_NEW_HIJACKS} when the crawl found newly hijacked sites",
    )
    crawl.set_defaults(func=run_crawl)

    demo = sub.add_parser("demo", help="serve the bundled fixture web, crawl it, print the report")
    demo.add_argument(
        "--db", default="sqlite:///hijackwatch-demo.db", help="database URL (default: %(default)s)"
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="keep earlier demo runs in the database instead of starting fresh",
    )
    demo.set_defaults(func=run_demo)


def _crawl_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        help="SQLAlchemy database URL (default: $HIJACKWATCH_DB_URL or sqlite:///hijackwatch.db)",
    )
    parser.add_argument(
        "--max-pages", type=PAGES_RANGE, metavar="N", help="pages per site, >= 1 (default 200)"
    )
    parser.add_argument(
        "--max-depth",
        type=DEPTH_RANGE,
        metavar="N",
        help="link hops from the homepage, >= 0 (default 5)",
    )
    parser.add_argument(
        "--notify",
        metavar="URL",
        help="POST a JSON summary of new or cleaned incidents to this webhook",
    )
    parser.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any Scrapy or HIJACKWATCH_ setting (repeatable)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")


def crawl_settings(args: argparse.Namespace, db_url: str) -> Settings:
    """The crawl's settings; the seeds go in HIJACKWATCH_SEED_LIST once read (their
    check depends on URLLENGTH_LIMIT)."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("hijackwatch.settings", priority="project")
    overrides: dict[str, Any] = {
        "HIJACKWATCH_DB_URL": db_url,
        "LOG_LEVEL": "INFO",
        "HIJACKWATCH_QUIET": bool(args.quiet),
    }
    if args.max_pages is not None:
        overrides["HIJACKWATCH_MAX_PAGES"] = args.max_pages
    if args.max_depth is not None:
        overrides["HIJACKWATCH_MAX_DEPTH"] = args.max_depth
    if args.notify:
        overrides["HIJACKWATCH_NOTIFY_URL"] = args.notify
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CommandError(f"--set wants NAME=VALUE, got {item!r}", EXIT_USAGE)
        check_setting(settings, name.strip(), value)
        overrides[name.strip()] = value
    settings.setdict(overrides, priority="cmdline")
    return settings


def check_setting(settings: Settings, name: str, value: str) -> None:
    """A ``-s`` value the crawl could not use is a usage error now (exit 2): Scrapy reads
    settings only as each component starts, where a bad one ends the crawl with a
    traceback. Checked against the type of the default (numbers, booleans) and, for the
    crawl's size, its range; other bad values are caught when the crawl starts."""
    from scrapy.settings import BaseSettings

    default = settings.get(name)
    try:
        if name in SETTING_RANGES:
            SETTING_RANGES[name](value)
        elif isinstance(default, bool):
            BaseSettings({name: value}).getbool(name)
        elif isinstance(default, int | float):  # an int default may be read as a float
            float(value)
    except argparse.ArgumentTypeError as exc:
        raise CommandError(f"-s {name}={value}: {exc}", EXIT_USAGE) from None
    except ValueError:
        kind = "true or false (1 or 0)" if isinstance(default, bool) else "a number"
        raise CommandError(f"-s {name}={value}: must be {kind}", EXIT_USAGE) from None


def prepare_database(url: str, timeout: float) -> None:
    """Fail fast, before any request, when results could not be stored.

    A server that takes the connection and then stalls fails after ``timeout`` s
    (HIJACKWATCH_DB_WRITE_TIMEOUT), like one that refuses it: a scheduled run must end.
    """
    from hijackwatch.storage import Database
    from hijackwatch.storage.deadline import call_with_deadline
    from hijackwatch.storage.engine import db_error

    db = None
    try:
        db = Database(url)
        call_with_deadline(db.ensure_schema, timeout, url)
        call_with_deadline(db.check_writable, timeout, url)
    except Exception as exc:  # ours, or the driver's: unreachable server, bad credentials
        raise CommandError(db_error(url, exc), EXIT_DATABASE) from None
    finally:
        if db is not None:
            db.dispose()


def read_seeds(path: str, settings: Settings) -> list[Seed]:
    """The seeds file's usable entries; each malformed line is reported with its number."""
    try:
        seeds, problems = read_seeds_file(
            path, settings.getint("URLLENGTH_LIMIT", URL_LENGTH_LIMIT)
        )
    except SeedsFileError as exc:
        if not exc.problems:
            raise CommandError(str(exc), EXIT_USAGE) from None
        seeds, problems = [], exc.problems
    for problem in problems:
        print(f"hijackwatch crawl: {path}: skipped {problem}", file=sys.stderr)
    if not seeds:
        raise CommandError(
            f"no usable entries in seeds file {path} ({len(problems)} malformed lines, "
            "listed above)",
            EXIT_USAGE,
        )
    return seeds


class StopNotices:
    """Say what a stop signal does: the CLI hides Scrapy's own INFO line ("shutting down
    gracefully, send again to force"), and a graceful stop can take a download timeout.

    Wraps the handlers Scrapy installs, after Scrapy installs them; prints from the
    reactor thread, not the signal handler (the interrupted code may be writing to the
    same stream).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.received = 0

    def install(self) -> None:
        for signum in self.SIGNALS:
            handler = signal.getsignal(signum)
            if callable(handler) and not isinstance(handler, functools.partial):
                signal.signal(signum, functools.partial(self._received, handler))

    def _received(self, handler: Any, signum: int, frame: FrameType | None) -> None:
        from twisted.internet import reactor

        self.received += 1
        handler(signum, frame)  # Scrapy's: stops the crawl, installs the next handler
        reactor.callFromThread(self._tell, self.received)  # type: ignore[attr-defined]
        self.install()

    def _tell(self, count: int) -> None:
        if count == 1:
            message = (
                f"stopping: finishing pages in flight (up to {self.wait:g} s); "
                "Ctrl-C again to stop now"
            )
        else:
            message = "stopping now: pages in flight are dropped, the run is interrupted"
        print(f"hijackwatch crawl: {message}", file=sys.stderr, flush=True)


def execute(settings: Settings) -> dict[str, Any]:
    """Run the hijack spider to completion in this process; return its final stats."""
    from scrapy.crawler import AsyncCrawlerProcess

    from hijackwatch.spiders.hijack import HijackSpider

    quiet = settings.getbool("HIJACKWATCH_QUIET")
    if quiet:
        settings.set("LOG_VERSIONS", [], priority="cmdline")
        # "Scrapy x started" is logged while the process configures logging, which
        # resets the levels of scrapy's loggers (not their filters)
        logging.getLogger("scrapy.utils.log").addFilter(_warnings_only)
    else:
        logging.getLogger("scrapy.utils.log").removeFilter(_warnings_only)
    process = AsyncCrawlerProcess(settings)  # configures logging: adjust levels after it
    # Scrapy's own INFO lines (stats dumps, middleware lists) and Alembic's drown what
    # matters here; quiet mode keeps warnings, progress lines and the summary.
    for name in ("scrapy", "alembic", "py.warnings"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if quiet:
        logging.getLogger("hijackwatch").setLevel(logging.WARNING)
        logging.getLogger("hijackwatch.extensions.progress").setLevel(logging.INFO)
    crawler = process.create_crawler(HijackSpider)
    failures: list[BaseException] = []
    process.crawl(crawler).add_done_callback(functools.partial(_keep_failure, failures))
    from twisted.internet import reactor  # installed by AsyncCrawlerProcess by now

    notices = StopNotices(settings.getfloat("DOWNLOAD_TIMEOUT"))
    # Scrapy installs its handlers at reactor startup; ours wrap them just after
    reactor.callWhenRunning(reactor.callLater, 0, notices.install)  # type: ignore[attr-defined]
    process.start()
    if failures and not _run_started(crawler):
        start_failed(failures[0])
    try:
        stats = crawler.stats.get_stats()
    except RuntimeError:  # the crawl died before it started (its error was logged)
        return {}
    if stats.get("hijackwatch/run_id") is not None and "hijackwatch/run_status" not in stats:
        settle_forced_stop(crawler)  # a second Ctrl-C stopped the loop before the run's end
    elif (storage := _storage(crawler)) is not None:
        storage.alert_left_behind()  # a second Ctrl-C while the run's alert was being sent
    return dict(crawler.stats.get_stats())


def _storage(crawler: Crawler) -> StoragePipeline | None:
    from hijackwatch.pipelines.storage import StoragePipeline

    try:
        return crawler.get_item_pipeline(StoragePipeline)
    except RuntimeError:  # the engine never started
        return None


def _warnings_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


def _keep_failure(failures: list[BaseException], task: asyncio.Task[None]) -> None:
    """The exception that ended the crawl task, if any (taking it also stops asyncio's
    "Task exception was never retrieved" traceback)."""
    if not task.cancelled() and task.exception() is not None:
        failures.append(task.exception())  # type: ignore[arg-type]


def _run_started(crawler: Crawler) -> bool:
    try:
        return crawler.stats.get_value("hijackwatch/run_id") is not None
    except (AttributeError, RuntimeError):  # no stats: the crawler never started
        return False


def start_failed(exc: BaseException) -> None:
    """The crawl died before its run started. A bad setting value (a component's
    ValueError, TypeError or NotConfigured from ``-s``) is a usage error, exit 2, in one
    line; anything else is logged with its traceback and the crawl failed (exit 4)."""
    from scrapy.exceptions import NotConfigured

    if isinstance(exc, ValueError | TypeError | NotConfigured):
        raise CommandError(
            f"the crawl cannot start with these settings: {one_line(exc)}", EXIT_USAGE
        )
    logging.getLogger(__name__).error("the crawl could not start", exc_info=exc)


def settle_forced_stop(crawler: Crawler) -> None:
    """Record the run as ``interrupted`` with the pages the storage pipeline still holds.

    Scrapy ignores further stop signals after the second (SIG_IGN); while the salvage
    waits for the database, one more abandons it, leaving the spool file (exit 3).
    """
    storage = _storage(crawler)  # the run started: the engine exists
    if storage is None:
        return
    abandon = threading.Event()  # the salvage polls it: a handler may only set a flag
    for signum in StopNotices.SIGNALS:
        signal.signal(signum, lambda _signum, _frame: abandon.set())
    print(
        f"hijackwatch crawl: saving {storage.held_pages} page(s) and the run's end "
        f"(up to {storage.salvage_wait:g} s); Ctrl-C again to leave them in a spool file",
        file=sys.stderr,
        flush=True,
    )
    try:
        storage.salvage(FORCED_REASON, abandon)
    finally:  # from here on a stop signal stops the process as usual
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def print_summary(stats: dict[str, Any], console: Console) -> None:
    totals: dict[str, dict[str, int]] = stats.get("hijackwatch/site_totals") or {}
    table = Table(
        title="crawl summary",
        title_justify="left",
        caption="pages: distinct URLs; hijacked, suspicious: pages so under any visitor "
        "profile; fetches: one per page and profile; errors: failed fetches",
        caption_justify="left",
    )
    table.add_column("site", overflow="fold")  # never cut short: it names the site
    for column in ("pages", "hijacked", "suspicious", "fetches", "errors"):
        table.add_column(column, justify="right")
    for site in sorted(totals, key=lambda s: (-totals[s].get("hijacked_pages", 0), s)):
        counts = totals[site]
        style = "bold red" if counts.get("hijacked_pages") else None
        table.add_row(
            escape(site),
            str(counts.get("pages", 0)),
            str(counts.get("hijacked_pages", 0)),
            str(counts.get("suspicious_pages", 0)),
            str(counts.get("fetches", 0)),
            str(counts.get("error", 0)),
            style=style,
        )
    console.print(table)
    run_id = stats.get("hijackwatch/run_id")
    if stats.get("hijackwatch/run_status") == "unrecorded":
        where = "its end is in the spool file" if stats.get("hijackwatch/spool_file") else ""
        console.print(
            f"run {run_id}: not settled in the database; {where or 'see the errors above'}",
            highlight=False,
        )
        return
    console.print(
        f"run {run_id}: {stats.get('hijackwatch/run_status', '?')}, "
        f"{stats.get('hijackwatch/hijacked_sites', 0)} hijacked sites "
        f"({stats.get('hijackwatch/new_hijacked_sites', 0)} new, "
        f"{stats.get('hijackwatch/cleaned_sites', 0)} cleaned), "
        f"{stats.get('hijackwatch/hijacked_pages', 0)} hijacked pages",
        highlight=False,
    )


def crawl(seeds_file: str, args: argparse.Namespace, console: Console) -> int:
    from hijackwatch.storage import resolve_url

    db_url = resolve_url(args.db)
    settings = crawl_settings(args, db_url)
    seeds = read_seeds(seeds_file, settings)
    settings.set("HIJACKWATCH_SEED_LIST", [seed.url for seed in seeds], priority="cmdline")
    prepare_database(db_url, settings.getfloat("HIJACKWATCH_DB_WRITE_TIMEOUT"))
    stats = execute(settings)
    if stats.get("hijackwatch/db_error"):  # the run could not be started after all
        raise CommandError(stats["hijackwatch/db_error"], EXIT_DATABASE)
    print_summary(stats, console)
    status = stats.get("hijackwatch/run_status")
    if not settings.getbool("HIJACKWATCH_STORAGE_ENABLED", True):
        # nothing recorded by design: Scrapy's own close reason tells how the crawl ended
        status = "finished" if stats.get("finish_reason") == "finished" else "failed"
        print(
            f"hijackwatch crawl: storage is off, nothing was recorded ({status})", file=sys.stderr
        )
        return EXIT_OK if status == "finished" else EXIT_CRAWL_FAILED
    if not_stored(stats):
        return EXIT_DATABASE
    if status not in ("finished", "interrupted") or stats.get("hijackwatch/run_id") is None:
        print(
            f"hijackwatch crawl: the crawl did not finish (status {status}, "
            f"close reason {stats.get('finish_reason')})",
            file=sys.stderr,
        )
        return EXIT_CRAWL_FAILED
    if getattr(args, "fail_on_new", False) and stats.get("hijackwatch/new_hijacked_sites", 0):
        return EXIT_NEW_HIJACKS
    return EXIT_OK


def not_stored(stats: dict[str, Any]) -> bool:
    """Say where results the database did not take are; True when there are any.

    A spool file not imported yet (it is renamed once imported) holds pages or the run's
    end; pages no spool file could take are lost (the pipeline logged them).
    """
    spool = stats.get("hijackwatch/spool_file")
    pending = spool is not None and Path(spool).exists()
    lost = stats.get("hijackwatch/lost_pages", 0)
    if pending:
        what = f"{stats.get('hijackwatch/spooled_pages', 0)} page(s)"
        if stats.get("hijackwatch/run_status") == "unrecorded":
            what += " and the run's end"
        print(
            f"hijackwatch crawl: the database did not take all results: {what} are in "
            f"spool file {spool}; load them with `hijackwatch db import-spool {spool}` "
            "once the database answers",
            file=sys.stderr,
        )
    if lost:
        print(
            f"hijackwatch crawl: {lost} page(s) were lost: neither the database nor a spool "
            "file took them",
            file=sys.stderr,
        )
    return pending or bool(lost)


def run_crawl(args: argparse.Namespace) -> int:
    return crawl(args.seeds, args, stdout_console())


def run_demo(args: argparse.Namespace) -> int:
    from hijackwatch.demo import FixtureWeb

    console = stdout_console()
    if not args.keep and args.db.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(args.db.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    with FixtureWeb() as web, tempfile.TemporaryDirectory() as tmp:
        seeds_file = os.path.join(tmp, "seeds.txt")
        web.write_seeds(seeds_file)
        console.print(
            f"demo: serving {len(web.seeds)} fixture sites on 127.0.0.x "
            f"(plus one dead address), crawling into {args.db}",
            highlight=False,
        )
        from hijackwatch.cli import build_parser

        # the demo is a crawl with fixture-friendly options, parsed like any other
        ns = build_parser().parse_args(
            ["crawl", seeds_file, "--db", args.db, "--max-pages", "50", "-q",
             "-s", "DOWNLOAD_TIMEOUT=3", "-s", "HIJACKWATCH_PROGRESS_INTERVAL=5",
             "-s", "HIJACKWATCH_LOOPBACK_ONLY=1"]
        )  # fmt: skip
        code = crawl(seeds_file, ns, console)
    if code not in (EXIT_OK, EXIT_NEW_HIJACKS):
        return code
    from hijackwatch.cli import main

    console.print("\n[bold]report[/bold] (hijackwatch report --db " + escape(args.db) + ")")
    return main(["report", "--db", args.db])
