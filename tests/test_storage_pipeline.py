"""StoragePipeline in real Scrapy crawls (one subprocess per crawl, real databases).

The crawls use a tiny spider that yields prepared PageItems from ``start()``, so these
tests exercise exactly the pipeline, its signals and its stats; the full crawl with the
real spider is the lead's end-to-end test.
"""

from __future__ import annotations

import contextlib
import json
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
from sqlalchemy import text

from hijackwatch.pipelines.storage import run_status
from hijackwatch.storage import Database
from tests.test_alerts import Receiver
from tests.test_storage import RUN1, RUN2, SITE_A, SITE_B

REPO = Path(__file__).resolve().parent.parent

CRAWL_SCRIPT = r"""
import asyncio, json, os, sys
from pathlib import Path
from scrapy import Request, Spider
from scrapy.core.engine import ExecutionEngine
from scrapy.crawler import AsyncCrawlerProcess
from hijackwatch.detect.findings import Finding
from hijackwatch.items import PageItem

ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = 0.2  # tests only: notice the idle spider sooner
cfg = json.loads(Path(sys.argv[1]).read_text())

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
            yield PageItem(**row)
        if cfg.get("hang_url"):  # a server that never answers keeps the crawl busy
            yield Request(cfg["hang_url"], callback=self.ignore, errback=self.ignore)

    def ignore(self, _result):
        return None

settings = {
    "ITEM_PIPELINES": {"hijackwatch.pipelines.storage.StoragePipeline": 900},
    "LOG_LEVEL": "INFO", "TELNETCONSOLE_ENABLED": False, **cfg["settings"],
}
process = AsyncCrawlerProcess(settings)
crawler = process.create_crawler(ItemsSpider)
process.crawl(crawler)
process.start()
stats = {k: v for k, v in crawler.stats.get_stats().items() if k.startswith("hijackwatch/")}
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


def finish(proc: subprocess.Popen[str]) -> tuple[dict[str, Any], str]:
    out, err = proc.communicate(timeout=120)
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
    """A TCP relay to PostgreSQL that can be switched off, as a server going away would."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

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
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.running = False
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def _go_away_crawl(tmp_path: Path, crawl_url: str, check_url: str, break_db: Any) -> tuple:
    items = RUN1 + RUN2[:3]  # 8 items, batches of 2
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
        },
        pause_at=4,
        paused_file=str(paused),
        resume_file=str(resume),
    )
    wait_for(lambda: paused.exists() or proc.poll() is not None)
    assert proc.poll() is None, f"crawl died early:\n{proc.communicate()[1][-3000:]}"
    wait_for(lambda: scalar(check_url, "SELECT COUNT(*) FROM pages") == 4)
    break_db()
    resume.touch()
    stats, err = finish(proc)
    return items, stats, err


def _check_spool_import(check_url: str, stats: dict[str, Any], items: list, err: str) -> None:
    spool = Path(stats["hijackwatch/spool_file"])
    assert stats["hijackwatch/spooled_pages"] == 4
    assert stats["hijackwatch/run_status"] == "unrecorded"
    assert str(spool) in err and "import-spool" in err  # the log names the file
    result = subprocess.run(
        [sys.executable, "-m", "hijackwatch", "db", "import-spool", str(spool), "--db", check_url],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "4 page(s) imported into run 1" in result.stdout
    assert scalar(check_url, "SELECT COUNT(*) FROM pages WHERE run_id = 1") == len(items)
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


def test_postgresql_gone_mid_crawl_spools_and_imports(tmp_path: Path, pg_url: str) -> None:
    from sqlalchemy.engine import make_url

    direct = make_url(pg_url)
    proxy = Proxy(direct.port or 5432)
    via_proxy = direct.set(port=proxy.port).render_as_string(hide_password=False)
    try:
        items, stats, err = _go_away_crawl(tmp_path, via_proxy, pg_url, proxy.stop)
    finally:
        proxy.stop()
    _check_spool_import(pg_url, stats, items, err)


@pytest.mark.parametrize("keep", ["none", "all"])
def test_body_policy(tmp_path: Path, sqlite_url: str, keep: str) -> None:
    stats, _ = crawl(tmp_path, sqlite_url, RUN1, settings={"HIJACKWATCH_KEEP_BODIES": keep})
    assert stats["hijackwatch/run_status"] == "finished"
    assert scalar(sqlite_url, "SELECT COUNT(*) FROM page_bodies") == (1 if keep == "all" else 0)
