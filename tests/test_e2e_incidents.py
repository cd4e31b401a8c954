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

from hijackwatch.demo import FixtureWeb
from tests.conftest import db_rows
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
    rows = db_rows(
        db_url,
        "SELECT s.key, i.opened_run_id, i.closed_run_id FROM incidents i "
        "JOIN sites s ON s.id = i.site_id WHERE i.scope = 'site' ORDER BY i.id",
    )
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


# -- "cleaned" must mean the hijacked page was seen again and is clean ------------------

SPAM_TITLE = "澳门金沙官网_威尼斯人娱乐城_真人百家乐在线_博彩"
DENIED = (
    b"<html><head><title>403 Forbidden</title></head><body><h1>Access denied</h1></body></html>"
)


def _page(title: str, body: str) -> bytes:
    return (
        f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>"
    ).encode()


class TownHall:
    """A one-site web whose news page gets hijacked, then hides, is unlinked, is cleaned.

    ``block`` answers every URL (robots.txt included) with that status and "Access
    denied"; ``news`` is ``hijacked``, ``clean`` or ``gone`` (404); ``linked`` says
    whether the homepage still links the news page.
    """

    def __init__(self) -> None:
        self.block: int | None = None
        self.news = "hijacked"
        self.linked = True
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                status, body = outer.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.key = f"127.0.0.1:{self.server.server_address[1]}"
        self.news_url = f"http://{self.key}/news.html"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str) -> tuple[int, bytes]:
        if self.block:
            return self.block, DENIED
        if path == "/":
            link = "<a href='/news.html'>news</a>" if self.linked else ""
            text = "<p>Town hall of the river valley. Opening hours and services.</p>"
            return 200, _page("Town hall", text + link + "<a href='/about.html'>about</a>")
        if path == "/about.html":
            return 200, _page("About", "<p>The town hall is open from nine to five.</p>")
        if path == "/news.html" and self.news == "hijacked":
            spam = "".join(
                f"<a href='http://bc{i}.example/'>真人百家乐 娱乐城 澳门</a>" for i in range(30)
            )
            return 200, _page(
                SPAM_TITLE, f"<p>Town news.</p><div style='display:none'>{spam}</div>"
            )
        if path == "/news.html" and self.news == "clean":
            return 200, _page("Town news", "<p>The bridge reopens on Monday after repairs.</p>")
        return 404, _page("Not found", "<p>No such page.</p>")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def town() -> Iterator[TownHall]:
    web = TownHall()
    yield web
    web.close()


def incident_rows(db_url: str) -> list[tuple[str | None, int | None, int | None]]:
    """(url, opened_run_id, closed_run_id) of every incident, site scope first."""
    sql = "SELECT url, opened_run_id, closed_run_id FROM incidents ORDER BY scope DESC, id"
    return [tuple(row) for row in db_rows(db_url, sql)]


def crawl_town(town: TownHall, db_url: str, tmp_path: Path, receiver: Receiver, *extra: str) -> str:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"http://{town.key}/\n", encoding="utf-8")
    result = run_cli(
        "crawl",
        str(seeds),
        "--db",
        db_url,
        "--notify",
        receiver.url,
        *FAST,
        "-s",
        "HIJACKWATCH_PROFILE_MODE=off",
        *extra,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout + result.stderr


HIDDEN = {
    "403": ({"block": 403}, ()),  # "Access denied" for every URL
    "503": ({"block": 503}, ()),  # the server is down
    "max-pages": ({"news": "clean"}, ("--max-pages", "1")),  # the crawl stops short
    # clean, but nothing links it and open incidents are not rechecked (test_recheck.py
    # has the default, which fetches them again)
    "unlinked": ({"news": "clean", "linked": False}, ("-s", "HIJACKWATCH_RECHECK_MAX=0")),
}


@pytest.mark.parametrize("hidden", list(HIDDEN))
def test_hijacked_page_not_seen_again_is_not_cleaned(
    hidden: str, db_url: str, tmp_path: Path, receiver: Receiver, town: TownHall
) -> None:
    """A run that could not see the hijacked page again closes nothing, sends nothing."""
    crawl_town(town, db_url, tmp_path, receiver)
    opened = [(None, 1, None), (town.news_url, 1, None)]
    assert incident_rows(db_url) == opened
    assert len(receiver.calls) == 1 and receiver.calls[0]["new_hijacked_sites"] == [town.key]

    changes, options = HIDDEN[hidden]
    for name, value in changes.items():
        setattr(town, name, value)
    crawl_town(town, db_url, tmp_path, receiver, *options)
    assert incident_rows(db_url) == opened
    assert len(receiver.calls) == 1  # no "cleaned" webhook
    if hidden != "unlinked":
        return
    town.linked = True  # run 3: fetched again, answered 200, clean
    crawl_town(town, db_url, tmp_path, receiver)
    assert incident_rows(db_url) == [(None, 1, 3), (town.news_url, 1, 3)]
    assert len(receiver.calls) == 2
    assert receiver.calls[-1]["cleaned_sites"] == [town.key]
    assert receiver.calls[-1]["cleaned_pages"] == [town.news_url]


def test_deleted_hijacked_page_is_cleaned_when_the_site_answers(
    db_url: str, tmp_path: Path, receiver: Receiver, town: TownHall
) -> None:
    """A 404 for the hijacked URL means the parasite page was deleted: cleaned, but only
    when the same run saw the site answer 2xx (a site answering 404 everywhere is not)."""
    crawl_town(town, db_url, tmp_path, receiver)
    town.block = 404  # run 2: every URL, homepage included, answers 404
    crawl_town(town, db_url, tmp_path, receiver)
    assert incident_rows(db_url) == [(None, 1, None), (town.news_url, 1, None)]
    assert len(receiver.calls) == 1

    town.block = None
    town.news = "gone"  # run 3: the homepage still links it; the page answers 404
    crawl_town(town, db_url, tmp_path, receiver)
    assert incident_rows(db_url) == [(None, 1, 3), (town.news_url, 1, 3)]
    assert len(receiver.calls) == 2 and receiver.calls[-1]["cleaned_sites"] == [town.key]
