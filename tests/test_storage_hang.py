"""A PostgreSQL server that stops answering but keeps the connection open.

A stopped server process, a network black hole whose far kernel still ACKs, a lock
wait: no error ever comes, so only HIJACKWATCH_DB_WRITE_TIMEOUT can end the wait. The
server here is real; a relay in front of it (tests.test_storage_pipeline.Proxy) stops
forwarding in both directions while keeping its sockets open.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from hijackwatch.items import PageItem
from hijackwatch.pipelines.storage import StoragePipeline
from hijackwatch.storage import Database, page_record
from hijackwatch.storage.spool import Spool
from tests.test_storage import RUN1, RUN2, page_items
from tests.test_storage_pipeline import (
    REPO,
    Proxy,
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
            lambda: proxy.stall(after=b"COMMIT"),
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
    proxy, pipe = no_spool_pipe(pg_url, tmp_path, no_spool_anywhere)
    items = page_items(RUN1 + RUN2[:1])  # 6 items, batches of 2

    async def run() -> None:
        await commit_unanswered(proxy, pipe, items)
        proxy.unstall()  # the answer arrives: the write went through after all
        await returned(pipe)
        assert stat(pipe, "unsaved_pages") == 0
        for item in items[4:]:
            await pipe.process_item(item)
        await pipe.close_spider()

    run_through(proxy, pipe, run())
    assert scalar(pg_url, "SELECT COUNT(*) FROM pages") == len(items)
    assert_each_page_once(pg_url, len(items))
    assert stat(pipe, "pages_written") == len(items)


async def returned(pipe: StoragePipeline) -> None:
    """Wait for every write given up on to come back."""
    deadline = time.monotonic() + CRAWL_BOUND
    while pipe.stuck_writes:
        assert time.monotonic() < deadline, "the abandoned write never returned"
        await asyncio.sleep(0.05)


def no_spool_pipe(
    pg_url: str, tmp_path: Path, no_spool_anywhere: Path
) -> tuple[Proxy, StoragePipeline]:
    """A pipeline on PostgreSQL behind a proxy, a 2 s write deadline and no spool file."""
    proxy = pg_proxy(pg_url)
    pipe = direct_pipeline(
        proxy.url(pg_url), tmp_path, write_timeout=2, spool_dir=no_spool_anywhere / "spool"
    )
    return proxy, pipe


async def commit_unanswered(proxy: Proxy, pipe: StoragePipeline, items: list[PageItem]) -> None:
    """Two batches in (of 2); the server commits the second but its answer is held: the
    write is given up on and its pages are kept in memory."""
    await pipe.open_spider()
    for item in items[:2]:
        await pipe.process_item(item)
    proxy.stall(after=b"COMMIT")
    for item in items[2:4]:
        await pipe.process_item(item)
    assert pipe.stuck_writes == 1 and stat(pipe, "unsaved_pages") == 2


def run_through(proxy: Proxy, pipe: StoragePipeline, crawl: Coroutine[Any, Any, None]) -> None:
    """Run ``crawl``, then free the proxy and the pipeline's connections whatever happened."""
    try:
        asyncio.run(crawl)
    finally:
        proxy.unstall()
        pipe.db.dispose()
        proxy.stop()


# -- the run's start ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "stall_after"),
    [
        ("refuses connections", None),
        ("stalls at the first query", b"pg_catalog.version()"),  # the CLI's schema check
        ("stalls creating the run", b"INSERT INTO crawl_runs"),  # StoragePipeline.open_spider
    ],
)
def test_a_database_that_fails_at_the_start_ends_the_crawl_command(
    tmp_path: Path, pg_url: str, server: str, stall_after: bytes | None
) -> None:
    """`hijackwatch crawl` on cron: a server that takes the connection and then stalls
    ends the run like one that refuses it, with one line naming the database; exit 3."""
    proxy = pg_proxy(pg_url)
    url = make_url(proxy.url(pg_url)).set(password="s3cret-pw")  # trust auth: never sent
    db_url = url.render_as_string(hide_password=False)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("127.0.0.2:9\n")
    if stall_after is None:
        proxy.stop()
    else:
        proxy.stall(after=stall_after)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("HIJACKWATCH_DB_URL", None)
    started = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "hijackwatch", "crawl", str(seeds), "--db", db_url, "-q",
             "-s", "HIJACKWATCH_DB_WRITE_TIMEOUT=2"],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=CRAWL_BOUND,
        )  # fmt: skip
    finally:
        proxy.stop()
    elapsed = time.monotonic() - started
    message = result.stderr.splitlines()[-1]
    where = f"hijackwatch crawl: cannot open database {url.render_as_string()}: "
    assert result.returncode == 3, result.stderr[-3000:]
    assert message.startswith(where), result.stderr[-3000:]
    if stall_after is None:
        assert "Connection refused" in message
    else:
        assert message == where + "no answer within 2s (HIJACKWATCH_DB_WRITE_TIMEOUT)"
        assert elapsed < 2 + 20  # the timeout, plus starting Python, Scrapy and a crawl
    assert "s3cret-pw" not in result.stderr + result.stdout
    if stall_after is not None and b"INSERT" in stall_after:
        assert scalar(pg_url, "SELECT COUNT(*) FROM crawl_runs") == 0


# -- pages nothing takes --------------------------------------------------------------


def test_pages_nothing_takes_stop_the_crawl_at_the_cap(
    tmp_path: Path, pg_url: str, no_spool_anywhere: Path
) -> None:
    """A stalled database, no spool file possible: past HIJACKWATCH_UNSAVED_MAX pages in
    memory the crawl stops (storage_failed) instead of growing without bound."""
    proxy = pg_proxy(pg_url)
    items = RUN1 * 40  # 200 pages, 10 a second, in batches of 2
    try:
        _, stats, err = _go_away_crawl(
            tmp_path,
            proxy.url(pg_url),
            pg_url,
            proxy.stall,
            timeout=CRAWL_BOUND,
            items=items,
            cfg={"tempdir": str(no_spool_anywhere / "tmp"), "via_responses": True},
            HIJACKWATCH_SPOOL_DIR=str(no_spool_anywhere / "spool"),
            HIJACKWATCH_UNSAVED_MAX=6,
            DOWNLOAD_DELAY=0.1,
            **TIMEOUT,
        )
    finally:
        proxy.stop()
    assert stats["finish_reason"] == "storage_failed"
    assert "more than HIJACKWATCH_UNSAVED_MAX (6)" in err
    assert "stopping the crawl (close reason storage_failed)" in err
    # Scrapy stopped feeding items: after the stop come only the few in flight
    assert stats["hijackwatch/items_buffered"] < 100
    lost = stats["hijackwatch/lost_pages"]
    assert 6 < lost == stats["hijackwatch/items_buffered"] - 4
    assert f"{lost} page(s) of run 1 are LOST" in err  # the CRITICAL count at close
    assert "(failed, close reason storage_failed)" in err
    assert stats["hijackwatch/run_status"] == "unrecorded"  # nothing could record its end
    assert scalar(pg_url, "SELECT COUNT(*) FROM pages") == 4


def test_kept_pages_are_retried_in_batches(
    tmp_path: Path, pg_url: str, no_spool_anywhere: Path
) -> None:
    """A backlog kept in memory goes back in transactions of the batch size, not one."""
    proxy, pipe = no_spool_pipe(pg_url, tmp_path, no_spool_anywhere)
    items = page_items(RUN1 + RUN2[:3])  # 8 items, batches of 2

    async def run() -> None:
        await pipe.open_spider()
        for item in items[:2]:
            await pipe.process_item(item)
        proxy.stall()
        for item in items[2:6]:  # the first batch waits 2 s, the next is refused at once
            await pipe.process_item(item)
        assert stat(pipe, "unsaved_pages") == 4 and pipe.stuck_writes == 1
        proxy.unstall()
        await returned(pipe)  # rolled back: the database answers again
        for item in items[6:]:  # 4 kept + 2 new pages: 3 transactions
            await pipe.process_item(item)
        assert stat(pipe, "unsaved_pages") == 0
        await pipe.close_spider()

    try:
        asyncio.run(run())
    finally:
        proxy.unstall()
        pipe.db.dispose()
        proxy.stop()
    assert_each_page_once(pg_url, len(items))
    assert scalar(pg_url, "SELECT COUNT(DISTINCT xmin::text) FROM pages") == 4
    assert stat(pipe, "flushes") == 4


# -- cancellation ---------------------------------------------------------------------


@pytest.mark.parametrize("commits", [False, True], ids=["rolls-back", "commits-late"])
def test_a_write_cancelled_in_flight_is_given_up_on(
    tmp_path: Path, pg_url: str, commits: bool
) -> None:
    """A second Ctrl-C cancels every task, the one waiting for a write included: the
    write is given up on as at the deadline, so it rolls back, or, if its COMMIT was
    already out, its pages are not kept for a second write."""
    proxy = pg_proxy(pg_url)
    # a deadline the test never reaches: only the cancellation gives up on the write
    pipe = direct_pipeline(proxy.url(pg_url), tmp_path, write_timeout=CRAWL_BOUND)
    items = page_items(RUN1[:4])

    async def cancelled_mid_write() -> None:
        await pipe.open_spider()
        for item in items[:3]:
            await pipe.process_item(item)
        proxy.stall(after=b"COMMIT" if commits else None)
        crawl = asyncio.ensure_future(pipe.process_item(items[3]))  # its batch's write hangs
        await asyncio.sleep(1)
        # as AsyncCrawlerProcess (and asyncio.run) on a second Ctrl-C: cancel every task
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert crawl.cancelled()
        assert pipe.stuck_writes == 1 and stat(pipe, "abandoned_writes") == 1
        assert stat(pipe, "unsaved_pages") == 2  # kept in memory, not dropped
        proxy.unstall()  # the write goes on: it rolls back, or its COMMIT answer arrives
        await returned(pipe)

    try:
        asyncio.run(cancelled_mid_write())
    finally:
        proxy.unstall()
        pipe.db.dispose()
        proxy.stop()
    stored = 4 if commits else 2
    assert scalar(pg_url, "SELECT COUNT(*) FROM pages") == stored
    assert stat(pipe, "pages_written") == stored
    assert stat(pipe, "unsaved_pages") == 4 - stored  # kept only what was not stored
