"""StoragePipeline: write every PageItem to the database in batches, off the event loop.

Settings: ``HIJACKWATCH_DB_URL`` (else env HIJACKWATCH_DB_URL), ``HIJACKWATCH_BATCH_SIZE``,
``HIJACKWATCH_FLUSH_INTERVAL`` (s), ``HIJACKWATCH_NOTIFY_URL``, ``HIJACKWATCH_SEEDS``,
``HIJACKWATCH_KEEP_BODIES`` (none|flagged|all), ``HIJACKWATCH_SPOOL_DIR``,
``HIJACKWATCH_DB_RETRIES``, ``HIJACKWATCH_DB_RETRY_DELAY`` (s), ``HIJACKWATCH_DB_WRITE_TIMEOUT``
(s), ``HIJACKWATCH_UNSAVED_MAX``, ``HIJACKWATCH_STORAGE_ENABLED``.

A crash loses at most the unflushed batch (size- and time-bounded). The run's start,
each batch and the run's end get the write timeout (a server that stops answering
without dropping the connection). A batch the database refuses after retries, or does
not take in time, goes to a spool file (``db import-spool``), never lost; while the
spool cannot be written either, the pages stay in memory and are retried, batch by
batch, at every later flush. Past ``HIJACKWATCH_UNSAVED_MAX`` such pages the crawl
stops (close reason ``storage_failed``) rather than fill the memory.
Run status from Scrapy's close reason: ``finished`` -> finished; ``shutdown``,
``cancelled`` and ``closespider_*`` limits -> interrupted; ``closespider_errorcount``,
``storage_failed`` and any other reason, or a run that could not be recorded -> failed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.settings import SETTINGS_PRIORITIES

from hijackwatch.alerts import notify_run, queue_alert, run_alert
from hijackwatch.items import PageItem
from hijackwatch.storage import Database, DatabaseUnavailable, RunOutcome, page_record
from hijackwatch.storage.database import WriteAbandoned
from hijackwatch.storage.deadline import DB_THREAD, NoAnswer, in_daemon_thread
from hijackwatch.storage.engine import URL_ENV, db_error, redact
from hijackwatch.storage.errors import one_line
from hijackwatch.storage.records import BODY_POLICIES
from hijackwatch.storage.spool import Spool, default_spool_dir, finish_entry

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

INTERRUPTED_REASONS = ("shutdown", "cancelled")
STORAGE_FAILED = "storage_failed"  # close reason: nothing takes the pages any more
# Seconds a forced stop waits, at most, for the database (writes in flight, then the import):
# the operator has just said "stop now", and the write timeout may be minutes
SALVAGE_WAIT = 10.0
FORCED_ALERT_TIMEOUT = 5.0  # a forced stop's one try at the run's alert
ALERT_THREAD = "hijackwatch-alert"


def run_status(reason: str | None) -> str:
    """Map Scrapy's close reason to the crawl_runs status."""
    if reason == "finished":
        return "finished"
    if reason in INTERRUPTED_REASONS or (
        reason and reason.startswith("closespider_") and reason != "closespider_errorcount"
    ):
        return "interrupted"
    return "failed"


def db_url_setting(settings: BaseSettings) -> str | None:
    """The setting when given explicitly (``-s``/spider), else env, else settings.py default."""
    value = settings.get("HIJACKWATCH_DB_URL")
    explicit = (settings.getpriority("HIJACKWATCH_DB_URL") or 0) > SETTINGS_PRIORITIES["project"]
    if not explicit and os.environ.get(URL_ENV):
        return os.environ[URL_ENV]
    return value


class StoragePipeline:
    """Buffers page records and writes them in a worker thread; settles the run at close."""

    def __init__(
        self,
        crawler: Crawler,
        db: Database,
        *,
        batch_size: int = 200,
        flush_interval: float = 5.0,
        notify_url: str | None = None,
        seeds: list[str] | None = None,
        body_policy: str = "flagged",
        spool_dir: Path | None = None,
        retries: int = 3,
        retry_delay: float = 0.5,
        write_timeout: float = 120.0,
        unsaved_max: int = 2000,
    ) -> None:
        if body_policy not in BODY_POLICIES:
            raise NotConfigured(f"HIJACKWATCH_KEEP_BODIES must be one of {BODY_POLICIES}")
        self.crawler = crawler
        self.stats = crawler.stats
        self.db = db
        self.batch_size = max(1, batch_size)
        self.flush_interval = flush_interval
        self.notify_url = notify_url
        self.alert: dict[str, Any] | None = None  # the run's alert, once the run ended
        self._alert_sending: concurrent.futures.Future[None] | None = None
        self.seeds = seeds
        self.body_policy = body_policy
        self.spool_dir = spool_dir or default_spool_dir(db.url)
        self.spool_dir_configured = spool_dir is not None
        self.retries = max(1, retries)
        self.retry_delay = retry_delay
        self.write_timeout = max(0.0, write_timeout)  # 0: wait as long as the database takes
        self.unsaved_max = max(0, unsaved_max)
        self.run_id: int | None = None
        self.started_at = datetime.now(UTC)
        self.spool: Spool | None = None
        self.outcome: RunOutcome | None = None
        self._buffer: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        # one save at a time (SQLite has one writer); an asyncio lock, not a thread lock,
        # so that a write thread stuck on a silent server holds nothing the rest needs
        self._save_lock = asyncio.Lock()
        self._db_failed = False  # the last attempt failed: try later batches only once
        self._stuck = 0  # abandoned writes whose thread has not come back yet
        # flushed pages no database or spool file has taken yet: those being saved, and
        # those kept from failed saves (retried at every flush)
        self._unsaved: list[dict[str, Any]] = []
        self._stranded = False  # the last save found nowhere for its pages
        self._uncertain: set[int] = set()  # ids of unsaved pages a failed write may have stored
        self._ticker: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Future[None]] = set()
        # database calls whose thread has not returned, by their give-up event: a forced
        # stop gives up on them and waits for them before it imports anything
        self._threads: dict[threading.Event, concurrent.futures.Future[Any]] = {}
        self._stopping: asyncio.Task[None] | None = None  # the crawl's stop, once over the cap

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        s = crawler.settings
        if not s.getbool("HIJACKWATCH_STORAGE_ENABLED", True):
            raise NotConfigured  # switched off: bare, so Scrapy logs no warning
        spool_dir = s.get("HIJACKWATCH_SPOOL_DIR")
        pipeline = cls(
            crawler,
            Database(db_url_setting(s)),
            batch_size=s.getint("HIJACKWATCH_BATCH_SIZE", 200),
            flush_interval=s.getfloat("HIJACKWATCH_FLUSH_INTERVAL", 5.0),
            notify_url=s.get("HIJACKWATCH_NOTIFY_URL") or None,
            seeds=s.getlist("HIJACKWATCH_SEEDS") or None,
            body_policy=s.get("HIJACKWATCH_KEEP_BODIES", "flagged"),
            spool_dir=Path(spool_dir) if spool_dir else None,
            retries=s.getint("HIJACKWATCH_DB_RETRIES", 3),
            retry_delay=s.getfloat("HIJACKWATCH_DB_RETRY_DELAY", 0.5),
            write_timeout=s.getfloat("HIJACKWATCH_DB_WRITE_TIMEOUT", 120.0),
            unsaved_max=s.getint("HIJACKWATCH_UNSAVED_MAX", 2000),
        )
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    # -- run start --------------------------------------------------------------------

    def _seeds(self) -> list[str]:
        if self.seeds is not None:
            return [str(s) for s in self.seeds]
        spider = self.crawler.spider
        seeds = getattr(spider, "seeds", None) or self.crawler.settings.getlist(
            "HIJACKWATCH_SEED_LIST"
        )
        return [str(getattr(s, "url", s)) for s in seeds or []]

    def _options(self) -> dict[str, Any]:
        s = self.crawler.settings
        names = sorted(k for k in s.attributes if k.startswith("HIJACKWATCH_") and "URL" not in k)
        options: dict[str, Any] = {}
        for name in names:
            value = s.get(name)
            if isinstance(value, str | int | float | bool) or value is None:
                options[name] = value
            elif isinstance(value, list | tuple) and len(value) <= 100:
                options[name] = [str(v) for v in value]
        spider = self.crawler.spider
        if spider is not None:
            options["spider"] = spider.name
        return options

    def _start(self, give_up: threading.Event) -> int:
        created = self.db.ensure_schema()
        if created:
            logger.info("created hijackwatch schema in %s", redact(self.db.url))
        self.started_at = datetime.now(UTC)
        return self.db.start_run(
            self._seeds(), self._options(), started_at=self.started_at, abandoned=give_up
        )

    async def open_spider(self) -> None:
        """Refuses to crawl into an out-of-date schema (SchemaOutOfDate propagates), and
        into a database that does not answer in time, like one that refuses connections.

        Why it failed goes to the stats (``hijackwatch/db_error``) for ``hijackwatch crawl``.
        """
        try:
            self.run_id = await self._db_call(
                "starting the run", self._start, attempts=1, late_success=self._start_too_late
            )
        except Exception as exc:
            if isinstance(exc, NoAnswer):  # name the database, as a refused connection does
                exc = NoAnswer(exc.timeout, self.db.url)
            self.stats.set_value("hijackwatch/db_error", db_error(self.db.url, exc))
            raise exc from None
        self.stats.set_value("hijackwatch/run_id", self.run_id)
        self.stats.set_value("hijackwatch/db", redact(self.db.url))
        logger.info("crawl run %s recorded in %s", self.run_id, redact(self.db.url))
        if self.flush_interval > 0:
            self._ticker = asyncio.create_task(self._tick())

    # -- items ------------------------------------------------------------------------

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        self._buffer.append(page_record(item, self.body_policy))
        item.body = None  # the record holds what is kept; don't carry the page around
        self.stats.inc_value("hijackwatch/items_buffered")
        if len(self._buffer) >= self.batch_size or self._flush_due():
            await self.flush()
        if self._stranded and len(self._unsaved) > self.unsaved_max and self._stopping is None:
            self._stop_crawl()
        return item

    def _stop_crawl(self) -> None:
        """Over the cap of pages nothing takes: stop the crawl rather than fill the memory
        (or hold it, paused, for as long as the database and the disk stay broken)."""
        logger.error(
            "%d page(s) of run %s are kept in memory, more than HIJACKWATCH_UNSAVED_MAX (%d): "
            "neither the database %s nor a spool file in %s takes them; stopping the crawl "
            "(close reason %s)",
            len(self._unsaved),
            self.run_id,
            self.unsaved_max,
            redact(self.db.url),
            self.spool_dir,
            STORAGE_FAILED,
        )
        engine = self.crawler.engine
        assert engine is not None
        self._stopping = asyncio.ensure_future(engine.close_spider_async(reason=STORAGE_FAILED))

    def _start_too_late(self, run_id: int) -> None:
        """A run start given up on committed after all (its answer was lost): the crawl
        did not run, so the row is settled as failed rather than left ``running``. Only a
        process that outlives the answer (an embedding program) gets here; the CLI has
        exited by then, and such a row stays ``running``."""
        with contextlib.suppress(Exception):
            self.db.finish_run(run_id, "failed", reason="start given up on")

    def _flush_due(self) -> bool:
        return (
            self.flush_interval > 0 and time.monotonic() - self._last_flush >= self.flush_interval
        )

    async def _tick(self) -> None:
        """Flush by time even while no items arrive (slow sites, long redirects)."""
        while True:
            await asyncio.sleep(self.flush_interval)
            if (self._buffer or self._unsaved) and self._flush_due():
                try:
                    await self.flush()
                except Exception:  # keep ticking; flush() already spooled or logged
                    logger.exception("periodic flush failed")

    async def flush(self) -> None:
        """Save the buffer (and pages kept from failed saves) off the event loop."""
        self._last_flush = time.monotonic()
        if not (self._buffer or self._unsaved) or self.run_id is None:
            return
        self._unsaved += self._buffer  # from now on no cancellation can lose them
        self._buffer = []
        save = asyncio.ensure_future(self._save(self.run_id))
        self._inflight.add(save)
        save.add_done_callback(self._inflight.discard)
        await asyncio.shield(save)  # a cancelled ticker must not orphan a batch in flight

    @property
    def stuck_writes(self) -> int:
        """Writes given up on (timeout, cancellation) whose thread has not returned yet."""
        return self._stuck

    def _retrying(
        self,
        what: str,
        func: Callable[[], Any],
        *,
        stop: threading.Event,
        attempts: int | None = None,
    ) -> Any:
        """Call ``func`` with exponential backoff; re-raises the last error.

        ``stop`` (set when the caller gave up on this call) ends the retries at once.
        """
        attempts = attempts or self.retries
        delay = self.retry_delay
        for attempt in range(1, attempts + 1):
            if stop.is_set():
                raise WriteAbandoned(f"{what}: given up on")
            try:
                return func()
            except WriteAbandoned:
                raise
            except Exception as exc:
                if attempt == attempts:
                    raise
                logger.warning(
                    "%s failed (attempt %d/%d), retrying in %.1fs: %s",
                    what,
                    attempt,
                    attempts,
                    delay,
                    exc,
                )
                stop.wait(delay)  # a sleep that ends when the call is given up on
                delay *= 2
        raise AssertionError("unreachable")

    async def _bounded(
        self,
        func: Callable[[], Any],
        what: str,
        give_up: threading.Event,
        late_success: Callable[[Any], None] | None = None,
    ) -> Any:
        """``func()`` in a daemon thread (see deadline.py), waited for at most the write
        timeout.

        Past the deadline, or when the waiting task is cancelled (a second Ctrl-C), the
        call is given up on: ``give_up`` is set (the write then rolls back instead of
        committing, should it ever get there), and a late commit is reported to
        ``late_success``; past the deadline NoAnswer is raised.
        """
        thread = in_daemon_thread(func, DB_THREAD)
        self._threads[give_up] = thread
        thread.add_done_callback(lambda _thread: self._threads.pop(give_up, None))
        future = asyncio.wrap_future(thread)
        try:
            await asyncio.wait({future}, timeout=self.write_timeout or None)
        except asyncio.CancelledError:
            self._give_up(future, what, give_up, late_success)
            raise
        if future.done():
            return future.result()
        self._give_up(future, what, give_up, late_success)
        raise NoAnswer(self.write_timeout)

    def _give_up(
        self,
        future: asyncio.Future[Any],
        what: str,
        give_up: threading.Event,
        late_success: Callable[[Any], None] | None,
    ) -> None:
        give_up.set()
        self._stuck += 1
        self.stats.inc_value("hijackwatch/abandoned_writes")
        future.add_done_callback(functools.partial(self._came_back, what, late_success))

    def _came_back(
        self, what: str, late_success: Callable[[Any], None] | None, future: asyncio.Future[Any]
    ) -> None:
        """An abandoned call finally returned: the database answers again."""
        self._stuck -= 1
        error = None if future.cancelled() else future.exception()
        if error is None:
            # committed although given up on: its check came just before the give-up
            if late_success is not None:
                late_success(future.result())
            logger.warning(
                "%s, given up on, went through after all; what it wrote may also be in "
                "the spool file (import-spool skips pages already stored)",
                what,
            )
        else:  # rolled back (WriteAbandoned) or failed: nothing of it was stored
            logger.info("%s, given up on, has returned: %s", what, error)

    def _get_spool(self) -> Spool:
        if self.spool is None:
            header = {
                "run_id": self.run_id,
                "db": redact(self.db.url),
                "started_at": self.started_at.isoformat(),
                "seeds": self._seeds(),
                "options": self._options(),
            }
            self.spool = Spool(self.spool_dir, header, create=self.spool_dir_configured)
        return self.spool

    async def _db_call(
        self,
        what: str,
        func: Callable[[threading.Event], Any],
        *,
        attempts: int | None = None,
        late_success: Callable[[Any], None] | None = None,
    ) -> Any:
        """``func(give_up)`` with retries, bounded by the write timeout (see _bounded);
        refused at once while an earlier call given up on has not come back."""
        if self._stuck:
            raise DatabaseUnavailable(
                f"an earlier write has had no answer for over {self.write_timeout:g}s"
            )
        give_up = threading.Event()
        call = functools.partial(func, give_up)
        retrying = functools.partial(self._retrying, what, call, attempts=attempts, stop=give_up)
        return await self._bounded(retrying, what, give_up, late_success)

    async def _write_db(self, run_id: int, batch: list[dict[str, Any]]) -> Exception | None:
        """Write to the database; returns the error that kept the batch out, None when written."""
        # The race that stays: the give-up check and the COMMIT are two steps, and a
        # COMMIT the server carried out may have lost its answer on the way back. Then
        # the batch is in the database and in the spool file both; import-spool skips
        # page records the run already has (site, URL, profile, fetch time).

        def stored_after_all(_written: int) -> None:
            # pages still kept in memory (no spool file took them) must not be written twice
            self._forget(batch)
            self.stats.inc_value("hijackwatch/pages_written", len(batch))

        # A failed attempt may have committed before its answer was lost (a connection
        # dropped after COMMIT, a write given up on that failed late): a retry, or pages
        # kept from such a write, skip what the run already has.
        uncertain = not self._uncertain.isdisjoint(map(id, batch))
        tries = 0

        def write(give_up: threading.Event) -> int:
            nonlocal tries
            tries += 1
            skip = uncertain or tries > 1
            return self.db.write_pages(run_id, batch, abandoned=give_up, skip_stored=skip)

        try:
            await self._db_call(
                f"a database write of {len(batch)} page(s)",
                write,
                # once the database failed, try each later batch once: it may be back
                attempts=1 if self._db_failed else self.retries,
                late_success=stored_after_all,
            )
        except Exception as exc:
            self._db_failed = True
            self._uncertain.update(map(id, batch))
            return exc
        self._db_failed = False
        # all of the batch is stored now, some of it perhaps by an attempt whose answer
        # was lost (write_pages counts only its own rows)
        self.stats.inc_value("hijackwatch/pages_written", len(batch))
        self.stats.inc_value("hijackwatch/flushes")
        return None

    def _forget(self, records: Sequence[dict[str, Any]]) -> None:
        """Drop stored pages from those kept in memory."""
        ids = {id(record) for record in records}
        self._unsaved = [r for r in self._unsaved if id(r) not in ids]
        self._uncertain -= ids
        self.stats.set_value("hijackwatch/unsaved_pages", len(self._unsaved))

    async def _save(self, run_id: int) -> None:
        """Database first, then the spool file, else keep the pages for the next flush.

        Oldest first, in batches of the batch size (a backlog is no bigger a transaction
        than a batch). A page leaves memory only once stored, so a cancelled save loses
        none.
        """
        async with self._save_lock:
            error: Exception | None = None
            self._stranded = False
            try:
                while self._unsaved:
                    chunk = self._unsaved[: self.batch_size]
                    if error is None:  # once the database failed here, the rest are spooled
                        error = await self._write_db(run_id, chunk)
                    if error is not None and not await self._spool(run_id, chunk, error):
                        self._stranded = True  # kept for the next flush
                        break
                    self._forget(chunk)
            finally:
                self.stats.set_value("hijackwatch/unsaved_pages", len(self._unsaved))

    async def _spool(self, run_id: int, chunk: list[dict[str, Any]], error: Exception) -> bool:
        """Write pages the database did not take to the spool file; False when it failed."""
        try:
            path = await asyncio.to_thread(self._get_spool().write_pages, chunk)
        except Exception as exc:  # OSError, or text no file can hold: keep the pages
            logger.error(
                "database %s unavailable (%s) and no spool file could be written (%s; "
                "set HIJACKWATCH_SPOOL_DIR to a writable directory): %d page(s) of run %s "
                "kept in memory, retried at the next flush",
                redact(self.db.url),
                error,
                exc,
                len(self._unsaved),
                run_id,
            )
            return False
        self.stats.inc_value("hijackwatch/spooled_pages", len(chunk))
        self.stats.set_value("hijackwatch/spool_file", str(path))
        logger.error(
            "database %s unavailable (%s): %d page(s) of run %s written to spool file "
            "%s; load them with `hijackwatch db import-spool %s`",
            redact(self.db.url),
            error,
            len(chunk),
            run_id,
            path,
            path,
        )
        return True

    # -- run end ----------------------------------------------------------------------

    async def close_spider(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        await self.flush()
        if self._unsaved:
            self.stats.set_value("hijackwatch/lost_pages", len(self._unsaved))
            logger.critical(
                "%d page(s) of run %s are LOST: the database %s did not take them and no "
                "spool file could be written in %s nor in the temp directory (see the errors "
                "above); make HIJACKWATCH_SPOOL_DIR writable and crawl these sites again",
                len(self._unsaved),
                self.run_id,
                redact(self.db.url),
                self.spool_dir,
            )

    async def _finish(self, status: str, reason: str | None) -> RunOutcome | None:
        """Close the run in the database (bounded like a write), else spool its end."""
        assert self.run_id is not None
        run_id = self.run_id
        async with self._save_lock:
            try:
                # a finish that commits after being given up on is harmless: importing
                # the spooled finish record settles the run once more
                return await self._db_call(
                    "finishing the run",
                    lambda _give_up: self.db.finish_run(run_id, status, reason),
                )
            except Exception as exc:
                error = exc
            try:
                path = await asyncio.to_thread(
                    self._get_spool().write, [finish_entry(run_id, status, reason)]
                )
            except OSError as exc:
                where = f"nor write its end to a spool file ({exc}): it stays `running` there"
            else:
                self.stats.set_value("hijackwatch/spool_file", str(path))
                where = (
                    f"its end is in spool file {path}: run `hijackwatch db import-spool "
                    f"{path}` when the database is back"
                )
            logger.error(
                "could not finish run %s (%s, close reason %s) in %s (%s); %s",
                run_id,
                status,
                reason,
                redact(self.db.url),
                error,
                where,
            )
            return None

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.run_id is None:  # open_spider failed: nothing was recorded
            return
        status = run_status(reason)
        outcome = await self._finish(status, reason)
        self.stats.set_value("hijackwatch/run_status", status)
        if outcome is None:
            self.stats.set_value("hijackwatch/run_status", "unrecorded")
            return
        self._record(outcome)
        # A daemon thread: a second Ctrl-C stops the loop, and exiting must not wait for
        # a slow receiver's retries (alert_left_behind queues what it did not finish).
        self.alert = run_alert(outcome)
        self._alert_sending = in_daemon_thread(
            functools.partial(self._notify, outcome, payload=self.alert), ALERT_THREAD
        )
        await asyncio.wrap_future(self._alert_sending)
        await asyncio.to_thread(self.db.dispose)

    def _notify(self, outcome: RunOutcome, **send: Any) -> None:
        """Send the run's alert (blocking); ``send``: notify_run's options."""
        sent = notify_run(
            self.notify_url,
            outcome,
            pending_dir=self.spool_dir,  # undelivered alerts wait next to the spool files
            create_pending_dir=self.spool_dir_configured,
            **send,
        )
        if sent is not None:
            self.stats.set_value("hijackwatch/alert_sent", sent)

    def alert_left_behind(self, wait: float = FORCED_ALERT_TIMEOUT) -> None:
        """After the crawl: the run's alert, if a forced stop left it being sent, gets
        ``wait`` more seconds, then joins the pending alerts (it may arrive twice then,
        with the same alert_id)."""
        sending = self._alert_sending
        if sending is None or self.alert is None:
            return
        concurrent.futures.wait([sending], timeout=wait)  # done: sent, or queued by it
        if sending.done():
            return
        queue_alert(self.spool_dir, self.alert, create=self.spool_dir_configured)
        logger.warning(
            "run %s: its alert was still being sent at the stop; kept with the pending "
            "alerts in %s for the next run",
            self.run_id,
            self.spool_dir,
        )

    # -- forced stop ------------------------------------------------------------------

    @property
    def held_pages(self) -> int:
        """Pages no database or spool file has taken yet (buffered or being saved)."""
        return len(self._unsaved) + len(self._buffer)

    @property
    def salvage_wait(self) -> float:
        """How long, at most, a forced stop's salvage waits for the database."""
        return min(self.write_timeout or SALVAGE_WAIT, SALVAGE_WAIT)

    def salvage(self, reason: str, abandon: threading.Event | None = None) -> RunOutcome | None:
        """After a forced stop (a second Ctrl-C stops the event loop: close_spider and
        spider_closed never ran), settle the run as ``interrupted`` with the pages still
        in memory. Synchronous, since no loop is left.

        Pages and the run's end go to a spool file first, then the writes still in flight
        are given up on (nothing cancelled them: the loop just stopped) and waited for: a
        write that COMMITs after the import's duplicate check would store its pages
        twice. Only once they have all returned is the file imported (import-spool skips
        the pages one of them committed after all). All within ``salvage_wait``; past it,
        or once ``abandon`` is set (a signal handler may set it), the file is left for
        ``db import-spool``. A settled run's alert then gets one try of at most
        ``FORCED_ALERT_TIMEOUT``; undelivered, it waits with the pending alerts.
        """
        if self.run_id is None:
            return None
        self.stats.set_value("hijackwatch/run_status", "unrecorded")
        deadline = time.monotonic() + self.salvage_wait
        in_flight = list(self._threads.items())
        for give_up, _thread in in_flight:
            give_up.set()  # a write not yet at its COMMIT rolls back
        records, self._unsaved, self._buffer = self._unsaved + self._buffer, [], []
        had_spool = self.spool is not None and self.spool.path is not None
        try:
            path = self._get_spool().write_pages(
                records, finish_entry(self.run_id, "interrupted", reason)
            )
        except (OSError, UnicodeEncodeError) as exc:
            self.stats.set_value("hijackwatch/lost_pages", len(records))
            logger.critical(
                "run %s stays `running` in %s and %d page(s) are LOST: no spool file could "
                "be written in %s nor in the temp directory (%s)",
                self.run_id,
                redact(self.db.url),
                len(records),
                self.spool_dir,
                exc,
            )
            return None
        threads = [thread for _give_up, thread in in_flight]
        error = self._unsettled(threads, deadline, abandon, f"{len(threads)} write(s) in flight")
        if error is None:
            importing = in_daemon_thread(functools.partial(self.db.import_spool, path), DB_THREAD)
            error = self._unsettled([importing], deadline, abandon, "the import")
            if error is None and (failed := importing.exception()) is not None:
                error = one_line(failed)
        if error is not None:
            self.stats.inc_value("hijackwatch/spooled_pages", len(records))
            self.stats.set_value("hijackwatch/spool_file", str(path))
            logger.error(
                "run %s not settled in %s (%s): %d page(s) and the run's end are in spool "
                "file %s; load them with `hijackwatch db import-spool %s` (with --notify, "
                "it also sends the run's alert)",
                self.run_id,
                redact(self.db.url),
                error,
                len(records),
                path,
                path,
            )
            return None
        imported = importing.result()
        self.stats.inc_value("hijackwatch/pages_written", imported.pages)
        if not had_spool:  # written for this import only: nothing in it is left to load
            path.with_name(path.name + ".imported").unlink(missing_ok=True)
        if imported.outcome is not None:
            self._record(imported.outcome)
            self.stats.set_value("hijackwatch/run_status", imported.outcome.status)
            # An interrupted run can find new hijacks: its alert gets one short try (the
            # operator wants out), else it waits with the pending alerts for the next run.
            self._notify(
                imported.outcome, redeliver=False, attempts=1, timeout=FORCED_ALERT_TIMEOUT
            )
        return imported.outcome

    def _record(self, outcome: RunOutcome) -> None:
        """Keep the run's outcome, and put its figures in the crawl's stats."""
        self.outcome = outcome
        for key, value in outcome.stats().items():
            self.stats.set_value(key, value)

    def _unsettled(
        self,
        threads: list[concurrent.futures.Future[Any]],
        deadline: float,
        abandon: threading.Event | None,
        what: str,
    ) -> str | None:
        """Wait for ``threads`` until ``deadline``; None once all returned, else why not.

        Polls ``abandon`` (a signal handler's flag, which no blocking wait would notice).
        """
        while True:
            if abandon is not None and abandon.is_set():
                return "abandoned by a signal"
            left = deadline - time.monotonic()
            _done, pending = concurrent.futures.wait(threads, timeout=max(0.0, min(left, 0.1)))
            if not pending:
                return None
            if left <= 0:
                return f"{what} not back within {self.salvage_wait:g}s of the forced stop"
