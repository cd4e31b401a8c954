"""A PostgreSQL server that stops answering but keeps the connection open.

A stopped server process, a network black hole whose far kernel still ACKs, a lock
wait: no error ever comes, so only HIJACKWATCH_DB_WRITE_TIMEOUT can end the wait. The
server here is real; a relay in front of it (tests.test_storage_pipeline.Proxy) stops
forwarding in both directions while keeping its sockets open.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from hijackwatch.storage import Database, page_record
from hijackwatch.storage.spool import Spool
from tests.test_storage import RUN1, RUN2, page_items
from tests.test_storage_pipeline import (
    _check_spool_import,
    _go_away_crawl,
    assert_each_page_once,
    direct_pipeline,
    import_spool,
    pg_proxy,
    scalar,
    stat,
)

TIMEOUT = {"HIJACKWATCH_DB_WRITE_TIMEOUT": 2}
CRAWL_BOUND = 60  # s: far above what the crawl needs, so that a hang fails, not blocks


def test_stalled_postgresql_spools_and_the_crawl_ends(tmp_path: Path, pg_url: str) -> None:
    proxy = pg_proxy(pg_url)
    try:
        items, stats, err = _go_away_crawl(
            tmp_path, proxy.url(pg_url), pg_url, proxy.stall, timeout=CRAWL_BOUND, **TIMEOUT
        )
    finally:
        proxy.stop()
    # the stalled batch waited 2 s; the next one and the run's end went straight to the spool
    assert stats["hijackwatch/abandoned_writes"] == 1
    assert "no answer within 2s (HIJACKWATCH_DB_WRITE_TIMEOUT)" in err
    assert "an earlier write has had no answer" in err
    assert scalar(pg_url, "SELECT COUNT(*) FROM pages") == 4
    _check_spool_import(pg_url, stats, items, err)


def test_commit_whose_answer_is_lost_is_imported_once(tmp_path: Path, pg_url: str) -> None:
    """The server commits a batch, its answer never arrives: the batch is in both places."""
    proxy = pg_proxy(pg_url)
    try:
        items, stats, err = _go_away_crawl(
            tmp_path,
            proxy.url(pg_url),
            pg_url,
            lambda: proxy.stall(after_commit=True),
            timeout=CRAWL_BOUND,
            **TIMEOUT,
        )
    finally:
        proxy.stop()
    assert stats["hijackwatch/abandoned_writes"] == 1
    assert scalar(pg_url, "SELECT COUNT(*) FROM pages") == 6  # the lost-answer batch is in
    _check_spool_import(pg_url, stats, items, err, imported=2)  # and is not imported again


def test_abandoned_write_rolls_back_when_the_server_answers_again(
    tmp_path: Path, pg_url: str
) -> None:
    proxy = pg_proxy(pg_url)
    pipe = direct_pipeline(proxy.url(pg_url), tmp_path, write_timeout=2)
    items = page_items(RUN1 + RUN2[:1])  # 6 items, 3 batches

    async def stall_and_recover() -> None:
        await pipe.open_spider()
        for item in items[:2]:
            await pipe.process_item(item)
        proxy.stall()
        for item in items[2:4]:  # the old code waits here forever
            await asyncio.wait_for(pipe.process_item(item), CRAWL_BOUND)
        assert stat(pipe, "spooled_pages") == 2 and pipe.stuck_writes == 1
        proxy.unstall()  # the abandoned write goes on: it must roll back, not commit
        deadline = time.monotonic() + CRAWL_BOUND
        while pipe.stuck_writes:
            assert time.monotonic() < deadline, "the abandoned write never returned"
            await asyncio.sleep(0.05)
        assert scalar(pg_url, "SELECT COUNT(*) FROM pages") == 2
        for item in items[4:]:  # the database answers again: later batches go there
            await pipe.process_item(item)
        await pipe.close_spider()
        await asyncio.wait_for(pipe.spider_closed(pipe.crawler.spider, "finished"), CRAWL_BOUND)

    async def run() -> None:
        try:
            await stall_and_recover()
        finally:  # before asyncio.run waits for its worker threads
            proxy.unstall()

    try:
        asyncio.run(run())
    finally:
        pipe.db.dispose()
        proxy.stop()
    assert stat(pipe, "pages_written") == 4 and stat(pipe, "run_status") == "finished"
    assert scalar(pg_url, "SELECT COUNT(*) FROM pages") == 4
    spool = Path(stat(pipe, "spool_file"))
    assert "2 page(s) imported into run 1" in import_spool(pg_url, spool)
    assert_each_page_once(pg_url, len(items))


def test_import_spool_skips_pages_the_run_already_has(tmp_path: Path, pg_url: str) -> None:
    """A spool file holding a batch twice and a batch already stored: each page once."""
    db = Database(pg_url)
    db.ensure_schema()
    run_id = db.start_run(["x"])
    started = db.runs(1)[0].started_at
    records = [page_record(item) for item in page_items(RUN1)]
    db.write_pages(run_id, records[:3])
    spool = Spool(tmp_path, {"run_id": run_id, "started_at": started.isoformat(), "seeds": ["x"]})
    spool.write_pages(records[1:3])  # committed after all
    spool.write_pages(records[3:])
    path = spool.write_pages(records[3:])  # a retried spool write
    result = db.import_spool(path)
    db.dispose()
    assert (result.pages, result.skipped) == (2, 4)
    assert_each_page_once(pg_url, len(records))


def test_a_late_commit_of_pages_kept_in_memory_is_not_written_again(
    tmp_path: Path, pg_url: str, no_spool_anywhere: Path
) -> None:
    """Given up on, no spool file possible, then committed after all (its answer held):
    the pages kept in memory for the next flush are dropped, not stored twice."""
    proxy = pg_proxy(pg_url)
    pipe = direct_pipeline(
        proxy.url(pg_url), tmp_path, write_timeout=2, spool_dir=no_spool_anywhere / "spool"
    )
    items = page_items(RUN1 + RUN2[:1])  # 6 items, batches of 2

    async def run() -> None:
        await pipe.open_spider()
        for item in items[:2]:
            await pipe.process_item(item)
        proxy.stall(after_commit=True)  # the server commits the next batch; no answer
        for item in items[2:4]:
            await pipe.process_item(item)
        assert pipe.stuck_writes == 1 and stat(pipe, "unsaved_pages") == 2
        proxy.unstall()  # the answer arrives: the write went through after all
        deadline = time.monotonic() + 30
        while pipe.stuck_writes and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert stat(pipe, "unsaved_pages") == 0
        for item in items[4:]:
            await pipe.process_item(item)
        await pipe.close_spider()

    try:
        asyncio.run(run())
    finally:
        proxy.unstall()
        pipe.db.dispose()
        proxy.stop()
    assert scalar(pg_url, "SELECT COUNT(*) FROM pages") == len(items)
    assert_each_page_once(pg_url, len(items))
    assert stat(pipe, "pages_written") == len(items)
