"""StoragePipeline: write every PageItem to the database in batches, off the event loop.

Settings: ``HIJACKWATCH_DB_URL`` (else env HIJACKWATCH_DB_URL), ``HIJACKWATCH_BATCH_SIZE``,
``HIJACKWATCH_FLUSH_INTERVAL`` (s), ``HIJACKWATCH_NOTIFY_URL``, ``HIJACKWATCH_SEEDS``,
``HIJACKWATCH_KEEP_BODIES`` (none|flagged|all), ``HIJACKWATCH_SPOOL_DIR``,
``HIJACKWATCH_DB_RETRIES``, ``HIJACKWATCH_DB_RETRY_DELAY`` (s), ``HIJACKWATCH_DB_WRITE_TIMEOUT``
(s), ``HIJACKWATCH_STORAGE_ENABLED``.

A crash loses at most the unflushed batch (size- and time-bounded). A batch the
database refuses after retries, or does not take within the write timeout (a server
that stops answering without dropping the connection), goes to a spool file
(``db import-spool``), never lost; while the spool cannot be written either, the
pages stay in memory and are retried at every later flush.
Run status from Scrapy's close reason: ``finished`` -> finished; ``shutdown``,
``cancelled`` and ``closespider_*`` limits -> interrupted; ``closespider_errorcount``
and any other reason, or a run that could not be recorded -> failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.settings import SETTINGS_PRIORITIES

from hijackwatch.alerts import notify_run
from hijackwatch.items import PageItem
from hijackwatch.storage import Database, DatabaseUnavailable, RunOutcome, page_record
from hijackwatch.storage.database import WriteAbandoned
from hijackwatch.storage.engine import URL_ENV, redact
from hijackwatch.storage.records import BODY_POLICIES
from hijackwatch.storage.spool import Spool, default_spool_dir

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

INTERRUPTED_REASONS = ("shutdown", "cancelled")


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
    ) -> None:
        if body_policy not in BODY_POLICIES:
            raise NotConfigured(f"HIJACKWATCH_KEEP_BODIES must be one of {BODY_POLICIES}")
        self.crawler = crawler
        self.stats = crawler.stats
        self.db = db
        self.batch_size = max(1, batch_size)
        self.flush_interval = flush_interval
        self.notify_url = notify_url
        self.seeds = seeds
        self.body_policy = body_policy
        self.spool_dir = spool_dir or default_spool_dir(db.url)
        self.spool_dir_configured = spool_dir is not None
        self.retries = max(1, retries)
        self.retry_delay = retry_delay
        self.write_timeout = max(0.0, write_timeout)  # 0: wait as long as the database takes
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
        self._unsaved: list[dict[str, Any]] = []  # neither database nor spool took them
        self._ticker: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Future[None]] = set()

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

    def _start(self) -> int:
        created = self.db.ensure_schema()
        if created:
            logger.info("created hijackwatch schema in %s", redact(self.db.url))
        self.started_at = datetime.now(UTC)
        return self.db.start_run(self._seeds(), self._options(), started_at=self.started_at)

    async def open_spider(self) -> None:
        """Refuses to crawl into an out-of-date schema (SchemaOutOfDate propagates)."""
        self.run_id = await asyncio.to_thread(self._start)
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
        return item

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
        batch, self._buffer = self._buffer, []
        save = asyncio.ensure_future(self._save(self.run_id, batch))
        self._inflight.add(save)
        save.add_done_callback(self._inflight.discard)
        await asyncio.shield(save)  # a cancelled ticker must not orphan a batch in flight

    @property
    def stuck_writes(self) -> int:
        """Writes given up on after the write timeout whose thread has not returned yet."""
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
                raise WriteAbandoned(f"{what}: given up after the write timeout")
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
        late_success: Callable[[], None] | None = None,
    ) -> Any:
        """``func()`` in a thread, waited for at most the write timeout.

        A server that stops answering but keeps the connection (stopped process, a
        network black hole whose peer still ACKs, a lock wait) blocks the driver
        forever; TCP keepalives and ``tcp_user_timeout`` cannot see it. Past the
        deadline the call is abandoned: ``give_up`` is set (the write then rolls back
        instead of committing, should it ever get there) and DatabaseUnavailable is
        raised. The thread is a daemon thread, not asyncio.to_thread's pool, because
        the pool joins its threads at interpreter exit: a stuck one would keep the
        crawl process alive forever.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        def run() -> None:
            try:
                outcome: tuple[Any, BaseException | None] = (func(), None)
            except BaseException as exc:
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(settle, *outcome)

        threading.Thread(target=run, name="hijackwatch-db", daemon=True).start()
        await asyncio.wait({future}, timeout=self.write_timeout or None)
        if future.done():
            return future.result()
        give_up.set()
        self._stuck += 1
        self.stats.inc_value("hijackwatch/abandoned_writes")
        future.add_done_callback(functools.partial(self._came_back, what, late_success))
        raise DatabaseUnavailable(
            f"no answer within {self.write_timeout:g}s (HIJACKWATCH_DB_WRITE_TIMEOUT); "
            "the database is treated as unavailable until that write returns"
        )

    def _came_back(
        self, what: str, late_success: Callable[[], None] | None, future: asyncio.Future[Any]
    ) -> None:
        """An abandoned call finally returned: the database answers again."""
        self._stuck -= 1
        error = None if future.cancelled() else future.exception()
        if error is None:
            # committed although given up on: its check came just before the deadline
            if late_success is not None:
                late_success()
            logger.warning(
                "%s, given up on after %gs, went through after all; what it wrote may "
                "also be in the spool file (import-spool skips pages already stored)",
                what,
                self.write_timeout,
            )
        else:  # rolled back (WriteAbandoned) or failed: nothing of it was stored
            logger.info(
                "%s, given up on after %gs, has returned: %s", what, self.write_timeout, error
            )

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
        late_success: Callable[[], None] | None = None,
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

        def stored_after_all() -> None:
            # pages still kept in memory (no spool file took them) must not be written twice
            ids = {id(record) for record in batch}
            self._unsaved = [r for r in self._unsaved if id(r) not in ids]
            self.stats.set_value("hijackwatch/unsaved_pages", len(self._unsaved))
            self.stats.inc_value("hijackwatch/pages_written", len(batch))

        try:
            written = await self._db_call(
                f"a database write of {len(batch)} page(s)",
                lambda give_up: self.db.write_pages(run_id, batch, abandoned=give_up),
                # once the database failed, try each later batch once: it may be back
                attempts=1 if self._db_failed else self.retries,
                late_success=stored_after_all,
            )
        except Exception as exc:
            self._db_failed = True
            return exc
        self._db_failed = False
        self.stats.inc_value("hijackwatch/pages_written", written)
        self.stats.inc_value("hijackwatch/flushes")
        return None

    async def _save(self, run_id: int, batch: list[dict[str, Any]]) -> None:
        """Database first, then the spool file, else keep the pages for the next flush."""
        async with self._save_lock:
            batch, self._unsaved = self._unsaved + batch, []
            if not batch:
                return
            error = await self._write_db(run_id, batch)
            if error is None:
                self.stats.set_value("hijackwatch/unsaved_pages", 0)
                return
            spool = self._get_spool()
            try:
                path = await asyncio.to_thread(spool.write_pages, batch)
            except Exception as exc:  # OSError, or text no file can hold: keep the pages
                self._unsaved = batch
                self.stats.set_value("hijackwatch/unsaved_pages", len(batch))
                logger.error(
                    "database %s unavailable (%s) and no spool file could be written (%s; "
                    "set HIJACKWATCH_SPOOL_DIR to a writable directory): %d page(s) of run %s "
                    "kept in memory, retried at the next flush",
                    redact(self.db.url),
                    error,
                    exc,
                    len(batch),
                    run_id,
                )
                return
            self.stats.set_value("hijackwatch/unsaved_pages", 0)
            self.stats.inc_value("hijackwatch/spooled_pages", len(batch))
            self.stats.set_value("hijackwatch/spool_file", str(path))
            logger.error(
                "database %s unavailable (%s): %d page(s) of run %s written to spool file "
                "%s; load them with `hijackwatch db import-spool %s`",
                redact(self.db.url),
                error,
                len(batch),
                run_id,
                path,
                path,
            )

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
            record = {
                "type": "finish",
                "run_id": run_id,
                "status": status,
                "reason": reason,
                "finished_at": datetime.now(UTC).isoformat(),
            }
            try:
                path = await asyncio.to_thread(self._get_spool().write, [record])
            except OSError as exc:
                logger.error(
                    "could not finish run %s in %s (%s) nor write its end to a spool file "
                    "(%s): the run stays `running` in the database",
                    run_id,
                    redact(self.db.url),
                    error,
                    exc,
                )
                return None
            self.stats.set_value("hijackwatch/spool_file", str(path))
            logger.error(
                "could not finish run %s in %s (%s); its end is in spool file %s: "
                "run `hijackwatch db import-spool %s` when the database is back",
                run_id,
                redact(self.db.url),
                error,
                path,
                path,
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
        self.outcome = outcome
        for key, value in outcome.stats().items():
            self.stats.set_value(key, value)
        sent = await asyncio.to_thread(notify_run, self.notify_url, outcome)
        if sent is not None:
            self.stats.set_value("hijackwatch/alert_sent", sent)
        await asyncio.to_thread(self.db.dispose)
