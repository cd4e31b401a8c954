"""Open page incidents are fetched again every run, linked or not.

A parasite page the site no longer links (or a cleaned sitemap no longer lists) may
still be live; only fetching its URL again can close its incident or keep it open.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from hijackwatch.items import PageItem
from hijackwatch.middlewares.profiles import ProfilesMiddleware
from hijackwatch.profiles import BASELINE
from hijackwatch.spiders.hijack import HijackSpider
from hijackwatch.storage import Database
from hijackwatch.storage.models import Incident, Site
from tests.conftest import db_rows
from tests.test_e2e_incidents import (  # noqa: F401  (receiver, town: fixtures)
    Receiver,
    TownHall,
    crawl_town,
    incident_rows,
    receiver,
    town,
)
from tests.test_incidents import HOME, SITE, row
from tests.test_storage import RUN1_AT, write_run

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _last_seen_and_depth(db_url: str, url: str) -> tuple[list[int], list[int]]:
    """last_seen_run_id of every incident; depths of run 2's fetches of ``url``."""
    seen = db_rows(db_url, "SELECT last_seen_run_id FROM incidents ORDER BY id")
    depths = db_rows(db_url, "SELECT depth FROM pages WHERE run_id = 2 AND url = :url", url=url)
    return [row[0] for row in seen], [row[0] for row in depths]


RUN2 = {
    # news page in run 2, extra crawl options, incidents after run 2 (None: as opened)
    "clean": ("clean", (), 2),
    "still-hijacked": ("hijacked", (), None),
    "recheck-off": ("clean", ("-s", "HIJACKWATCH_RECHECK_MAX=0"), None),
}


@pytest.mark.parametrize("case", list(RUN2))
def test_unlinked_hijacked_page_is_fetched_again(
    case: str,
    db_url: str,
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811  (the imported fixture)
    town: TownHall,  # noqa: F811
) -> None:
    crawl_town(town, db_url, tmp_path, receiver)
    opened = [(None, 1, None), (town.news_url, 1, None)]
    assert incident_rows(db_url) == opened

    news, options, closed = RUN2[case]
    town.linked, town.news = False, news  # nothing links the news page any more
    crawl_town(town, db_url, tmp_path, receiver, *options)
    last_seen, depths = _last_seen_and_depth(db_url, town.news_url)
    if case == "recheck-off":  # what every run did before: never fetched, never closed
        assert incident_rows(db_url) == opened and depths == []
        assert len(receiver.calls) == 1
        return
    assert depths == [1]  # fetched again, as a page one link from the homepage
    if closed:
        assert incident_rows(db_url) == [(None, 1, 2), (town.news_url, 1, 2)]
        assert receiver.calls[-1]["cleaned_pages"] == [town.news_url]
        assert receiver.calls[-1]["cleaned_sites"] == [town.key]
    else:
        assert incident_rows(db_url) == opened
        assert last_seen == [2, 2]  # seen hijacked in run 2, site and page
        assert len(receiver.calls) == 1  # nothing new, nothing cleaned


# -- the query and the spider's use of it ------------------------------------------------


def _incident(site: Site, url: str | None, hours: int, *, closed: bool = False) -> Incident:
    at = T0 + timedelta(hours=hours)
    return Incident(
        scope="page" if url else "site",
        site_id=site.id,
        url=url,
        opened_at=T0,
        last_seen_at=at,
        closed_at=at if closed else None,
    )


def _history(db_url: str) -> None:
    """site.example: four open page incidents (one on another host), a closed one and
    its site incident; other.example: one open page incident."""
    db = Database(db_url)
    db.upgrade()
    with db.session() as session:
        site, other = Site(key="site.example"), Site(key="other.example")
        session.add_all([site, other])
        session.flush()
        session.add_all(
            [
                _incident(site, "http://site.example/c.html", 3),
                _incident(site, "http://site.example/a.html", 1),
                _incident(site, "http://evil.example/x.html", 0),
                _incident(site, "http://site.example/b.html", 2),
                _incident(site, "http://site.example/gone.html", 0, closed=True),
                _incident(site, None, 0),
                _incident(other, "http://other.example/p.html", 0),
            ]
        )
    db.dispose()


def test_open_incident_urls_least_recently_seen_first_and_bounded(db_url: str) -> None:
    _history(db_url)
    db = Database(db_url)
    try:
        everything = db.open_incident_urls(["site.example", "other.example", "none.example"])
        assert everything == {
            "site.example": [
                "http://evil.example/x.html",
                "http://site.example/a.html",
                "http://site.example/b.html",
                "http://site.example/c.html",
            ],
            "other.example": ["http://other.example/p.html"],
        }
        assert db.open_incident_urls(["site.example"], 2) == {
            "site.example": ["http://evil.example/x.html", "http://site.example/a.html"]
        }
        assert db.open_incident_urls([]) == {}
    finally:
        db.dispose()


def test_rechecks_take_turns_when_pages_keep_refusing(db_url: str) -> None:
    """A rechecked page answering 403 every run stays open (not seen clean) but moves to
    the back: under the bound the next run rechecks another incident."""
    first, second = f"http://{SITE}/a.html", f"http://{SITE}/b.html"
    db = Database(db_url)
    db.ensure_schema()
    try:
        write_run(db, [row(HOME, 200), row(first, 200, "hijacked")], RUN1_AT)
        write_run(db, [row(HOME, 200), row(second, 200, "hijacked")], RUN1_AT + timedelta(1))
        picked = []
        for day in range(2, 6):
            (url,) = db.open_incident_urls([SITE], 1)[SITE]
            picked.append(url)
            write_run(db, [row(HOME, 200), row(url, 403)], RUN1_AT + timedelta(day))
        assert picked == [first, second, first, second]
        assert db.open_incident_urls([SITE]) == {SITE: [first, second]}  # both still open
    finally:
        db.dispose()


def test_a_recheck_is_fetched_as_every_profile_in_sample_mode() -> None:
    """The profile that saw a cloaked page hijacked must see it again before its incident
    can close: sample mode's budget does not apply to rechecks."""
    crawler = get_crawler(
        HijackSpider,
        {
            "HIJACKWATCH_SEED_LIST": ["http://site.example/"],
            "HIJACKWATCH_PROFILE_MODE": "sample",
            "HIJACKWATCH_PROFILE_SAMPLE": 0,
        },
    )
    crawler.spider = crawler._create_spider()
    middleware = ProfilesMiddleware.from_crawler(crawler)
    (seed,) = crawler.spider.seeds
    url = "http://site.example/parasite.html"
    item = PageItem(url=url, site="site.example", profile=BASELINE, status=200, depth=1)
    item.body = b"<html><title>t</title><body>x</body></html>"

    def follow_up(meta: dict[str, object]) -> list[Request]:
        request = Request(url, meta={"hw_seed": seed, "hw_depth": 1, **meta})
        return middleware.follow_up(HtmlResponse(url, body=item.body, request=request), item)

    assert follow_up({}) == []  # a page found by a link: over the sample budget
    profiles = {r.meta["hw_profile"] for r in follow_up({"hw_recheck": True})}
    assert {"googlebot", "baiduspider"} <= profiles and BASELINE not in profiles


@pytest.fixture(autouse=True)
def _no_db_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIJACKWATCH_DB_URL", raising=False)  # the settings' URL is the one


def _start(settings: dict[str, object]) -> tuple[HijackSpider, list[Request]]:
    """The spider's start requests, as the engine would take them."""
    crawler = get_crawler(
        HijackSpider, {"HIJACKWATCH_SEED_LIST": ["http://site.example/"], **settings}
    )
    spider = HijackSpider.from_crawler(crawler)
    crawler.spider = spider
    crawler.stats.open_spider()

    async def collect() -> list[Request]:
        return [request async for request in spider.start()]

    return spider, asyncio.run(collect())


def _pages(requests: list[Request]) -> list[tuple[str, int]]:
    return [(r.url, r.meta["hw_depth"]) for r in requests if r.callback.__name__ == "parse_page"]


def test_start_requests_open_incidents_within_the_site_and_its_limits(db_url: str) -> None:
    _history(db_url)
    spider, requests = _start({"HIJACKWATCH_DB_URL": db_url, "HIJACKWATCH_RECHECK_MAX": 3})
    # the three least recently seen; the one on another host is not crawled
    assert _pages(requests) == [
        ("http://site.example/", 0),
        ("http://site.example/a.html", 1),
        ("http://site.example/b.html", 1),
    ]
    assert spider.crawler.stats.get_value("hijackwatch/rechecked_urls") == 2

    # at most half of --max-pages (2 of 4: the other host's and a.html), so that the
    # crawl still finds new pages; counted in --max-pages like any page
    spider, requests = _start({"HIJACKWATCH_DB_URL": db_url, "HIJACKWATCH_MAX_PAGES": 4})
    assert _pages(requests) == [("http://site.example/", 0), ("http://site.example/a.html", 1)]
    assert spider.scheduled["site.example"] == 2

    _, requests = _start({"HIJACKWATCH_DB_URL": db_url, "HIJACKWATCH_MAX_DEPTH": 0})
    assert _pages(requests) == [("http://site.example/", 0)]  # one hop: past --max-depth 0


def test_storage_off_reads_no_database(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "never.db"
    settings = {"HIJACKWATCH_DB_URL": f"sqlite:///{path}", "HIJACKWATCH_STORAGE_ENABLED": False}
    with caplog.at_level(logging.DEBUG, logger="hijackwatch.spiders.hijack"):
        _, requests = _start(settings)
    assert _pages(requests) == [("http://site.example/", 0)]
    assert "storage is off: open incidents are not rechecked" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not path.exists()


UNREADABLE = {
    "missing-file": lambda tmp: f"sqlite:///{tmp / 'missing.db'}",
    "not-a-database": lambda tmp: f"sqlite:///{_garbage(tmp / 'garbage.db')}",
    "no-schema": lambda tmp: f"sqlite:///{_empty(tmp / 'empty.db')}",
    "refused": lambda tmp: "postgresql+psycopg://postgres:secret@127.0.0.1:1/none",
}


def _garbage(path: Path) -> Path:
    path.write_bytes(b"this is not a SQLite database\n" * 200)
    return path


def _empty(path: Path) -> Path:
    Database(f"sqlite:///{path}").dispose()
    path.write_bytes(b"")  # an empty file is an empty SQLite database: no tables
    return path


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_database_one_warning_and_the_crawl_goes_on(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db_url = UNREADABLE[case](tmp_path)
    with caplog.at_level(logging.INFO, logger="hijackwatch.spiders.hijack"):
        _, requests = _start({"HIJACKWATCH_DB_URL": db_url, "HIJACKWATCH_DB_WRITE_TIMEOUT": 20})
    assert _pages(requests) == [("http://site.example/", 0)]
    assert len(requests) == 3  # homepage, robots.txt, sitemap.xml
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("open incidents not rechecked: ")
    assert "\n" not in warnings[0] and "secret" not in warnings[0]
    assert "SELECT" not in warnings[0]  # the driver's error, not SQLAlchemy's statement dump
    if case == "missing-file":
        assert not (tmp_path / "missing.db").exists()  # reading leaves no empty database
