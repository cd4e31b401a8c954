"""``hijackwatch report`` and ``hijackwatch db``: every failure is one line and an exit code.

Cron wrappers read exit 1 as "new hijacks", so a database problem must never end in a
traceback (exit 1): 3 when the database cannot be used, 2 for bad usage or input.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from hijackwatch.cli import EXIT_DATABASE, EXIT_OK, EXIT_USAGE, main
from hijackwatch.storage import Database, StorageError
from hijackwatch.storage.database import MAX_KEEP_DAYS
from hijackwatch.storage.engine import redact
from tests.test_storage import SITE_A, write_two_runs
from tests.test_storage_pipeline import pg_proxy

SECRET = "s3cret"
FUTURE_REVISION = "0003_from_a_newer_hijackwatch"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command in-process; returns (exit code, stdout, stderr)."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def commands(url: str, tmp_path: Path) -> list[list[str]]:
    """Every command that opens the database, aimed at ``url``."""
    spool = tmp_path / "run.spool.jsonl"
    spool.write_text('{"type": "run", "run_id": 1}\n', encoding="utf-8")
    return [
        ["report", "--db", url],
        ["db", "status", "--db", url],
        ["db", "upgrade", "--db", url],
        ["db", "prune", "--keep-days", "30", "--db", url],
        ["db", "import-spool", str(spool), "--db", url],
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            f"postgresql+psycopg2://postgres:{SECRET}@127.0.0.1/qa",
            "driver psycopg2 is not installed; use postgresql+psycopg://",
        ),
        (f"mysql://u:{SECRET}@127.0.0.1/x", "driver MySQLdb is not installed"),
        ("sqlite+pysqlcipher:///x.db", "driver pysqlcipher3 is not installed"),
        ("oracle2://u@127.0.0.1/x", "unknown database type 'oracle2'"),
        ("not a database url", "bad database URL not a database url"),
        (f"postgresql+psycopg://u:{SECRET}@127.0.0.1:port/x", "bad database URL"),
    ],
)
def test_a_url_that_cannot_work_is_one_line_and_exit_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str, expected: str
) -> None:
    for argv in commands(url, tmp_path):
        code, out, err = cli(capsys, *argv)
        assert code == EXIT_DATABASE, (argv, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert expected in err and SECRET not in err + out, err
        if SECRET in url:
            assert ":***@" in err  # the URL is named, its password masked
    with pytest.raises(StorageError, match=re.escape(expected)):
        Database(url)


def test_redact_never_shows_a_password() -> None:
    for url in (
        f"postgresql://u:{SECRET}@h:port/x",  # unparseable (the port)
        f"postgresql+psycopg//u:{SECRET}@h/x",  # no "://"
        f"postgresql://u:p@{SECRET}@h:5432/x",  # "@" in the password: parsed as the host
        f"postgresql://u@h/x?password={SECRET}",  # libpq reads it from the query too
        f"postgresql://u@h/x?sslpassword={SECRET}&sslmode=require",
    ):
        assert SECRET not in redact(url), url
    assert redact(f"postgresql://u:{SECRET}@h/x?sslmode=require") == (
        "postgresql://u:***@h/x?sslmode=require"
    )
    assert redact("postgresql://u@h/x") == "postgresql://u@h/x"


def test_a_mistyped_sqlite_uri_is_refused_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageError, match="no database at"):
        Database("sqlite:///file:typo.db?uri=true", create=False)
    assert not (tmp_path / "typo.db").exists()


def test_mistyped_sqlite_path_is_refused_not_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "typo.db"
    url = f"sqlite:///{path}"
    for argv in commands(url, tmp_path):
        if argv[:2] == ["db", "upgrade"]:
            continue
        code, _, err = cli(capsys, *argv)
        assert code == EXIT_DATABASE and f"no database at {path}" in err, (argv, err)
        assert not path.exists(), argv
    with pytest.raises(StorageError, match="no database at"):
        Database(url, create=False)
    assert not path.exists()
    code, out, _ = cli(capsys, "db", "upgrade", "--db", url)  # the way to start one
    assert code == EXIT_OK and "(empty) -> " in out and path.exists()
    assert cli(capsys, "db", "status", "--db", url)[0] == EXIT_OK


def test_prune_keep_days_beyond_a_century_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    db = Database(sqlite_url)
    write_two_runs(db)
    for days in ("1000000", str(MAX_KEEP_DAYS + 1), "-1", "ten"):
        code, _, err = cli(capsys, "db", "prune", "--db", sqlite_url, "--keep-days", days)
        assert code == EXIT_USAGE and "--keep-days" in err and "Traceback" not in err, err
    with pytest.raises(ValueError, match=str(MAX_KEEP_DAYS)):
        db.prune(1_000_000)
    kept = db.prune(MAX_KEEP_DAYS)  # the largest allowed value works
    assert kept.bodies_deleted == 0 and kept.cutoff.year < 2000
    db.dispose()
    code, out, _ = cli(capsys, "db", "prune", "--db", sqlite_url, "--keep-days", "0")
    assert code == EXIT_OK and "1 page bodies deleted" in out


def test_a_schema_from_a_newer_hijackwatch_is_refused_by_every_command(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    db = Database(db_url)
    write_two_runs(db)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": FUTURE_REVISION})
    for argv in (["db", "upgrade"], ["report"], ["db", "prune", "--keep-days", "1"]):
        code, _, err = cli(capsys, *argv, "--db", db_url)
        assert code == EXIT_DATABASE, (argv, err)
        assert f"at schema revision {FUTURE_REVISION}, newer than this hijackwatch" in err
        assert err.strip().endswith("upgrade hijackwatch") and "Traceback" not in err, err
    code, out, _ = cli(capsys, "db", "status", "--db", db_url)
    assert code == EXIT_DATABASE and "upgrade hijackwatch" in out and "db upgrade" not in out
    assert db.current_revision() == FUTURE_REVISION  # left as it was
    db.dispose()


def test_report_for_a_run_that_does_not_exist_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    db = Database(db_url)
    db.upgrade()
    code, _, err = cli(capsys, "report", "--db", db_url, "--run", "1")
    assert code == EXIT_USAGE and "no run 1 in" in err and "no runs yet" in err, err
    write_two_runs(db)
    db.dispose()
    for run in ("99", "3", str(2**70)):  # 2**70: beyond any integer column
        code, _, err = cli(capsys, "report", "--db", db_url, "--run", run)
        assert code == EXIT_USAGE and f"no run {run} in" in err, err
        assert "the latest run is 2" in err and "Traceback" not in err, err
    for run in ("0", "-1", "two"):
        assert cli(capsys, "report", "--db", db_url, "--run", run)[0] == EXIT_USAGE
    code, out, err = cli(capsys, "report", "--db", db_url, "--run", "1", "--format", "json")
    assert code == EXIT_OK and '"run_id": 1' in out, err


def test_a_server_that_goes_silent_ends_every_command_at_its_timeout(
    tmp_path: Path, pg_url: str
) -> None:
    """A scheduled report or prune against a stalled server exits 3 at --timeout; it
    used to wait forever. Run as a subprocess: the old code hung, and must fail, not hang."""
    db = Database(pg_url)
    write_two_runs(db)
    db.dispose()
    for argv in commands("URL", tmp_path):
        proxy = pg_proxy(pg_url)
        proxy.stall(after=b"alembic_version")  # connected, then silent: no error ever comes
        argv = [proxy.url(pg_url) if a == "URL" else a for a in argv]
        started = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "hijackwatch", *argv, "--timeout", "2"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            proxy.stop()
        assert done.returncode == EXIT_DATABASE, (argv, done.stderr)
        assert "did not finish within 2s (--timeout" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        assert time.monotonic() - started < 30, argv
    # control: the same report straight to the server, with no deadline at all
    argv = ["report", "--db", pg_url, "--only", "all", "--format", "json", "--timeout", "0"]
    done = subprocess.run(
        [sys.executable, "-m", "hijackwatch", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == EXIT_OK and SITE_A in done.stdout, done.stderr


def test_import_spool_of_a_file_that_is_not_a_spool_file_is_bad_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sqlite_url: str
) -> None:
    """It was exit 3, "the database cannot be used", for a mistaken file name."""
    files = {
        "seeds.txt": b"example.edu.cn\n",
        "other.jsonl": b'{"type": "page", "page": {}}\n',  # no run header
        "list.jsonl": b"[1, 2]\n",
        "image.png": b"\x89PNG\r\n\x1a\n\xff\xfe" + bytes(range(256)),
    }
    assert cli(capsys, "db", "upgrade", "--db", sqlite_url)[0] == EXIT_OK
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        code, _, err = cli(capsys, "db", "import-spool", str(path), "--db", sqlite_url)
        assert code == EXIT_USAGE, (name, err)
        assert str(path) in err or "utf-8" in err, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_an_unknown_schema_revision_is_not_called_newer(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    """``0000_old`` was "newer than this hijackwatch; upgrade hijackwatch"."""
    db = Database(db_url)
    write_two_runs(db)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000_old'"))
    for argv in (["db", "upgrade"], ["report"]):
        code, _, err = cli(capsys, *argv, "--db", db_url)
        assert code == EXIT_DATABASE, (argv, err)
        assert "unknown schema revision 0000_old" in err and "newer" not in err, err
    code, out, _ = cli(capsys, "db", "status", "--db", db_url)
    assert code == EXIT_DATABASE and "unknown revision" in out and "newer" not in out
    assert db.current_revision() == "0000_old"  # left as it was
    db.dispose()


def test_import_spool_sends_the_alert_the_crawl_could_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crawl that could not settle its run (the database was away at its end) sent no
    alert: the import that settles the run sends it with --notify (QA: lost for good)."""
    from hijackwatch.storage import page_record
    from hijackwatch.storage.spool import Spool, finish_entry
    from tests.test_alerts import Receiver
    from tests.test_storage import RUN1, RUN1_AT, page_items

    monkeypatch.setenv("HIJACKWATCH_LOOPBACK_ONLY", "1")
    url = f"sqlite:///{tmp_path / 'hw.db'}"
    db = Database(url)
    db.ensure_schema()  # the crawl had created it before the database went away
    db.dispose()
    spool = Spool(tmp_path, {"run_id": 1, "started_at": RUN1_AT.isoformat(), "seeds": ["x"]})
    path = spool.write_pages(
        [page_record(i) for i in page_items(RUN1)], finish_entry(1, "interrupted", "shutdown")
    )
    with Receiver() as receiver:
        code = main(["db", "import-spool", str(path), "--db", url, "--notify", receiver.url])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "imported into run 1 (interrupted)" in out and "run 1: alert sent" in out
    (alert,) = receiver.calls
    assert alert["run_id"] == 1 and alert["new_hijacked_sites"] == [SITE_A]
