"""Reports from the two-run scenario in every format; hostile page text stays inert."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from hijackwatch.report import build, build_report, render
from hijackwatch.report.text import CSV_CELL_MAX, csv_cell
from hijackwatch.storage import Database
from hijackwatch.storage.engine import redact
from tests.conftest import CHROMIUM, unavailable
from tests.test_storage import (
    HOSTILE_EVIDENCE,
    HOSTILE_TITLE,
    RUN1_AT,
    RUN2_AT,
    SITE_A,
    SITE_B,
    write_run,
    write_two_runs,
)

REPO = Path(__file__).resolve().parent.parent
SLOT_URL = f"http://{SITE_B}/news/slot-gacor.html"
QUERIES = REPO / "docs" / "queries.sql"

# Everything an attacker could put in a page, aimed at whoever opens the HTML report.
EVIL_SITE = "evil.example"
PAYLOAD = "window.__pwned = (window.__pwned || 0) + 1; alert(1)"
EVIL: list[dict[str, Any]] = [
    {
        "url": f'http://{EVIL_SITE}/"><script>{PAYLOAD}</script>',
        "final_url": f"javascript:{PAYLOAD}",
        "site": EVIL_SITE,
        "status": 200,
        "verdict": "hijacked",
        "score": 99.0,
        "title": f'<script>{PAYLOAD}</script><img src=x onerror="{PAYLOAD}">',
        "findings": [
            {
                "kind": "script_redirect",
                "severity": "high",
                "evidence": f'</div></td><svg onload="{PAYLOAD}">'
                f'<iframe src="javascript:{PAYLOAD}">',
            },
            {
                "kind": "hidden_links",
                "severity": "high",
                "evidence": f"<a href=javascript:{PAYLOAD}>x",
            },
        ],
    },
    {
        "url": f"javascript:{PAYLOAD}",
        "site": EVIL_SITE,
        "status": 200,
        "profile": "googlebot",
        "verdict": "hijacked",
        "score": 80.0,
        "title": "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\ \x1b[31mred",
        "findings": [
            {"kind": "title_injection", "severity": "high", "evidence": "=cmd|' /C calc'!A0"}
        ],
    },
]


@pytest.fixture
def scenario_db(db_url: str) -> Database:
    db = Database(db_url)
    write_two_runs(db)
    return db


def test_latest_report_shows_what_is_hijacked_now(scenario_db: Database) -> None:
    report = build_report(scenario_db)
    assert [s.site for s in report.sites] == [SITE_B]
    site = report.sites[0]
    assert site.status == "hijacked" and site.new
    assert site.hijacked_since == RUN2_AT and site.incident_run_id == 2
    assert [p.url for p in site.page_entries] == [SLOT_URL]
    page = site.page_entries[0]
    assert page.verdict == "hijacked"  # hijacked for the browser, suspicious for search visitors
    assert sorted((f.profile, f.verdict) for f in page.fetches) == [
        ("browser", "hijacked"),
        ("search-visitor", "suspicious"),
    ]
    assert [(f.kind, f.evidence) for f in page.findings] == [("hidden_links", "slot gacor x 40")]

    everything = build_report(scenario_db, only="all")
    cleaned = {s.site: s for s in everything.sites}[SITE_A]
    assert cleaned.status == "clean" and cleaned.cleaned_at == RUN2_AT
    assert cleaned.hijacked_since is None and cleaned.page_entries == []
    assert [s.site for s in build_report(scenario_db, only="new").sites] == [SITE_B]
    assert build_report(scenario_db, site=SITE_A).sites == []
    assert build_report(scenario_db, since=RUN2_AT + timedelta(days=1)).sites == []
    assert [s.site for s in build_report(scenario_db, only="new", since="2026-11-20").sites] == [
        SITE_B
    ]


def test_report_as_of_an_earlier_run(scenario_db: Database) -> None:
    report = build_report(scenario_db, run_id=1, only="all")
    by_site = {s.site: s for s in report.sites}
    assert by_site[SITE_A].status == "hijacked" and by_site[SITE_A].new
    assert by_site[SITE_A].hijacked_since is not None
    assert by_site[SITE_A].hijacked_since.date().isoformat() == "2026-11-03"
    assert by_site[SITE_B].status == "clean"
    page = by_site[SITE_A].page_entries[0]
    assert page.title == HOSTILE_TITLE  # the hijacked profile's title, not the clean one's
    assert {f.kind for f in page.findings} == {"title_injection", "ua_cloaking"}


def test_pages_per_site_capped_by_url_not_by_fetch(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap counts distinct URLs: every profile's fetch of a kept URL stays with it."""
    monkeypatch.setattr(build, "MAX_PAGES_PER_SITE", 2)
    rows = [
        {
            "url": f"http://{SITE_B}/p{n}",
            "site": SITE_B,
            "status": 200,
            "verdict": verdict,
            "profile": profile,
            "score": float(n),
        }
        for n in range(3)
        for profile, verdict in (("browser", "hijacked"), ("googlebot", "suspicious"))
    ]
    db = Database(sqlite_url)
    db.ensure_schema()
    write_run(db, rows, RUN2_AT)
    site = build_report(db).sites[0]
    db.dispose()
    assert site.pages_truncated
    assert [p.url for p in site.page_entries] == [f"http://{SITE_B}/p1", f"http://{SITE_B}/p0"]
    assert all(len(p.fetches) == 2 for p in site.page_entries)


def problem_sites(first: int, count: int) -> list[dict[str, Any]]:
    """``count`` sites, each with a clean homepage and two hijacked pages seen by two profiles."""
    rows: list[dict[str, Any]] = []
    for n in range(first, first + count):
        site = f"s{n}.example"
        rows.append({"url": f"http://{site}/", "site": site, "status": 200, "verdict": "clean"})
        for page in ("slot.html", "casino.html"):
            for profile, verdict in (("browser", "suspicious"), ("googlebot", "hijacked")):
                rows.append(
                    {
                        "url": f"http://{site}/{page}",
                        "site": site,
                        "status": 200,
                        "profile": profile,
                        "verdict": verdict,
                        "score": 70.0,
                        "findings": [
                            {"kind": "hidden_links", "severity": "high", "evidence": page}
                        ],
                    }
                )
    return rows


def statements_for(db: Database, **options: Any) -> tuple[int, list[Any]]:
    """SQL statements the database saw while one report was built, and its sites."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        sites = build_report(db, **options).sites
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen), sites


def test_report_queries_do_not_grow_with_the_sites(db_url: str) -> None:
    """Portfolios have thousands of sites: no query per site (N+1), latest or per run."""
    db = Database(db_url)
    db.ensure_schema()
    write_run(db, problem_sites(0, 3), RUN1_AT)
    few, few_sites = statements_for(db, only="all")
    few_run, _ = statements_for(db, run_id=1, only="all")
    write_run(db, problem_sites(3, 30), RUN2_AT)  # the latest report: 3 sites of run 1, 30 of 2
    many, many_sites = statements_for(db, only="all")
    many_run, run_sites = statements_for(db, run_id=2, only="all")
    db.dispose()
    assert len(few_sites) == 3 and len(many_sites) == 33 and len(run_sites) == 30
    for site in many_sites:
        assert [p.url.rsplit("/", 1)[1] for p in site.page_entries] == ["casino.html", "slot.html"]
        assert all(len(p.fetches) == 2 and p.verdict == "hijacked" for p in site.page_entries)
    assert many == few and many_run == few_run, (few, many, few_run, many_run)


def test_truncation_hint_points_to_what_lists_every_page(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CSV and JSON stop at the same per-site limit as the table: the hint names SQL instead."""
    monkeypatch.setattr(build, "MAX_PAGES_PER_SITE", 1)
    db = Database(sqlite_url)
    db.ensure_schema()
    write_run(db, problem_sites(0, 1), RUN2_AT)
    report = build_report(db)
    with db.engine.connect() as conn:
        query = QUERIES.read_text(encoding="utf-8").split("-- name: problem_pages_latest")
        listed = {r.url for r in conn.execute(text(query[1].split(";")[0]))}
    db.dispose()
    assert report.sites[0].pages_truncated
    assert len(json.loads(render(report, "json"))["sites"][0]["page_entries"]) == 1
    assert [r["pages_truncated"] for r in csv.DictReader(io.StringIO(render(report, "csv")))] == [
        "yes"
    ]
    assert len(listed) == 2  # the query the hint names lists every problem page
    for fmt in ("table", "html"):
        shown = " ".join(render(report, fmt, width=300).split())
        assert "more hijacked or suspicious pages than the 1 per site" in shown
        assert "problem_pages_latest query in docs/queries.sql" in shown
        assert "csv/json" not in shown


def test_every_format_says_a_site_was_cut_at_the_real_limit(db_url: str) -> None:
    """One site with more problem pages than a report lists (the real limit, 500): JSON's
    pages_truncated, the CSV column of that name, the table and the HTML all say so, and
    only for that site (a CSV reader could not tell a cut list from a complete one)."""
    limit = build.MAX_PAGES_PER_SITE
    assert limit == 500
    rows = [
        {
            "url": f"http://{SITE_B}/spam/{n:04d}.html",
            "site": SITE_B,
            "status": 200,
            "verdict": "hijacked",
            "score": 90.0,
            "findings": [{"kind": "hidden_links", "severity": "high", "evidence": f"slot {n}"}],
        }
        for n in range(limit + 1)
    ]
    db = Database(db_url)
    db.ensure_schema()
    write_run(db, rows + problem_sites(0, 1), RUN2_AT)  # s0.example: two pages, all listed
    report = build_report(db)
    db.dispose()
    by_site = {s.site: s for s in report.sites}
    assert set(by_site) == {SITE_B, "s0.example"}
    cut = by_site[SITE_B]
    assert cut.pages_truncated and not by_site["s0.example"].pages_truncated
    assert cut.hijacked_pages == limit + 1
    assert sorted(p.url for p in cut.page_entries) == [r["url"] for r in rows[:limit]]

    sites = {s["site"]: s for s in json.loads(render(report, "json"))["sites"]}
    assert sites[SITE_B]["pages_truncated"] is True
    assert sites["s0.example"]["pages_truncated"] is False
    assert len(sites[SITE_B]["page_entries"]) == limit

    flags: dict[str, set[str]] = {}
    urls: dict[str, set[str]] = {}
    for row in csv.DictReader(io.StringIO(render(report, "csv"))):
        flags.setdefault(row["site"], set()).add(row["pages_truncated"])
        urls.setdefault(row["site"], set()).add(row["url"])
    assert flags == {SITE_B: {"yes"}, "s0.example": {""}}
    assert len(urls[SITE_B]) == limit and len(urls["s0.example"]) == 2

    note = "Only the first 500 hijacked or suspicious pages (by URL) are listed"
    table = " ".join(render(report, "table", width=300).split())
    assert table.count(note) == 1
    assert table.index(note) > table.index(f"{SITE_B}/spam/0499.html")  # under its pages
    assert "more hijacked or suspicious pages than the 500 per site" in table
    page = render(report, "html")
    assert page.count(note) == 1 and "problem_pages_latest query" in page
    section = page[page.index(f"<h2>{SITE_B} ") :]
    assert section.index(note) < section.index("</section>")  # in the cut site's section


def test_all_four_formats(scenario_db: Database) -> None:
    report = build_report(scenario_db, only="all")
    data = json.loads(render(report, "json"))
    assert [s["site"] for s in data["sites"]] == [SITE_B, SITE_A]
    assert data["sites"][0]["hijacked_since"].startswith("2026-11-20")
    assert data["sites"][1]["cleaned_at"].startswith("2026-11-20")
    assert data["counts"]["hijacked_sites"] == 1 and data["counts"]["cleaned_sites"] == 1

    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert [(r["site"], r["site_status"], r["url"], r["finding_kind"]) for r in rows] == [
        (SITE_B, "hijacked", SLOT_URL, "hidden_links"),
        (SITE_A, "clean", "", ""),
    ]
    assert list(rows[0]) == [
        "site",
        "site_status",
        "new",
        "hijacked_since",
        "cleaned_at",
        "run_id",
        "crawled_at",
        "url",
        "page_verdict",
        "score",
        "profiles",
        "title",
        "finding_kind",
        "severity",
        "evidence",
        "pages_truncated",  # added last: the columns before keep their places
        "unconfirmed",  # likewise
        "site_error",
        "previously_cleaned_at",
    ]
    assert [r["pages_truncated"] for r in rows] == ["", ""]  # complete lists
    assert rows[0]["evidence"] == "slot gacor x 40" and rows[0]["new"] == "yes"

    table = render(report, "table", width=160)
    assert f"{SITE_B}: hijacked, since 2026-11-20 (run 2), 1 hijacked of 2 pages" in table
    assert "cleaned 2026-11-20" in table and SLOT_URL in table

    page = render(report, "html")
    assert page.startswith("<!DOCTYPE html>") and SLOT_URL in page
    assert "hijacked, since 2026-11-20" in page
    assert "<script" not in page.lower() and "http-equiv" in page
    assert "Only the first" not in page and "Only the first" not in table  # nothing was cut


def test_hostile_text_is_escaped_in_text_formats(scenario_db: Database) -> None:
    report = build_report(scenario_db, run_id=1)
    table = render(report, "table", width=300)
    assert "[bold red]x[/]" in table  # shown literally, not taken as rich markup
    assert "<script>window.__pwned=1</script>" in table
    write_run(scenario_db, EVIL, RUN2_AT + timedelta(days=1))
    evil = build_report(scenario_db, site=EVIL_SITE)
    table = render(evil, "table", width=300, color=True)
    assert "\x1b]8;;http://evil" not in table and "\x1b[31mred" not in table
    rows = list(csv.DictReader(io.StringIO(render(evil, "csv"))))
    assert "'=cmd|' /C calc'!A0" in [r["evidence"] for r in rows]
    assert all("\x1b" not in value for r in rows for value in r.values())
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_cell("+1") == "'+1"
    assert csv_cell(" \n=1+1") == "' \n=1+1" and csv_cell("\x00@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("plain") == "plain"
    assert json.loads(render(evil, "json"))["sites"][0]["page_entries"][0]["title"].startswith("<")


def test_html_escapes_and_links_only_http(scenario_db: Database) -> None:
    write_run(scenario_db, EVIL, RUN2_AT + timedelta(days=1))
    page = render(build_report(scenario_db, site=EVIL_SITE), "html")
    lowered = page.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<svg" not in lowered
    assert "<iframe" not in lowered and 'href="javascript' not in lowered
    assert "&lt;script&gt;" in page and HOSTILE_EVIDENCE not in page
    assert 'href="http://evil.example/&quot;&gt;&lt;script&gt;' in page  # escaped http link


def test_html_report_executes_nothing_in_chromium(scenario_db: Database, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        unavailable("/usr/bin/chromium not installed (apt)")
    from playwright.sync_api import sync_playwright

    write_run(scenario_db, EVIL, RUN2_AT + timedelta(days=1))
    out = tmp_path / "report.html"
    out.write_text(render(build_report(scenario_db, only="all"), "html"), encoding="utf-8")
    dialogs: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless=new"]
        )
        try:
            page = browser.new_page(java_script_enabled=True)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(out.as_uri())
            page.wait_for_timeout(500)
            for link in page.query_selector_all("a"):  # hovering links must not run code
                link.evaluate("a => a.dispatchEvent(new MouseEvent('mouseover'))")
            page.wait_for_timeout(200)
            pwned = page.evaluate("() => window.__pwned === undefined ? null : window.__pwned")
            scripts = page.evaluate("() => document.scripts.length")
            handlers = page.evaluate(
                "() => [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])"
                ".filter(a => a.name.startsWith('on')).length"
            )
            hrefs = page.evaluate("() => [...document.querySelectorAll('[href]')].map(e => e.href)")
            embedded = page.evaluate(
                "() => document.querySelectorAll('img, svg, iframe, object, embed').length"
            )
            text_shown = page.inner_text("body")
        finally:
            browser.close()
    assert pwned is None and dialogs == []
    assert scripts == 0 and handlers == 0 and embedded == 0
    assert hrefs and all(h.startswith(("http://", "https://")) for h in hrefs), hrefs
    assert requests == [out.as_uri()]  # self-contained: nothing else loaded
    assert f"<script>{PAYLOAD}</script>" in text_shown  # shown as text for the analyst
    assert f"javascript:{PAYLOAD}" in text_shown


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hijackwatch", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_report_cli(scenario_db: Database, tmp_path: Path) -> None:
    url = scenario_db.url
    result = run_cli("report", "--db", url, "--format", "json", "--only", "all")
    assert result.returncode == 0, result.stderr
    assert [s["site"] for s in json.loads(result.stdout)["sites"]] == [SITE_B, SITE_A]
    table = run_cli("report", "--db", url)
    assert table.returncode == 0 and SITE_B in table.stdout and SITE_A not in table.stdout
    out = tmp_path / "r.html"
    html_run = run_cli("report", "--db", url, "--format", "html", "--output", str(out))
    assert html_run.returncode == 0 and SLOT_URL in out.read_text(encoding="utf-8")
    missing = run_cli("report", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert missing.returncode == 3 and "no database" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    assert run_cli("report", "--db", url, "--run", "99").returncode == 2  # no such run
    assert run_cli("report", "--db", url, "--since", "yesterday").returncode == 2


def test_db_cli_upgrade_status_prune(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    first = run_cli("db", "upgrade", "--db", url)
    assert first.returncode == 0 and "(empty) -> 0002_site_runs" in first.stdout
    assert "already current" in run_cli("db", "upgrade", "--db", url).stdout
    db = Database(url)
    write_two_runs(db)
    db.dispose()
    status = run_cli("db", "status", "--db", url)
    assert status.returncode == 0 and "run     2" in status.stdout
    pruned = run_cli("db", "prune", "--db", url, "--keep-days", "0")
    assert pruned.returncode == 0 and "1 page bodies deleted, 3 finding" in pruned.stdout


def test_table_groups_profiles_by_verdict() -> None:
    """Cloaking reads at a glance: who got the spam and who did not; agreement in one line."""
    from hijackwatch.report.build import ProfileFetch
    from hijackwatch.report.text import profiles_cell

    def fetch(profile: str, verdict: str) -> ProfileFetch:
        return ProfileFetch(profile, verdict, 200, 0.0)

    agree = [fetch(p, "hijacked") for p in ("browser", "googlebot", "baiduspider")]
    assert profiles_cell(agree) == "all 3: hijacked"
    cloaked = [
        fetch("browser", "clean"),
        fetch("googlebot", "hijacked"),
        fetch("baidu", "hijacked"),
    ]
    assert profiles_cell(cloaked) == "hijacked: googlebot, baidu\nclean: browser"
    assert profiles_cell([fetch("browser", "suspicious")]) == "suspicious: browser"


def test_json_escapes_terminal_controls_and_csv_cells_stay_readable(
    scenario_db: Database,
) -> None:
    """JSON kept C1 controls (\\x9b is CSI) and bidi overrides raw; a 260 KB title went
    into one CSV cell, past what spreadsheets hold and csv readers accept."""
    title = "Casino\x9b31m \u202egnp.exe\u2066 新葡京 " + "x" * 260_000
    rows = [
        {
            "url": "http://c1.example/",
            "site": "c1.example",
            "status": 200,
            "verdict": "hijacked",
            "score": 90.0,
            "title": title,
            "findings": [{"kind": "title_injection", "severity": "high", "evidence": title}],
        }
    ]
    write_run(scenario_db, rows, RUN2_AT + timedelta(days=1))
    report = build_report(scenario_db, site="c1.example")
    text = render(report, "json")
    assert not any(ch in text for ch in "\x9b\u202e\u2066") and "新葡京" in text
    assert "\\u009b31m" in text and "\\u202e" in text
    page = json.loads(text)["sites"][0]["page_entries"][0]
    assert page["title"].startswith("Casino\x9b31m \u202egnp")  # the data is unchanged
    cells = next(csv.DictReader(io.StringIO(render(report, "csv"))))  # default field limit
    assert 30_000 < len(cells["title"]) <= CSV_CELL_MAX and cells["title"].endswith("…")


def test_a_reader_that_stops_early_is_no_failure(scenario_db: Database) -> None:
    """`report | head` exited 1 (table) or with a traceback: a closed pipe ends quietly."""
    for fmt in ("table", "json"):
        argv = ["report", "--db", scenario_db.url, "--only", "all", "--format", fmt]
        proc = subprocess.Popen(
            [sys.executable, "-m", "hijackwatch", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before the first line
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, (fmt, err)
        assert "Traceback" not in err and "Error" not in err, err


def test_site_filter_takes_the_spelling_of_seeds_txt(scenario_db: Database) -> None:
    """`--site www.Example.org`, `--site 例子.中国` or a URL name the site key the
    database uses; a site never crawled is exit 2, not an empty "all clean" report."""
    idn = [{"url": "http://xn--fsqu00a.xn--fiqs8s/", "site": "xn--fsqu00a.xn--fiqs8s"}]
    write_run(scenario_db, [{**idn[0], "status": 200, "verdict": "clean"}], RUN2_AT)
    url = scenario_db.url
    for spelling, key in (
        (f"www.{SITE_A.upper()}", SITE_A),
        (f"https://www.{SITE_A}/some/page", SITE_A),
        ("例子.中国", "xn--fsqu00a.xn--fiqs8s"),
    ):
        result = run_cli(
            "report", "--db", url, "--only", "all", "--format", "json", "--site", spelling
        )
        assert result.returncode == 0, result.stderr
        assert [s["site"] for s in json.loads(result.stdout)["sites"]] == [key], spelling
    unknown = run_cli("report", "--db", url, "--site", "never-crawled.example")
    assert unknown.returncode == 2 and "no site never-crawled.example" in unknown.stderr


def test_a_site_still_under_an_open_incident_stays_in_the_hijacked_report(
    scenario_db: Database,
) -> None:
    """Hijacked in one run, answering 503 in the next: the incident stays open (the
    hijacked page was not seen clean), so the site must not drop out of the default
    report as "clean" (it did)."""
    site = "down.example"
    page = {"url": f"http://{site}/bet.html", "site": site}
    finding = {"kind": "title_injection", "severity": "high", "evidence": "slot gacor"}
    hijacked = {**page, "status": 200, "verdict": "hijacked", "score": 90.0}
    write_run(scenario_db, [{**hijacked, "findings": [finding]}], RUN2_AT + timedelta(days=1))
    write_run(
        scenario_db, [{**page, "status": 503, "verdict": "clean"}], RUN2_AT + timedelta(days=2)
    )
    report = build_report(scenario_db, site=site)  # default: hijacked sites
    (entry,) = report.sites
    # not seen (503 everywhere): error, never clean, and still hijacked? (README)
    assert entry.unconfirmed and entry.status == "error" and entry.hijacked_since is not None
    assert entry.error == "HTTP 503 on every page"
    table = render(report, "table", width=200)
    assert "hijacked? (error this run)" in table and "stays open" in table
    (row,) = csv.DictReader(io.StringIO(render(report, "csv")))
    assert row["unconfirmed"] == "yes" and row["site_status"] == "error"
    assert json.loads(render(report, "json"))["sites"][0]["unconfirmed"] is True
    assert "not confirmed by run" in render(report, "html")
    others = build_report(scenario_db)
    assert not any(s.unconfirmed for s in others.sites if s.site != site)


def test_counts_do_not_call_an_unconfirmed_site_cleaned(scenario_db: Database) -> None:
    """Hijacked, cleaned, hijacked again, then 503: the older closed incident gave the
    site a cleaned date, and the counts said "0 hijacked, 1 cleaned"."""
    site = "again.example"
    page = {"url": f"http://{site}/bet.html", "site": site}
    finding = {"kind": "title_injection", "severity": "high", "evidence": "slot gacor"}
    hijacked = {**page, "status": 200, "verdict": "hijacked", "score": 90.0}
    for day, row in enumerate(
        [
            {**hijacked, "findings": [finding]},
            {**page, "status": 200, "verdict": "clean"},
            {**hijacked, "findings": [finding]},
            {**page, "status": 503, "verdict": "clean"},
        ],
        start=1,
    ):
        write_run(scenario_db, [row], RUN2_AT + timedelta(days=day))
    report = build_report(scenario_db, site=site)
    (entry,) = report.sites
    assert entry.unconfirmed and entry.cleaned_at is None  # open: not cleaned (M4)
    assert entry.previously_cleaned_at is not None
    counts = json.loads(render(report, "json"))["counts"]
    assert counts["unconfirmed_sites"] == 1 and counts["cleaned_sites"] == 0


def test_a_site_that_could_not_be_read_says_why(scenario_db: Database) -> None:
    """Status error with no reason anywhere: the reason was only in pages.error."""
    site = "refused.example"
    rows = [
        {"url": f"http://{site}/", "site": site, "status": None, "error": "Connection refused"},
        {"url": f"http://{site}/a", "site": site, "status": None, "error": "Connection refused"},
        {"url": f"http://{site}/b", "site": site, "status": None, "error": "DNS lookup failed"},
    ]
    write_run(scenario_db, rows, RUN2_AT + timedelta(days=1))
    report = build_report(scenario_db, site=site, only="all")
    (entry,) = report.sites
    assert entry.status == "error" and entry.error == "Connection refused"
    assert f"{site}: could not be read: Connection refused" in render(report, "table", width=200)
    assert "could not be read: Connection refused" in render(report, "html")
    (row,) = csv.DictReader(io.StringIO(render(report, "csv")))
    assert row["site_error"] == "Connection refused"
    assert json.loads(render(report, "json"))["sites"][0]["error"] == "Connection refused"
    others = [s for s in build_report(scenario_db, only="all").sites if s.site != site]
    assert others and all(s.error is None for s in others)


def test_a_reopened_incident_has_no_cleaned_date(scenario_db: Database) -> None:
    """Hijacked, cleaned, hijacked again and open: JSON and CSV carried the earlier
    incident's cleaned_at, so a consumer closing tickets on it closed an open hijack."""
    site = "recur.example"
    page = {"url": f"http://{site}/bet.html", "site": site, "status": 200}
    finding = {"kind": "title_injection", "severity": "high", "evidence": "slot gacor"}
    hijacked = {**page, "verdict": "hijacked", "score": 90.0, "findings": [finding]}
    days = [RUN2_AT + timedelta(days=day) for day in (1, 2, 3)]
    runs = [
        write_run(scenario_db, [row], at)
        for row, at in zip([hijacked, {**page, "verdict": "clean"}, hijacked], days, strict=True)
    ]
    report = build_report(scenario_db, site=site)
    (entry,) = report.sites
    assert entry.status == "hijacked" and entry.new and entry.hijacked_since == days[2]
    assert entry.cleaned_at is None and entry.cleaned_run_id is None
    assert entry.previously_cleaned_at == days[1]
    assert entry.previously_cleaned_run_id == runs[1].run_id
    (data,) = json.loads(render(report, "json"))["sites"]
    assert data["cleaned_at"] is None and data["cleaned_run_id"] is None
    assert data["previously_cleaned_at"].startswith(days[1].date().isoformat())
    (row,) = csv.DictReader(io.StringIO(render(report, "csv")))
    assert row["cleaned_at"] == "" and row["previously_cleaned_at"].startswith(
        days[1].date().isoformat()
    )
    assert "again" in render(report, "table", width=200)
    assert "again: cleaned before on" in render(report, "html")
    # as of the run that cleaned it, the cleaning is the site's latest news
    (then,) = build_report(scenario_db, site=site, run_id=runs[1].run_id, only="all").sites
    assert then.cleaned_at == days[1] and then.previously_cleaned_at is None


# each site's only answers in its run; all of them but the last two were never "seen"
NOT_SEEN = {
    "503.example": ([{"status": 503, "verdict": "clean"}] * 2, "HTTP 503 on every page"),
    "waf.example": ([{"status": 403, "verdict": "clean"}], "HTTP 403 on every page"),
    "offsite.example": (
        [{"status": 302, "verdict": "clean", "final_url": "http://slot-gacor88.xyz/?ref=1"}],
        "redirects off-site to slot-gacor88.xyz",
    ),
    "wall.example": (
        [{"status": 200, "verdict": "clean", "final_url": "http://wall.example/login"}],
        "redirects to http://wall.example/login",
    ),
    "mixed.example": ([{"status": 503, "verdict": "clean"}, {"status": 200}], None),
    "https.example": ([{"status": 200, "final_url": "https://https.example/p0"}], None),
}


def test_a_site_never_seen_is_never_clean(scenario_db: Database) -> None:
    """No page answered 2xx and was analysed (503 or 403 with an HTML body, an off-site
    redirect, non-HTML error rows, a login wall): such a site was reported clean."""
    rows = [
        {"url": f"http://{site}/p{n}", "site": site, "verdict": "clean", **answer}
        for site, (answers, _reason) in NOT_SEEN.items()
        for n, answer in enumerate(answers)
    ]
    run = write_run(scenario_db, rows, RUN2_AT + timedelta(days=1))
    for report in (
        build_report(scenario_db, only="all"),
        build_report(scenario_db, only="all", run_id=run.run_id),
    ):
        got = {s.site: (s.status, s.error) for s in report.sites if s.site in NOT_SEEN}
        want = {
            site: ("error", reason) if reason else ("clean", None)
            for site, (_answers, reason) in NOT_SEEN.items()
        }
        assert got == want
    table = render(build_report(scenario_db, only="all"), "table", width=200)
    assert "offsite.example: could not be read: redirects off-site to slot-gacor88.xyz" in table


def test_json_names_the_database_by_its_masked_url(db_url: str) -> None:
    """It was a Python repr: "Database('postgresql+psycopg://postgres:***@…')"."""
    db = Database(db_url)
    write_two_runs(db)
    shown = json.loads(render(build_report(db), "json"))["database"]
    assert shown == redact(db_url) and not shown.startswith("Database(")
