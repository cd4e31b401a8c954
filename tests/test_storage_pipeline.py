"""StoragePipeline in real Scrapy crawls (one subprocess per crawl, real databases).

The crawls use a tiny spider that yields prepared PageItems from ``start()``, so these
tests exercise exactly the pipeline, its signals and its stats; the full crawl with the
real spider is the lead's end-to-end test. Where a test must reach into the run (make a
directory unwritable between two batches), it drives the pipeline in this process
(``direct_pipeline``), as Scrapy would: open_spider, process_item, close_spider,
spider_closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from scrapy import Spider
from scrapy.utils.test import get_crawler
from sqlalchemy import text

from hijackwatch.pipelines.storage import StoragePipeline, run_status
from hijackwatch.storage import Database
from tests.test_alerts import Receiver
from tests.test_storage import RUN1, RUN2, SITE_A, SITE_B, page_items

REPO = Path(__file__).resolve().parent.parent

CRAWL_SCRIPT = r"""
import asyncio, json, os, sys, tempfile
from pathlib import Path
from scrapy import Request, Spider
from scrapy.core.engine import ExecutionEngine
from scrapy.crawler import AsyncCrawlerProcess
from hijackwatch.detect.findings import Finding
from hijackwatch.items import PageItem

ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = 0.2  # tests only: notice the idle spider sooner
cfg = json.loads(Path(sys.argv[1]).read_text())
tempfile.tempdir = cfg.get("tempdir")  # where a spool file goes when its directory fails

class ItemsSpider(Spider):
    name = "storage-test"
    seeds = ["a.example.edu.cn", "127.0.0.2:8001"]

    async def start(self):
        for i, row in enumerate(cfg["items"]):
            if i == cfg.get("pause_at"):
                Path(cfg["paused_file"]).touch()
                while not Path(cfg["resume_file"]).exists():
                    await asyncio.sleep(0.05)
            if i == cfg.get("sleep_at"):
                await asyncio.sleep(cfg["sleep"])
            if i == cfg.get("crash_at"):
                os._exit(9)  # a crash: no close, no final flush
            row = dict(row)
            row["findings"] = [Finding(**f) for f in row.get("findings", [])]
            if row.get("body"):
                row["body"] = row["body"].encode()
            if cfg.get("via_responses"):  # as the real spider: items from responses
                yield Request(f"data:,{i}", self.page, cb_kwargs={"item": PageItem(**row)})
            else:
                yield PageItem(**row)
        if cfg.get("hang_url"):  # a server that never answers keeps the crawl busy
            yield Request(cfg["hang_url"], callback=self.ignore, errback=self.ignore)

    def ignore(self, _result):
        return None

    def page(self, _response, item):
        yield item

settings = {
    "ITEM_PIPELINES": {"hijackwatch.pipelines.storage.StoragePipeline": 900},
    "LOG_LEVEL": "INFO", "TELNETCONSOLE_ENABLED": False, **cfg["settings"],
}
process = AsyncCrawlerProcess(settings)
crawler = process.create_crawler(ItemsSpider)
process.crawl(crawler)
process.start()
stats = {
    k: v for k, v in crawler.stats.get_stats().items()
    if k.startswith("hijackwatch/") or k == "finish_reason"
}
print("STATS " + json.dumps(stats, default=str))
"""


def crawl(
    tmp_path: Path, db_url: str, items: list[dict[str, Any]], wait: bool = True, **cfg: Any
) -> Any:
    """Run one crawl in a subprocess; returns (stats, stderr) or the Popen when not waiting."""
    script = tmp_path / "crawl_script.py"
    script.write_text(CRAWL_SCRIPT)
    settings = {"HIJACKWATCH_DB_URL": db_url, "HIJACKWATCH_BATCH_SIZE": 2} | cfg.pop("settings", {})
    config = tmp_path / f"crawl-{time.monotonic_ns()}.json"
    config.write_text(json.dumps({"items": items, "settings": settings, **cfg}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("HIJACKWATCH_DB_URL", None)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    if not wait:
        return proc
    return finish(proc)


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[dict[str, Any], str]:
    """Wait for the crawl to end; a crawl that does not end within ``timeout`` is killed."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the crawl did not end within {timeout}s:\n{err[-3000:]}")
    lines = [ln for ln in out.splitlines() if ln.startswith("STATS ")]
    assert lines, f"crawl printed no stats (rc={proc.returncode}):\n{err[-3000:]}"
    return json.loads(lines[-1].removeprefix("STATS ")), err


def scalar(db_url: str, sql: str) -> Any:
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        db.dispose()


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    """Poll ``predicate``; errors count as not yet (the crawl may still be creating tables)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_crawls_record_runs_incidents_stats_and_alerts(tmp_path: Path, db_url: str) -> None:
    with Receiver() as receiver:
        notify = {"HIJACKWATCH_NOTIFY_URL": receiver.url}
        first, _ = crawl(tmp_path, db_url, RUN1, settings=notify)
        second, _ = crawl(tmp_path, db_url, RUN2, settings=notify)
        third, _ = crawl(tmp_path, db_url, RUN2, settings=notify)  # nothing changes
    assert first["hijackwatch/run_id"] == 1 and first["hijackwatch/run_status"] == "finished"
    assert first["hijackwatch/new_hijacked_sites"] == 1 and first["hijackwatch/cleaned_sites"] == 0
    assert first["hijackwatch/hijacked_pages"] == 1
    assert first["hijackwatch/pages_written"] == len(RUN1)
    assert second["hijackwatch/new_hijacked_sites"] == 1
    assert second["hijackwatch/cleaned_sites"] == 1
    assert third["hijackwatch/still_hijacked_sites"] == 1
    assert third["hijackwatch/new_hijacked_sites"] == third["hijackwatch/cleaned_sites"] == 0
    # one webhook call per run with changes
    assert [c["run_id"] for c in receiver.calls] == [1, 2]
    assert receiver.calls[0]["new_hijacked_sites"] == [SITE_A]
    assert receiver.calls[1]["new_hijacked_sites"] == [SITE_B]
    assert receiver.calls[1]["cleaned_sites"] == [SITE_A]
    assert first["hijackwatch/alert_sent"] is True and "hijackwatch/alert_sent" not in third
    # the run rows: seeds from the spider, options recorded, statuses final
    assert scalar(db_url, "SELECT COUNT(*) FROM crawl_runs WHERE status = 'finished'") == 3
    assert scalar(db_url, "SELECT seeds FROM crawl_runs WHERE id = 1") == f"{SITE_A}\n{SITE_B}"
    assert scalar(db_url, "SELECT COUNT(*) FROM pages") == len(RUN1) + 2 * len(RUN2)
    assert scalar(db_url, "SELECT COUNT(*) FROM page_bodies") == 1


def test_ctrl_c_marks_the_run_interrupted(tmp_path: Path, sqlite_url: str) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    hang_url = f"http://127.0.0.1:{silent.getsockname()[1]}/slow"
    proc = crawl(
        tmp_path,
        sqlite_url,
        RUN1,
        wait=False,
        hang_url=hang_url,
        settings={"HIJACKWATCH_FLUSH_INTERVAL": 0.2, "DOWNLOAD_TIMEOUT": 3, "RETRY_ENABLED": False},
    )
    try:
        wait_for(lambda: scalar(sqlite_url, "SELECT COUNT(*) FROM pages") == len(RUN1))
        proc.send_signal(signal.SIGINT)
        stats, _ = finish(proc)
    finally:
        silent.close()
    assert stats["hijackwatch/run_status"] == "interrupted"
    assert stats["hijackwatch/pages_written"] == len(RUN1)
    assert scalar(sqlite_url, "SELECT reason FROM crawl_runs") == "shutdown"
    assert scalar(sqlite_url, "SELECT status FROM crawl_runs") == "interrupted"


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("finished", "finished"),
        ("shutdown", "interrupted"),
        ("closespider_timeout", "interrupted"),
        ("closespider_itemcount", "interrupted"),
        ("closespider_errorcount", "failed"),
        ("some_extension_error", "failed"),
    ],
)
def test_close_reason_to_run_status(reason: str, status: str) -> None:
    assert run_status(reason) == status


def crash_after(
    tmp_path: Path, db_url: str, items: list[dict[str, Any]], at: int, pause: float, **settings: Any
) -> int:
    """Crawl ``items``, pause ``pause`` s before item ``at``, then die without any cleanup."""
    proc = crawl(
        tmp_path,
        db_url,
        items,
        wait=False,
        settings=settings,
        sleep_at=at,
        sleep=pause,
        crash_at=at,
    )
    proc.communicate(timeout=120)
    return proc.returncode


def test_crash_loses_at_most_the_unflushed_batch(tmp_path: Path, db_url: str) -> None:
    settings = {"HIJACKWATCH_BATCH_SIZE": 3, "HIJACKWATCH_FLUSH_INTERVAL": 0}
    assert crash_after(tmp_path, db_url, RUN1 * 2, 8, 1.0, **settings) == 9
    assert scalar(db_url, "SELECT COUNT(*) FROM pages") == 6  # 2 full batches; 2 items lost
    assert scalar(db_url, "SELECT status FROM crawl_runs") == "running"


def test_flush_by_time_while_items_pause(tmp_path: Path, sqlite_url: str) -> None:
    settings = {"HIJACKWATCH_BATCH_SIZE": 100, "HIJACKWATCH_FLUSH_INTERVAL": 0.3}
    assert crash_after(tmp_path, sqlite_url, RUN1, 3, 1.5, **settings) == 9
    assert scalar(sqlite_url, "SELECT COUNT(*) FROM pages") == 3  # written by the timer


def test_out_of_date_schema_stops_the_crawl(tmp_path: Path, sqlite_url: str) -> None:
    db = Database(sqlite_url)
    db.upgrade()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000_older'"))
    db.dispose()
    stats, err = crawl(tmp_path, sqlite_url, RUN1)
    assert "hijackwatch/run_id" not in stats
    assert "SchemaOutOfDate" in err
    assert scalar(sqlite_url, "SELECT COUNT(*) FROM crawl_runs") == 0


class Proxy:
    """A TCP relay to PostgreSQL that can be switched off, as a server going away would.

    ``stall()`` stops forwarding in both directions but keeps every socket open: the
    relay's kernel keeps ACKing, as a stopped server process or a black hole would.
    """

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.running = True
        self.flowing = threading.Event()
        self.flowing.set()
        self.stall_after: bytes | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, direct_url: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(direct_url).set(port=self.port).render_as_string(hide_password=False)

    def stall(self, after: bytes | None = None) -> None:
        """Stop forwarding now, or once a client has sent ``after``: the server gets it,
        its answer never arrives (``b"COMMIT"``: the server commits, the client never
        learns; a first query: the server took the connection, then went silent)."""
        if after:
            self.stall_after = after
        else:
            self.flowing.clear()

    def unstall(self) -> None:
        self.stall_after = None
        self.flowing.set()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.running:
                client.close()
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b, to_server in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, to_server), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, to_server: bool) -> None:
        try:
            while data := src.recv(65536):
                if to_server and self.stall_after and self.stall_after in data:
                    self.flowing.clear()  # before sending: the answer must not slip through
                    dst.sendall(data)
                    continue
                self.flowing.wait()  # stalled: what was read is held, nothing moves on
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.running = False
        self.flowing.set()  # held data meets closed sockets: the relay threads end
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def _go_away_crawl(
    tmp_path: Path,
    crawl_url: str,
    check_url: str,
    break_db: Any,
    timeout: float = 120,
    items: list[dict[str, Any]] | None = None,
    cfg: dict[str, Any] | None = None,
    **settings: Any,
) -> tuple:
    """``items`` (8 by default) in batches of 2; the database breaks after the first 4
    are stored. ``cfg``: more for the crawl script."""
    items = items or RUN1 + RUN2[:3]
    paused, resume = tmp_path / "paused", tmp_path / "resume"
    proc = crawl(
        tmp_path,
        crawl_url,
        items,
        wait=False,
        settings={
            "HIJACKWATCH_SPOOL_DIR": str(tmp_path / "spool"),
            "HIJACKWATCH_DB_RETRIES": 2,
            "HIJACKWATCH_DB_RETRY_DELAY": 0.1,
            **settings,
        },
        pause_at=4,
        paused_file=str(paused),
        resume_file=str(resume),
        **(cfg or {}),
    )
    try:
        wait_for(lambda: paused.exists() or proc.poll() is not None)
        assert proc.poll() is None, f"crawl died early:\n{proc.communicate()[1][-3000:]}"
        wait_for(lambda: scalar(check_url, "SELECT COUNT(*) FROM pages") == 4)
        break_db()
        resume.touch()
        stats, err = finish(proc, timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return items, stats, err


def import_spool(db_url: str, spool: Path) -> str:
    """``hijackwatch db import-spool``, as the operator runs it; returns its output."""
    result = subprocess.run(
        [sys.executable, "-m", "hijackwatch", "db", "import-spool", str(spool), "--db", db_url],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def assert_each_page_once(db_url: str, pages: int) -> None:
    """``pages`` rows in run 1, no fetch (site, URL, profile, time) stored twice."""
    assert scalar(db_url, "SELECT COUNT(*) FROM pages WHERE run_id = 1") == pages
    distinct = (
        "SELECT COUNT(*) FROM (SELECT DISTINCT site_id, url, profile, fetched_at "
        "FROM pages WHERE run_id = 1) AS d"
    )
    assert scalar(db_url, distinct) == pages


def _check_spool_import(
    check_url: str, stats: dict[str, Any], items: list, err: str, imported: int = 4
) -> None:
    spool = Path(stats["hijackwatch/spool_file"])
    assert stats["hijackwatch/spooled_pages"] == 4
    assert stats["hijackwatch/run_status"] == "unrecorded"
    assert str(spool) in err and "import-spool" in err  # the log names the file
    out = import_spool(check_url, spool)
    assert f"{imported} page(s) imported into run 1" in out
    skipped = 4 - imported  # spooled pages the database had taken after all
    assert (f"{skipped} already stored, skipped" in out) == bool(skipped), out
    assert_each_page_once(check_url, len(items))
    assert scalar(check_url, "SELECT status FROM crawl_runs WHERE id = 1") == "finished"
    assert scalar(check_url, "SELECT COUNT(*) FROM crawl_runs") == 1
    assert scalar(check_url, "SELECT COUNT(*) FROM open_incidents WHERE scope = 'site'") == 1
    assert Path(str(spool) + ".imported").exists() and not spool.exists()


def test_sqlite_file_gone_mid_crawl_spools_and_imports(tmp_path: Path) -> None:
    dbdir = tmp_path / "data"
    dbdir.mkdir()
    url = f"sqlite:///{dbdir / 'hw.db'}"
    moved = tmp_path / "data-moved"
    items, stats, err = _go_away_crawl(tmp_path, url, url, lambda: dbdir.rename(moved))
    assert not dbdir.exists()  # nothing recreated the database behind our back
    moved.rename(dbdir)
    _check_spool_import(url, stats, items, err)


def pg_proxy(pg_url: str) -> Proxy:
    from sqlalchemy.engine import make_url

    return Proxy(make_url(pg_url).port or 5432)


def test_postgresql_gone_mid_crawl_spools_and_imports(tmp_path: Path, pg_url: str) -> None:
    proxy = pg_proxy(pg_url)
    try:
        items, stats, err = _go_away_crawl(tmp_path, proxy.url(pg_url), pg_url, proxy.stop)
    finally:
        proxy.stop()
    _check_spool_import(pg_url, stats, items, err)


@pytest.mark.parametrize("keep", ["none", "all"])
def test_body_policy(tmp_path: Path, sqlite_url: str, keep: str) -> None:
    stats, _ = crawl(tmp_path, sqlite_url, RUN1, settings={"HIJACKWATCH_KEEP_BODIES": keep})
    assert stats["hijackwatch/run_status"] == "finished"
    assert scalar(sqlite_url, "SELECT COUNT(*) FROM page_bodies") == (1 if keep == "all" else 0)


# -- driven in this process -----------------------------------------------------------


def direct_pipeline(db_url: str, tmp_path: Path, **options: Any) -> StoragePipeline:
    """A StoragePipeline of a real (never started) crawler: batches of 2, no timer."""
    crawler = get_crawler(Spider)
    options = {
        "batch_size": 2,
        "flush_interval": 0,
        "seeds": [SITE_A, SITE_B],
        "spool_dir": tmp_path / "spool",
        "retries": 2,
        "retry_delay": 0.05,
        **options,
    }
    return StoragePipeline(crawler, Database(db_url), **options)


def stat(pipeline: StoragePipeline, name: str) -> Any:
    return pipeline.stats.get_value(f"hijackwatch/{name}")


def sqlite_in(tmp_path: Path) -> tuple[Path, str]:
    dbdir = tmp_path / "data"
    dbdir.mkdir()
    return dbdir, f"sqlite:///{dbdir / 'hw.db'}"


@pytest.mark.parametrize("comes_back", ["database", "spool"])
def test_pages_wait_in_memory_while_nothing_can_take_them(
    tmp_path: Path, no_spool_anywhere: Path, comes_back: str
) -> None:
    dbdir, url = sqlite_in(tmp_path)
    moved = tmp_path / "data-moved"
    items = page_items(RUN1 + RUN2[:3])  # 8 items, 4 batches
    pipe = direct_pipeline(url, tmp_path, spool_dir=no_spool_anywhere / "spool")

    async def run() -> None:
        await pipe.open_spider()
        for item in items[:2]:
            await pipe.process_item(item)
        dbdir.rename(moved)  # the database is gone, and no spool file can be written
        for item in items[2:6]:
            await pipe.process_item(item)
        assert stat(pipe, "unsaved_pages") == 4
        if comes_back == "database":
            moved.rename(dbdir)
        else:
            no_spool_anywhere.unlink()  # HIJACKWATCH_SPOOL_DIR can be created now
        for item in items[6:]:
            await pipe.process_item(item)
        await pipe.close_spider()
        await pipe.spider_closed(pipe.crawler.spider, "finished")

    asyncio.run(run())
    pipe.db.dispose()
    assert stat(pipe, "unsaved_pages") == 0 and stat(pipe, "lost_pages") is None
    if comes_back == "database":  # the kept pages go to the database first
        assert stat(pipe, "pages_written") == 8 and stat(pipe, "spooled_pages") is None
        assert stat(pipe, "run_status") == "finished"
    else:
        assert stat(pipe, "pages_written") == 2 and stat(pipe, "spooled_pages") == 6
        spool = Path(stat(pipe, "spool_file"))
        assert spool.parent == no_spool_anywhere / "spool"
        moved.rename(dbdir)
        assert "6 page(s) imported into run 1" in import_spool(url, spool)
    assert_each_page_once(url, len(items))
    assert scalar(url, "SELECT status FROM crawl_runs WHERE id = 1") == "finished"


def test_pages_nothing_could_take_are_counted_as_lost_at_close(
    tmp_path: Path, no_spool_anywhere: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dbdir, url = sqlite_in(tmp_path)
    items = page_items(RUN1)  # 5 items
    pipe = direct_pipeline(url, tmp_path, spool_dir=no_spool_anywhere / "spool")

    async def run() -> None:
        await pipe.open_spider()
        for item in items[:2]:
            await pipe.process_item(item)
        dbdir.rename(tmp_path / "data-moved")
        for item in items[2:]:
            await pipe.process_item(item)
        await pipe.close_spider()
        await pipe.spider_closed(pipe.crawler.spider, "finished")

    with caplog.at_level(logging.ERROR, logger="hijackwatch.pipelines.storage"):
        asyncio.run(run())
    pipe.db.dispose()
    assert stat(pipe, "lost_pages") == 3 and stat(pipe, "run_status") == "unrecorded"
    critical = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1
    assert "3 page(s) of run 1 are LOST" in critical[0]
    assert str(no_spool_anywhere / "spool") in critical[0]
    kept = [r.getMessage() for r in caplog.records if "kept in memory" in r.getMessage()]
    assert kept and "has disappeared" in kept[0]  # why: the database and the spool both
