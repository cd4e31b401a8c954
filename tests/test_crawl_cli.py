"""``hijackwatch crawl`` as an operator runs it: stopping it, a stalled database, bad seeds,
and the summary's counts. A real CLI process, real HTTP servers, a real SQLite file."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import SEED_PAGE

REPO = Path(__file__).resolve().parent.parent
PAGES = ["/", "/a.html", "/b.html", "/c.html"]
FAST = ["-s", "HIJACKWATCH_LOOPBACK_ONLY=1", "-s", "RETRY_ENABLED=0", "-s", "LOG_LEVEL=INFO"]


class Site:
    """A small site on 127.0.0.x; ``/hang`` (linked from the homepage) never answers."""

    def __init__(self, host: str = "127.0.0.61", bodies: dict[str, bytes] | None = None) -> None:
        release = self.release = threading.Event()
        own = bodies or {}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/hang":
                    release.wait(120)  # bounded: the test ends it at teardown
                    return
                if self.path not in PAGES:
                    self.send_error(404)
                    return
                links = "".join(f"<a href='{p}'>{p}</a> " for p in [*PAGES, "/hang"])
                body = (
                    own.get(self.path)
                    or (
                        f"<html><head><title>Library {self.path}</title></head><body>"
                        f"<p>Opening hours of the municipal library, nine to five.</p>{links}"
                        "</body></html>"
                    ).encode()
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def settings(*pairs: str) -> list[str]:
    """``-s NAME=VALUE`` options for the crawl command."""
    return [arg for pair in pairs for arg in ("-s", pair)]


def seeds_for(site: Site, tmp_path: Path) -> tuple[Path, Path]:
    """(seeds file naming ``site``, path for the SQLite file) in ``tmp_path``."""
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(site.url + "\n", encoding="utf-8")
    return seeds, tmp_path / "hw.db"


def crawl_args(seeds: Path, db_url: str, *pairs: str) -> list[str]:
    """``crawl SEEDS --db URL`` with the fast test settings and ``-s`` for each pair."""
    return ["crawl", str(seeds), "--db", db_url, *FAST, *settings(*pairs)]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "hijackwatch", *args]


def env() -> dict[str, str]:
    e = {**os.environ, "PYTHONUNBUFFERED": "1"}
    e.pop("HIJACKWATCH_DB_URL", None)
    return e


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli(*args), cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli(*args), cwd=REPO, env=env(), capture_output=True, text=True, timeout=timeout
    )


class Lines:
    """A child's stderr, read in a thread so that the test can wait for a line."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.lines)}")

    @property
    def text(self) -> str:
        self.thread.join(10)
        return "".join(self.lines)


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except sqlite3.OperationalError:  # the schema is being created
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def force_stop(proc: subprocess.Popen[str], err: Lines, wait: float = 90) -> None:
    """Ctrl-C twice, as an operator forces a stop: the second once the first is taken."""
    proc.send_signal(signal.SIGINT)
    err.wait_for(rf"stopping: finishing pages in flight \(up to {wait:g} s\); Ctrl-C again")
    time.sleep(0.5)
    assert proc.poll() is None  # still waiting for /hang
    proc.send_signal(signal.SIGINT)


def test_second_ctrl_c_settles_the_run_as_interrupted_with_the_buffered_pages(
    site: Site, tmp_path: Path
) -> None:
    seeds, db = seeds_for(site, tmp_path)
    proc = spawn(
        *crawl_args(
            seeds,
            f"sqlite:///{db}",
            "DOWNLOAD_TIMEOUT=90",  # the graceful stop would wait for /hang that long
            "HIJACKWATCH_FLUSH_INTERVAL=0",  # pages stay in the pipeline's buffer
            "HIJACKWATCH_BATCH_SIZE=1000",
            "HIJACKWATCH_PROFILE_MODE=off",
            "HIJACKWATCH_PROGRESS_INTERVAL=0.2",
        ),
    )
    err = Lines(proc.stderr)  # type: ignore[arg-type]
    try:
        err.wait_for(rf"{len(PAGES)} pages")  # every page but /hang is in
        assert query(db, "SELECT COUNT(*) FROM pages") == [(0,)]  # buffered, not written
        force_stop(proc, err)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stdout = proc.stdout.read() if proc.stdout else ""
    assert proc.returncode == 0, err.text + stdout
    assert "did not finish" not in err.text
    assert query(db, "SELECT status, reason FROM crawl_runs") == [
        ("interrupted", "shutdown_forced")
    ]
    stored = {url for (url,) in query(db, "SELECT url FROM pages")}
    assert stored == {site.url.rstrip("/") + p for p in PAGES}
    assert "run 1: interrupted" in stdout
    assert site.url.split("/")[2] in stdout  # the summary table still lists the site
    assert not list(tmp_path.glob("hijackwatch-spool-*"))  # imported and removed


def spawn_notifying(
    seeds: Path, db: Path, notify: str, *pairs: str
) -> tuple[subprocess.Popen[str], Lines]:
    """A crawl (one visitor profile) that alerts ``notify``, and its stderr lines."""
    args = crawl_args(seeds, f"sqlite:///{db}", *pairs, "HIJACKWATCH_PROFILE_MODE=off")
    proc = spawn(*args, "-s", "HIJACKWATCH_PROGRESS_INTERVAL=0.2", "--notify", notify)
    return proc, Lines(proc.stderr)  # type: ignore[arg-type]


def test_forced_stop_sends_the_interrupted_runs_alert(tmp_path: Path) -> None:
    """The run settled by a forced stop found a hijacked page: the webhook hears of it."""
    from tests.test_alerts import Receiver

    site = Site("127.0.0.62", bodies={"/c.html": SEED_PAGE.read_bytes()})
    seeds, db = seeds_for(site, tmp_path)
    with Receiver() as receiver:
        proc, err = spawn_notifying(seeds, db, receiver.url, "DOWNLOAD_TIMEOUT=90")
        try:
            err.wait_for(r"1 hijacked pages on 1 sites")  # the rest wait for /hang
            force_stop(proc, err)
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            site.close()
        calls = list(receiver.calls)
    assert proc.returncode == 0, err.text
    assert query(db, "SELECT status FROM crawl_runs") == [("interrupted",)]
    assert len(calls) == 1, err.text
    host = site.url.split("/")[2]
    assert calls[0]["run_status"] == "interrupted" and calls[0]["new_hijacked_sites"] == [host]


def test_a_second_ctrl_c_while_the_runs_alert_is_sent_leaves_it_queued(tmp_path: Path) -> None:
    """The run ended (first Ctrl-C) and its alert waits for a slow receiver: a second
    Ctrl-C ends the process at once, and the alert waits with the pending ones (QA: the
    exit waited for all four 10 s attempts)."""
    from hijackwatch.alerts import PENDING_FILE
    from tests.test_alerts import Receiver

    site = Site("127.0.0.63", bodies={"/c.html": SEED_PAGE.read_bytes()})
    seeds, db = seeds_for(site, tmp_path)
    with Receiver(slow_first=10, delay=20) as receiver:
        # the first Ctrl-C gives /hang DOWNLOAD_TIMEOUT
        proc, err = spawn_notifying(seeds, db, receiver.url, "DOWNLOAD_TIMEOUT=2")
        try:
            err.wait_for(r"1 hijacked pages on 1 sites")
            proc.send_signal(signal.SIGINT)
            wait_until(lambda: len(receiver.seen) >= 1, timeout=60)  # the alert is on its way
            proc.send_signal(signal.SIGINT)
            started = time.monotonic()
            proc.wait(30)
            took = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            site.close()
    assert took < 25, err.text  # the old exit waited for four 10 s attempts
    pending = (tmp_path / PENDING_FILE).read_text(encoding="utf-8")
    assert '"run_status": "interrupted"' in pending and '"run_id": 1' in pending, err.text
    assert "kept with the pending alerts" in err.text


def test_forced_stop_during_a_write_held_by_a_postgresql_lock_stores_no_page_twice(
    site: Site, tmp_path: Path, pg_url: str
) -> None:
    """The write in flight at the forced stop waits for a table lock; the salvage must not
    import its pages while it may still COMMIT them (nothing cancelled it). A second crawl
    of a known site, as a scheduled one is."""
    from sqlalchemy import create_engine, text

    spool_dir = tmp_path / "spool"
    seeds, _ = seeds_for(site, tmp_path)
    first = run_cli(
        "crawl", str(seeds), "--db", pg_url, *FAST, "-s", "DOWNLOAD_TIMEOUT=2",
        "-s", "HIJACKWATCH_PROFILE_MODE=off",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    engine = create_engine(pg_url)
    try:
        with engine.connect() as locker:
            locker.execute(text("LOCK TABLE pages IN EXCLUSIVE MODE"))
            proc = spawn(
                *crawl_args(
                    seeds,
                    pg_url,
                    "DOWNLOAD_TIMEOUT=90",
                    "HIJACKWATCH_FLUSH_INTERVAL=1",
                    "HIJACKWATCH_DB_WRITE_TIMEOUT=30",  # long enough for the lock
                    f"HIJACKWATCH_SPOOL_DIR={spool_dir}",
                    "HIJACKWATCH_PROFILE_MODE=off",
                ),
            )
            err = Lines(proc.stderr)  # type: ignore[arg-type]
            try:
                waiting = text(
                    "SELECT COUNT(*) FROM pg_locks WHERE relation = 'pages'::regclass "
                    "AND NOT granted"
                )
                wait_until(lambda: locker.scalar(waiting) > 0)  # a batch waits for the lock
                force_stop(proc, err)
                time.sleep(3)  # the batch still waits, given up on or not
                locker.rollback()  # the lock goes: the batch goes on to its COMMIT
                stdout, _ = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        with engine.connect() as conn:
            ((count, distinct),) = conn.execute(
                text("SELECT COUNT(*), COUNT(DISTINCT (url, profile, fetched_at)) FROM pages")
            ).all()
            runs = conn.execute(text("SELECT status, reason FROM crawl_runs WHERE id = 2")).all()
            urls = set(conn.scalars(text("SELECT url FROM pages WHERE run_id = 2")))
    finally:
        engine.dispose()
    assert count == distinct, f"{count - distinct} page(s) stored twice\n{err.text}"
    if proc.returncode == 0:
        assert runs == [("interrupted", "shutdown_forced")], err.text
        assert urls == {site.url.rstrip("/") + p for p in PAGES}
        assert "run 2: interrupted" in stdout
    else:  # the database was not back in time: all is in the spool file
        assert proc.returncode == 3, err.text
        (spool,) = spool_dir.glob("hijackwatch-spool-run2-*.jsonl")
        assert f"hijackwatch db import-spool {spool}" in err.text


def test_ctrl_c_during_a_stuck_salvage_leaves_the_spool_file_exit_3(
    site: Site, tmp_path: Path
) -> None:
    """After a forced stop the database does not answer: a third Ctrl-C ends the wait
    (Scrapy ignores it, and the write timeout is a minute) and names the spool file."""
    seeds, db = seeds_for(site, tmp_path)
    spool_dir = tmp_path / "spool"
    proc = spawn(
        *crawl_args(
            seeds,
            f"sqlite:///{db}",
            "DOWNLOAD_TIMEOUT=90",
            "HIJACKWATCH_FLUSH_INTERVAL=0",  # pages stay in the pipeline's buffer
            "HIJACKWATCH_BATCH_SIZE=1000",
            "HIJACKWATCH_DB_WRITE_TIMEOUT=60",
            f"HIJACKWATCH_SPOOL_DIR={spool_dir}",
            "HIJACKWATCH_PROFILE_MODE=off",
            "HIJACKWATCH_PROGRESS_INTERVAL=0.2",
        ),
    )
    err = Lines(proc.stderr)  # type: ignore[arg-type]
    locker = None
    try:
        err.wait_for(rf"{len(PAGES)} pages")
        locker = sqlite3.connect(db, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # the salvage's import waits for it
        force_stop(proc, err)
        err.wait_for(
            rf"saving {len(PAGES)} page\(s\) and the run's end \(up to 10 s\); "
            "Ctrl-C again to leave them in a spool file",
            timeout=10,
        )
        time.sleep(0.5)
        assert proc.poll() is None  # the import waits for the lock
        proc.send_signal(signal.SIGINT)
        proc.wait(4)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if locker is not None:
            locker.execute("ROLLBACK")
            locker.close()
    assert proc.returncode == 3, err.text
    (spool,) = spool_dir.glob("hijackwatch-spool-run1-*.jsonl")
    assert f"hijackwatch db import-spool {spool}" in err.text
    imported = run_cli("db", "import-spool", str(spool), "--db", f"sqlite:///{db}")
    assert imported.returncode == 0, imported.stderr
    assert query(db, "SELECT status, reason FROM crawl_runs") == [
        ("interrupted", "shutdown_forced")
    ]
    assert query(db, "SELECT COUNT(*) FROM pages") == [(len(PAGES),)]


def test_stalled_database_results_in_the_spool_file_exit_3(site: Site, tmp_path: Path) -> None:
    seeds, db = seeds_for(site, tmp_path)
    spool_dir = tmp_path / "spool"
    proc = spawn(
        *crawl_args(
            seeds,
            f"sqlite:///{db}",
            "DOWNLOAD_TIMEOUT=4",  # /hang times out: the crawl ends by itself
            "HIJACKWATCH_DB_WRITE_TIMEOUT=2",
            f"HIJACKWATCH_SPOOL_DIR={spool_dir}",
            "HIJACKWATCH_FLUSH_INTERVAL=0",
            "HIJACKWATCH_PROFILE_MODE=off",
        ),
    )
    locker = None
    try:
        wait_until(lambda: db.exists() and query(db, "SELECT COUNT(*) FROM crawl_runs") == [(1,)])
        locker = sqlite3.connect(db, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # held until the crawl has ended
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if locker is not None:
            locker.execute("ROLLBACK")
            locker.close()
    assert proc.returncode == 3, stderr
    spools = list(spool_dir.glob("hijackwatch-spool-run1-*.jsonl"))
    assert len(spools) == 1
    assert f"are in spool file {spools[0]}" in stderr
    assert f"hijackwatch db import-spool {spools[0]}" in stderr
    assert "did not finish" not in stderr
    assert "unrecorded" not in stdout
    assert "run 1: not settled in the database; its end is in the spool file" in stdout
    # and they are there: importing them settles the run
    imported = run_cli("db", "import-spool", str(spools[0]), "--db", f"sqlite:///{db}")
    assert imported.returncode == 0, imported.stderr
    assert query(db, "SELECT status FROM crawl_runs") == [("finished",)]
    assert query(db, "SELECT COUNT(DISTINCT url) FROM pages")[0][0] >= len(PAGES)


def test_summary_counts_distinct_pages_and_fetches_apart(site: Site, tmp_path: Path) -> None:
    seeds, db = seeds_for(site, tmp_path)
    done = run_cli(
        *crawl_args(
            seeds,
            f"sqlite:///{db}",
            "DOWNLOAD_TIMEOUT=2",
            "HIJACKWATCH_PROGRESS_INTERVAL=0",
        ),
    )
    assert done.returncode == 0, done.stderr
    ((pages, fetches),) = query(db, "SELECT COUNT(DISTINCT url), COUNT(*) FROM pages")
    assert fetches > pages  # every visitor profile fetched each page
    header = next(line for line in done.stdout.splitlines() if "site" in line)
    assert re.search(r"pages.*fetches.*errors", header), done.stdout
    row = next(line for line in done.stdout.splitlines() if "127.0.0.61" in line)
    numbers = [int(n) for n in re.findall(r"│\s*(\d+)\s*(?=│)", row)]
    assert numbers[0] == pages and numbers[3] == fetches, done.stdout


def test_every_seed_line_bad_each_reported_with_its_line_number(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    long_url = "http://127.0.0.30:8010/?q=" + "a" * 2100
    seeds.write_text(f"# sites\nwww.example.gov/portal page\n{long_url}\nhttps//example.edu.cn\n")
    done = run_cli("crawl", str(seeds), "--db", f"sqlite:///{tmp_path / 'hw.db'}")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert [re.search(r"skipped line (\d+)", line)[1] for line in lines[:3]] == ["2", "3", "4"]  # type: ignore[index]
    assert "URLLENGTH_LIMIT" in lines[1] and len(lines[1]) < 400
    assert "3 malformed lines, listed above" in lines[3]
    assert not (tmp_path / "hw.db").exists()  # refused before anything else


def test_utf16_seeds_file_is_crawled(site: Site, tmp_path: Path) -> None:
    """A seeds file saved by Notepad as "Unicode": UTF-16 LE with a byte-order mark."""
    db = tmp_path / "hw.db"
    seeds = tmp_path / "seeds.txt"
    seeds.write_bytes(f"# 站点\r\n{site.url}\r\n".encode("utf-16"))
    done = run_cli(
        *crawl_args(
            seeds,
            f"sqlite:///{db}",
            "DOWNLOAD_TIMEOUT=2",
            "HIJACKWATCH_PROFILE_MODE=off",
        ),
    )
    assert done.returncode == 0, done.stderr
    assert "skipped" not in done.stderr
    assert query(db, "SELECT COUNT(DISTINCT url) FROM pages")[0][0] == len(PAGES) + 1


def test_a_read_only_database_is_one_line_and_exit_3(site: Site, tmp_path: Path) -> None:
    """A database that takes no writes (a read-only file, user or replica) is refused
    before the crawl starts; inside Scrapy's start-up it came with 100 lines of
    tracebacks (CoreStats, a task exception never retrieved), even with -q."""
    seeds, db = seeds_for(site, tmp_path)
    assert run_cli("db", "upgrade", "--db", f"sqlite:///{db}").returncode == 0
    done = run_cli(*crawl_args(seeds, f"sqlite:///file:{db}?mode=ro&uri=true"), "-q")
    assert done.returncode == 3, done.stderr
    assert "attempt to write a readonly database" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--max-pages", "0"], "argument --max-pages: must be >= 1, not 0"),
        (["--max-pages", "-1"], "argument --max-pages: must be >= 1, not -1"),
        (["--max-depth", "-1"], "argument --max-depth: must be >= 0, not -1"),
        (settings("HIJACKWATCH_MAX_PAGES=abc"), "HIJACKWATCH_MAX_PAGES=abc: not a whole number"),
        (settings("HIJACKWATCH_MAX_PAGES=0"), "HIJACKWATCH_MAX_PAGES=0: must be >= 1, not 0"),
        (settings("DOWNLOAD_TIMEOUT=soon"), "DOWNLOAD_TIMEOUT=soon: must be a number"),
        (
            settings("HIJACKWATCH_PROFILE_MODE=bogus"),
            "cannot start with these settings: HIJACKWATCH_PROFILE_MODE must be one of",
        ),
    ],
)
def test_out_of_range_options_and_bad_settings_are_usage_errors(
    site: Site, tmp_path: Path, options: list[str], message: str
) -> None:
    """They recorded an empty "finished" run with exit 0 (a cron typo, every night), or
    ended in an asyncio traceback, "run None" and exit 4."""
    seeds, db = seeds_for(site, tmp_path)
    done = run_cli(*crawl_args(seeds, f"sqlite:///{db}"), "-q", *options)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert "run None" not in done.stdout
    assert not db.exists() or query(db, "SELECT COUNT(*) FROM crawl_runs") == [(0,)]


def test_quiet_crawl_hides_scrapys_start_line(site: Site, tmp_path: Path) -> None:
    seeds, db = seeds_for(site, tmp_path)
    args = crawl_args(
        seeds, f"sqlite:///{db}", "DOWNLOAD_TIMEOUT=2", "HIJACKWATCH_PROFILE_MODE=off"
    )
    done = run_cli(*args, "-q")
    assert done.returncode == 0, done.stderr
    assert "Scrapy" not in done.stderr and "progress:" in done.stderr
