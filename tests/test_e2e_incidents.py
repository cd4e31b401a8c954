"""Two scheduled runs of the fixture web: one site cleaned, another newly hijacked.

The real CLI crawls over real HTTP into a real database twice; between the runs the
fixture web changes (``FixtureWeb.switch``). Incidents, reports in every format and
webhook calls must tell the story.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hijackwatch.demo import FixtureWeb
from tests.test_e2e_crawl import FAST, run_cli


class Receiver:
    """A local webhook endpoint that records every JSON body it is sent."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                outer.calls.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def site_incidents(db_url: str) -> dict[str, list[tuple[int | None, int | None]]]:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.key, i.opened_run_id, i.closed_run_id FROM incidents i "
                "JOIN sites s ON s.id = i.site_id WHERE i.scope = 'site' ORDER BY i.id"
            )
        ).all()
    engine.dispose()
    out: dict[str, list[tuple[int | None, int | None]]] = {}
    for key, opened, closed in rows:
        out.setdefault(key, []).append((opened, closed))
    return out


def test_two_runs_tell_new_still_and_cleaned(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    with FixtureWeb() as web:
        seeds = tmp_path / "seeds.txt"
        web.write_seeds(str(seeds))
        key = {site.name: url.split("/")[2] for url, site in web.site_urls()}
        crawl = [
            "crawl",
            str(seeds),
            "--db",
            db_url,
            "-q",
            "--notify",
            receiver.url,
            *FAST,
            "-s",
            "HIJACKWATCH_PROFILE_MODE=off",
        ]

        first = run_cli(*crawl, "--fail-on-new")
        assert first.returncode == 1, first.stderr[-2000:]  # new hijacks found
        web.switch(2)  # metro-news cleaned, county-gov hijacked
        second = run_cli(*crawl)
        assert second.returncode == 0, second.stderr[-2000:]

    incidents = site_incidents(db_url)
    assert incidents[key["metro-news"]] == [(1, 2)]  # hijacked in run 1, cleaned in run 2
    assert incidents[key["kampus-id"]] == [(1, None)]  # still hijacked
    assert incidents[key["county-gov"]] == [(2, None)]  # newly hijacked
    assert key["city-university"] not in incidents and key["family-firm"] not in incidents

    # one webhook call per run that changed something, naming the sites
    assert len(receiver.calls) == 2
    first_call, second_call = (json.dumps(call) for call in receiver.calls)
    assert key["metro-news"] in first_call and key["kampus-id"] in first_call
    assert key["county-gov"] in second_call and key["metro-news"] in second_call

    # the report, in every format, shows what is hijacked now
    report = run_cli("report", "--db", db_url, "--format", "json")
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert key["county-gov"] in json.dumps(data) and key["kampus-id"] in json.dumps(data)
    assert key["city-university"] not in json.dumps(data)

    table = run_cli("report", "--db", db_url, "--format", "table")
    assert table.returncode == 0 and key["county-gov"] in table.stdout

    rows = list(
        csv.DictReader(io.StringIO(run_cli("report", "--db", db_url, "--format", "csv").stdout))
    )
    assert any(key["county-gov"] in json.dumps(row) for row in rows)
    assert not any(key["city-university"] in json.dumps(row) for row in rows)

    out = tmp_path / "report.html"
    html_run = run_cli("report", "--db", db_url, "--format", "html", "--output", str(out))
    assert html_run.returncode == 0, html_run.stderr
    page = out.read_text(encoding="utf-8")
    assert key["county-gov"] in page and "slot-gacor-maxwin.html" in page
    assert "<script" not in page.lower()

    # --only new: only the run-2 newcomer
    new_only = run_cli("report", "--db", db_url, "--format", "json", "--only", "new")
    assert key["county-gov"] in new_only.stdout and key["kampus-id"] not in new_only.stdout
