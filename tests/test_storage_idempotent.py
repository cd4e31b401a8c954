"""The database connection breaking mid-transaction, on real PostgreSQL behind a TCP proxy.

Pages are stored once even when a COMMIT the server carried out lost its answer: a
write whose outcome is unknown (the connection dropped after COMMIT, or a write given
up on that later failed instead of coming back) is retried or rewritten later, and
those attempts skip what the run already has. A run start that breaks says so in one
line naming the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.test_storage import RUN1, RUN2, page_items
from tests.test_storage_hang import commit_unanswered, no_spool_pipe, returned, run_through
from tests.test_storage_pipeline import REPO, Proxy, direct_pipeline, scalar, stat

DISTINCT_FETCHES = (
    "SELECT COUNT(*) FROM (SELECT DISTINCT site_id, url, profile, fetched_at FROM pages) d"
)


class CutAt(Proxy):
    """Drops the link when the client sends ``marker`` (once armed): after passing it on
    and letting the server act on it (``deliver``), or before; ``refuse``: and takes no
    new connections."""

    def __init__(self, port: int, marker: bytes, *, deliver: bool, refuse: bool) -> None:
        super().__init__(port)
        self.marker, self.deliver, self.refuse = marker, deliver, refuse
        self.armed = True

    def _pipe(self, src: socket.socket, dst: socket.socket, to_server: bool) -> None:
        try:
            while data := src.recv(65536):
                if to_server and self.armed and self.marker in data:
                    self.armed = False
                    self.flowing.clear()  # no answer gets through...
                    if self.deliver:
                        dst.sendall(data)
                        time.sleep(0.3)  # ...while the server acts on it
                    if self.refuse:
                        self.running = False
                        with contextlib.suppress(OSError):
                            self.listener.close()
                    break
                self.flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.flowing.set()


def test_a_retry_after_a_commit_whose_answer_was_lost_stores_nothing_twice(
    tmp_path: Path, pg_url: str
) -> None:
    proxy = CutAt(make_url(pg_url).port or 5432, b"COMMIT", deliver=True, refuse=False)
    proxy.armed = False
    pipe = direct_pipeline(proxy.url(pg_url), tmp_path, write_timeout=30)
    items = page_items(RUN1[:4])  # batches of 2

    async def run() -> None:
        await pipe.open_spider()
        for item in items[:2]:
            await pipe.process_item(item)
        proxy.armed = True
        for item in items[2:]:
            await pipe.process_item(item)
        await pipe.close_spider()

    try:
        asyncio.run(run())
    finally:
        pipe.db.dispose()
        proxy.stop()
    assert not proxy.armed  # the COMMIT was carried out and its answer dropped
    assert scalar(pg_url, "SELECT COUNT(*) FROM pages") == len(items)
    assert stat(pipe, "pages_written") == len(items) and not stat(pipe, "spooled_pages")


def test_pages_kept_from_a_write_given_up_on_that_failed_late_are_stored_once(
    tmp_path: Path, pg_url: str, no_spool_anywhere: Path
) -> None:
    proxy, pipe = no_spool_pipe(pg_url, tmp_path, no_spool_anywhere)
    items = page_items(RUN1 + RUN2[:1])  # 6 items, batches of 2

    async def run() -> None:
        await commit_unanswered(proxy, pipe, items)
        held = list(proxy.sockets)  # then the connection breaks (server restart, NAT reset)
        proxy.sockets.clear()
        proxy.stall_after = None
        for sock in held:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        proxy.flowing.set()
        await returned(pipe)  # with an error, not a late success
        for item in items[4:]:
            await pipe.process_item(item)
        await pipe.close_spider()

    run_through(proxy, pipe, run())
    assert scalar(pg_url, "SELECT COUNT(*) FROM pages") == len(items)
    assert scalar(pg_url, DISTINCT_FETCHES) == len(items)
    assert stat(pipe, "pages_written") == len(items) and not stat(pipe, "unsaved_pages")


def test_a_run_start_that_breaks_is_one_line_naming_the_database(
    tmp_path: Path, pg_url: str
) -> None:
    """Not SQLAlchemy's message with the whole INSERT and its parameters (seeds, options)."""
    port = make_url(pg_url).port or 5432
    proxy = CutAt(port, b"INSERT INTO crawl_runs", deliver=False, refuse=True)
    url = make_url(proxy.url(pg_url)).set(password="s3cret-pw")
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("127.0.0.2:9\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("HIJACKWATCH_DB_URL", None)
    command = [sys.executable, "-m", "hijackwatch", "crawl", str(seeds), "-q"]
    command += ["--db", url.render_as_string(hide_password=False)]
    try:
        result = subprocess.run(
            [*command, "-s", "HIJACKWATCH_DB_WRITE_TIMEOUT=5"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
        )
    finally:
        proxy.stop()
    assert result.returncode == 3, result.stderr[-2000:]
    last = result.stderr.splitlines()[-1]
    assert last.startswith(
        f"hijackwatch crawl: cannot use database {url.render_as_string()}: OperationalError: "
    ), last
    assert "INSERT" not in last and "s3cret-pw" not in result.stderr and len(last) < 600
