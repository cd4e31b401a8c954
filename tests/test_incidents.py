"""Incident closing rules through the Database API, on a real SQLite file and PostgreSQL.

"Cleaned" is what operators act on (and what the webhook sends), so it must mean the
hijacked URL was fetched again, answered and analysed, never that the site hid from us.
The end-to-end crawls are in test_e2e_incidents.py; these pin answers a test web server
cannot easily give in one crawl (off-site redirects, analysis errors, mixed profiles).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hijackwatch.storage import Database
from tests.test_storage import RUN1_AT, incidents, write_run

SITE = "town.example.gov"
HOME = f"http://{SITE}/"
NEWS = f"http://{SITE}/news.html"
LOGIN = f"http://{SITE}/login?next=/"
HTTPS_HOME, HTTPS_NEWS = f"https://{SITE}/", f"https://{SITE}/news.html"


def row(url: str, status: int | None, verdict: str = "clean", **extra: Any) -> dict[str, Any]:
    return {"url": url, "site": SITE, "status": status, "verdict": verdict, **extra}


HIJACKED = [row(HOME, 200), row(NEWS, 200, "hijacked", score=90.0)]
OPEN = {(SITE, None, 1, None), (SITE, NEWS, 1, None)}
CLOSED = {(SITE, None, 1, 2), (SITE, NEWS, 1, 2)}

CASES = {
    # the parasite page now sends visitors to the casino: not clean
    "offsite redirect": (
        [row(HOME, 200), row(NEWS, 301, final_url="http://casino.example/")],
        OPEN,
    ),
    "page 500": ([row(HOME, 200), row(NEWS, 500)], OPEN),
    "page 403 only for crawlers": (
        [row(HOME, 200), row(NEWS, 403, profile="googlebot")],
        OPEN,
    ),
    "page 200 unanalysed": ([row(HOME, 200), row(NEWS, 200, "error", error="analysis")], OPEN),
    # a body detection could not analyse (binary, empty): stored as verdict error
    # (records.page_verdict), whatever detection said
    "page 200 not analysable": (
        [row(HOME, 200), row(NEWS, 200, error="not an HTML page (gzip data)")],
        OPEN,
    ),
    "fetch error": ([row(HOME, 200), row(NEWS, None, "error", error="timeout")], OPEN),
    "homepage 403, page 410": ([row(HOME, 403), row(NEWS, 410)], OPEN),
    "page 410 on a site that answers": ([row(HOME, 200), row(NEWS, 410)], CLOSED),
    "page 404 on a site that answers": ([row(HOME, 200), row(NEWS, 404)], CLOSED),
    # cloaking hides from crawlers: a clean browser view says nothing of googlebot's
    "page 200 clean for the browser, 403 for googlebot": (
        [row(HOME, 200), row(NEWS, 200), row(NEWS, 403, profile="googlebot")],
        OPEN,
    ),
    "page 200 clean for the browser, a fetch error for googlebot": (
        [row(HOME, 200), row(NEWS, 200), row(NEWS, None, "error", profile="googlebot")],
        OPEN,
    ),
    "page 200 clean for every profile fetched": (
        [row(HOME, 200), row(NEWS, 200), row(NEWS, 200, profile="googlebot")],
        CLOSED,
    ),
    # a login or bot-challenge wall: every URL lands on one page, the hijacked one unseen
    "every URL redirected to a login page": (
        [row(HOME, 200, final_url=LOGIN), row(NEWS, 200, final_url=LOGIN)],
        OPEN,
    ),
    "site moved to https, page clean there": (
        [row(HOME, 200, final_url=HTTPS_HOME), row(NEWS, 200, final_url=HTTPS_NEWS)],
        CLOSED,
    ),
    # the parasite page was deleted and its URL now sends visitors home: a cleanup
    "page redirected to the homepage, which answers": (
        [row(HOME, 200), row(NEWS, 200, final_url=HOME)],
        CLOSED,
    ),
    "page 404 for one profile, 200 clean for another": (
        [row(HOME, 200), row(NEWS, 404), row(NEWS, 200, profile="googlebot")],
        CLOSED,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_page_incident_closes_only_on_a_usable_answer(case: str, db_url: str) -> None:
    rows, expected = CASES[case]
    db = Database(db_url)
    db.ensure_schema()
    write_run(db, HIJACKED, RUN1_AT)
    second = write_run(db, rows, RUN1_AT + timedelta(days=1))
    assert incidents(db) == expected
    assert second.cleaned_sites == ([SITE] if expected == CLOSED else [])
    db.dispose()


def test_site_waits_for_its_page_incidents_and_a_finished_run(db_url: str) -> None:
    db = Database(db_url)
    db.ensure_schema()
    write_run(db, HIJACKED, RUN1_AT)
    # an interrupted run that saw the page clean closes the page, never the site
    partial = write_run(
        db, [row(HOME, 200), row(NEWS, 200)], RUN1_AT + timedelta(days=1), "interrupted"
    )
    assert partial.cleaned_pages == [NEWS] and partial.cleaned_sites == []
    assert incidents(db) == {(SITE, None, 1, None), (SITE, NEWS, 1, 2)}
    # a finished run that reaches only a blocked homepage: the site stays open
    blocked = write_run(db, [row(HOME, 403)], RUN1_AT + timedelta(days=2))
    assert blocked.cleaned_sites == []
    # a finished run that sees the site: no page incident is left, so it is cleaned
    done = write_run(db, [row(HOME, 200)], RUN1_AT + timedelta(days=3))
    assert done.cleaned_sites == [SITE] and done.cleaned_pages == []
    assert incidents(db) == {(SITE, None, 1, 4), (SITE, NEWS, 1, 2)}
    db.dispose()
