"""Spool files: where a run's pages go when the database cannot take them.

One JSON object per line: a ``run`` header first (run id, start time, seeds), then
``page`` records, optionally a ``finish`` record. ``hijackwatch db import-spool FILE``
loads it later (Database.import_spool).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hijackwatch.storage.engine import sqlite_file

log = logging.getLogger(__name__)


def default_spool_dir(db_url: str) -> Path:
    """Next to a SQLite file, else the working directory."""
    path = sqlite_file(db_url)
    return path.parent if path is not None else Path.cwd()


class Spool:
    """Append-only spool for one run; created on first use, thread-safe."""

    def __init__(self, directory: Path, run_header: dict[str, Any], create: bool = False) -> None:
        self.directory = directory
        self.create = create  # only a configured directory is created (not a vanished DB dir)
        self.header = run_header
        self.path: Path | None = None
        self.pages = 0
        self._lock = threading.Lock()

    def _open_path(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"hijackwatch-spool-run{self.header.get('run_id')}-{stamp}.jsonl"
        for directory in (self.directory, Path(tempfile.gettempdir())):
            try:
                if self.create or directory != self.directory:
                    directory.mkdir(parents=True, exist_ok=True)
                path = directory / name
                existed = path.exists()
                try:
                    with path.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps({"type": "run", **self.header}) + "\n")
                except OSError:
                    if not existed:  # a disk that is full: no empty file left behind
                        with contextlib.suppress(OSError):
                            path.unlink()
                    raise
                return path
            except OSError as exc:
                log.error("cannot write spool file in %s: %s", directory, exc)
        raise OSError("no writable directory for the spool file")

    def write(self, entries: list[dict[str, Any]]) -> Path:
        """Append entries (dicts with a ``type``); returns the spool file path.

        All or nothing: on OSError (no writable directory, disk full) nothing of
        ``entries`` stays in the file, so the caller can keep them and try again. Text
        that UTF-8 cannot hold (a lone surrogate) fails here, before the file is touched.
        """
        data = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in entries)
        data.encode("utf-8")  # UnicodeEncodeError now, not halfway through the append
        with self._lock:
            if self.path is None:
                self.path = self._open_path()
            path = self.path
            size = None
            try:
                with path.open("a", encoding="utf-8") as fh:
                    size = fh.tell()
                    fh.write(data)
                    fh.flush()
            except OSError:
                if size is not None:  # no half-written line for import-spool to choke on
                    with contextlib.suppress(OSError):
                        os.truncate(path, size)
                else:  # the file cannot be opened any more: start a new one next time
                    self.path = None
                raise
            self.pages += sum(1 for e in entries if e.get("type") == "page")
            return path

    def write_pages(
        self, records: list[dict[str, Any]], finish: dict[str, Any] | None = None
    ) -> Path:
        """Page records, then the run's ``finish`` record (see finish_entry) if given."""
        entries = [{"type": "page", "page": r} for r in records]
        return self.write(entries if finish is None else [*entries, finish])


def finish_entry(run_id: int, status: str, reason: str | None) -> dict[str, Any]:
    """The record of how a run ended, for a spool file (imported as the run's end)."""
    return {
        "type": "finish",
        "run_id": run_id,
        "status": status,
        "reason": reason,
        "finished_at": datetime.now(UTC).isoformat(),
    }
