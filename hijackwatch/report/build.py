"""Collect what a report shows: per site its status, incident, and non-clean pages.

The report model is plain data (no SQLAlchemy objects) so every renderer works on the
same facts. Everything textual in it comes from hostile pages: renderers escape it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import CTE, Integer, case, column, func, select, text, values

from hijackwatch.seeds import same_site, site_key
from hijackwatch.storage import Database, StorageError
from hijackwatch.storage.engine import redact
from hijackwatch.storage.incidents import unseen_sites
from hijackwatch.storage.models import CrawlRun, FindingRow, Incident, Page
from hijackwatch.storage.records import as_utc, parse_time

ONLY_CHOICES = ("hijacked", "new", "all")
VERDICT_RANK = {"hijacked": 3, "suspicious": 2, "clean": 1, "error": 0}
MAX_PAGES_PER_SITE = 500  # a report is read by people; the database keeps the rest


@dataclass
class FindingEntry:
    kind: str
    severity: str
    evidence: str | None
    profiles: list[str] = field(default_factory=list)


@dataclass
class ProfileFetch:
    profile: str
    verdict: str
    status: int | None
    score: float
    final_url: str | None = None
    error: str | None = None


@dataclass
class PageEntry:
    url: str
    verdict: str
    score: float
    title: str | None
    fetches: list[ProfileFetch] = field(default_factory=list)
    findings: list[FindingEntry] = field(default_factory=list)
    hijacked_since: datetime | None = None


@dataclass
class SiteEntry:
    site: str
    # hijacked | suspicious | clean | error; error also when the run did not *see* the
    # site (no page answered 2xx and was analysed): never clean then
    status: str
    run_id: int
    crawled_at: datetime | None
    pages: int
    hijacked_pages: int
    suspicious_pages: int
    error_pages: int
    hijacked_since: datetime | None = None  # the open (or, for a past run, then open) incident
    incident_run_id: int | None = None
    incident_max_pages: int = 0
    # the latest incident closed by this run or before; empty while one is open, so a
    # consumer that closes tickets on cleaned_at never closes an open hijack
    cleaned_at: datetime | None = None
    cleaned_run_id: int | None = None
    # an incident is open and an earlier one was cleaned: a recurrence (its cleaning)
    previously_cleaned_at: datetime | None = None
    previously_cleaned_run_id: int | None = None
    new: bool = False  # incident opened in this site's reported run
    # an incident is open, but this run did not see the site hijacked: its hijacked pages
    # were not seen clean (the site blocked the crawler, answered 5xx, or was not fetched)
    unconfirmed: bool = False
    # a site that could not be read (status error): its most frequent page error or
    # answer ("HTTP 503 on every page", "redirects off-site to x.example")
    error: str | None = None
    page_entries: list[PageEntry] = field(default_factory=list)
    pages_truncated: bool = False


@dataclass
class Report:
    generated_at: datetime
    only: str
    site_filter: str | None
    since: datetime | None
    run_id: int | None
    database: str
    sites: list[SiteEntry] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "sites": len(self.sites),
            "hijacked_sites": sum(s.status == "hijacked" for s in self.sites),
            # still under an open incident, not seen hijacked by their latest run
            "unconfirmed_sites": sum(s.unconfirmed for s in self.sites),
            "new_hijacked_sites": sum(s.new for s in self.sites),
            "cleaned_sites": sum(
                s.cleaned_at is not None and s.status != "hijacked" and not s.unconfirmed
                for s in self.sites
            ),
            "hijacked_pages": sum(s.hijacked_pages for s in self.sites),
            "suspicious_pages": sum(s.suspicious_pages for s in self.sites),
        }

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts
        return data


def parse_since(value: str | date | datetime | None) -> datetime | None:
    """``2026-11-03`` or an ISO timestamp, as an aware UTC datetime (dates: midnight UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"bad date {value!r}; use YYYY-MM-DD or an ISO timestamp") from exc
    return as_utc(parsed)


def _site_rows(db: Database, run_id: int | None, site: str | None) -> list[dict[str, Any]]:
    if run_id is not None:
        sql = "SELECT * FROM site_history WHERE run_id = :run_id"
        params: dict[str, Any] = {"run_id": run_id}
    else:
        sql, params = "SELECT * FROM latest_site_status WHERE 1 = 1", {}
    if site:
        sql += " AND site = :site"
        params["site"] = site
    with db.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text(sql + " ORDER BY site"), params)]
    for row in rows:
        # views hand SQLite timestamps back as text, PostgreSQL's as datetimes
        row["crawled_at"] = parse_time(row.get("crawled_at", row.get("started_at")))
    return rows


def _literal_table(name: str, columns: tuple[str, ...], rows: Iterable[tuple[int, ...]]) -> CTE:
    """Integer rows as ``WITH name(...) AS (VALUES ...)``: one statement for any number of sites.

    The ints are rendered inline, not bound: drivers cap bind parameters per statement,
    and IN-list chunks would cost a query per few hundred sites.
    """
    table = values(*(column(c, Integer) for c in columns), name=name, literal_binds=True)
    return table.data([tuple(int(v) for v in row) for row in rows]).cte(name)


def _site_incidents(db: Database, site_ids: list[int]) -> dict[int, list[Incident]]:
    found: dict[int, list[Incident]] = {}
    if not site_ids:
        return found
    sites = _literal_table("report_sites", ("site_id",), [(i,) for i in dict.fromkeys(site_ids)])
    with db.session() as session:
        for inc in session.scalars(
            select(Incident)
            .join(sites, Incident.site_id == sites.c.site_id)
            .where(Incident.scope == "site")
            .order_by(Incident.id)
        ):
            found.setdefault(inc.site_id, []).append(inc)
    return found


def _apply_incident(entry: SiteEntry, incidents: list[Incident]) -> None:
    """Which incident was open as of the entry's run, and the last cleaning before it
    (``cleaned_*`` when none is open, else ``previously_cleaned_*``)."""
    run = entry.run_id
    cleaned: Incident | None = None
    for inc in incidents:
        opened = inc.opened_run_id or 0
        if opened <= run and (inc.closed_run_id is None or inc.closed_run_id > run):
            entry.hijacked_since = as_utc(inc.opened_at)
            entry.incident_run_id = inc.opened_run_id
            entry.incident_max_pages = inc.max_pages
            entry.new = opened == run
        elif inc.closed_run_id is not None and inc.closed_run_id <= run:
            cleaned = inc
    if cleaned is None:
        return
    if entry.hijacked_since is not None:
        entry.previously_cleaned_at = as_utc(cleaned.closed_at)
        entry.previously_cleaned_run_id = cleaned.closed_run_id
        return
    entry.cleaned_at = as_utc(cleaned.closed_at)
    entry.cleaned_run_id = cleaned.closed_run_id
    if cleaned.closed_run_id == run:
        entry.incident_max_pages = cleaned.max_pages


def _mark_unseen(db: Database, entries: dict[tuple[int, int], SiteEntry]) -> None:
    """``clean`` sites their run did not see (every page 403/5xx, an off-site redirect,
    a login wall) become ``error``: nothing was seen that could be called clean."""
    if not entries:
        return
    runs: dict[int, list[int]] = {}
    for site_id, run_id in entries:
        runs.setdefault(run_id, []).append(site_id)
    with db.session() as session:
        for run_id, site_ids in runs.items():
            for site_id in unseen_sites(session, run_id, site_ids):
                entries[(site_id, run_id)].status = "error"


def _answer(site: str, status: int | None, moved_to: str | None, error: str | None) -> str:
    """What fetches of an unreadable site got: an HTTP status, where they were sent, or
    an error text (``moved_to``: the final URL when it is not the page asked for)."""
    if status is not None and not 200 <= status <= 299:
        # (a subdomain is the site's own, as the spider treats it)
        if 300 <= status <= 399 and moved_to and not same_site(site, site_key(moved_to) or ""):
            return f"redirects off-site to {urlsplit(moved_to).hostname}"
        return f"HTTP {status}"
    if error:
        return error
    if moved_to:  # a 2xx on another page of the site: a login or challenge wall
        return f"redirects to {moved_to}"
    return "no answer" if status is None else f"HTTP {status}"


def _site_errors(db: Database, entries: dict[tuple[int, int], SiteEntry]) -> None:
    """Why each unreadable site could not be read: its most frequent page error or
    answer in the reported run (one query for all of them)."""
    if not entries:
        return
    wanted = _literal_table("error_sites", ("site_id", "run_id"), list(entries))
    moved_to = case((Page.final_url != Page.url, Page.final_url), else_=None).label("moved_to")
    counted = (
        select(Page.site_id, Page.run_id, Page.status, moved_to, Page.error, func.count())
        .join(wanted, (Page.site_id == wanted.c.site_id) & (Page.run_id == wanted.c.run_id))
        .group_by(Page.site_id, Page.run_id, Page.status, moved_to, Page.error)
    )
    answers: dict[tuple[int, int], Counter[str]] = {key: Counter() for key in entries}
    with db.session() as session:
        for site_id, run_id, status, moved, error, n in session.execute(counted):
            key = (site_id, run_id)
            answers[key][_answer(entries[key].site, status, moved, error)] += n
    for key, counted_answers in answers.items():
        if not counted_answers:
            continue
        total = counted_answers.total()
        answer, n = min(counted_answers.items(), key=lambda kv: (-kv[1], kv[0]))
        if answer.startswith("HTTP "):
            answer += " on every page" if n == total else f" on {n} of {total} fetches"
        entries[key].error = answer


def _page_entries(db: Database, entries: dict[tuple[int, int], SiteEntry]) -> None:
    """Fill each entry's pages: three queries for all sites, however many there are.

    ``entries`` maps (site_id, run_id) to the entry; per site the first
    MAX_PAGES_PER_SITE non-clean URLs (by URL) are kept, with every profile's fetch.
    """
    if not entries:
        return
    wanted = _literal_table("report_targets", ("site_id", "run_id"), list(entries))
    problem = (
        select(Page.site_id, Page.run_id, Page.url)
        .join(wanted, (Page.site_id == wanted.c.site_id) & (Page.run_id == wanted.c.run_id))
        .where(Page.verdict.in_(("hijacked", "suspicious")))
        .distinct()
        .subquery("problem_urls")
    )
    per_site = (problem.c.site_id, problem.c.run_id)
    ranked = select(
        problem,
        func.row_number().over(partition_by=per_site, order_by=problem.c.url).label("url_rank"),
        func.count().over(partition_by=per_site).label("urls"),
    ).subquery("ranked")
    shown = select(ranked).where(ranked.c.url_rank <= MAX_PAGES_PER_SITE).subquery("shown")
    on_shown = (
        (Page.site_id == shown.c.site_id)
        & (Page.run_id == shown.c.run_id)
        & (Page.url == shown.c.url)
    )
    findings: dict[int, list[tuple[str, str, str | None]]] = {}
    since: dict[tuple[int, int, str | None], datetime | None] = {}
    with db.session() as session:
        for f in session.execute(
            select(FindingRow.page_id, FindingRow.kind, FindingRow.severity, FindingRow.evidence)
            .join(Page, FindingRow.page_id == Page.id)
            .join(shown, on_shown)
            .order_by(FindingRow.id)
        ):
            findings.setdefault(f.page_id, []).append((f.kind, f.severity, f.evidence))
        for inc in session.execute(
            select(wanted.c.site_id, wanted.c.run_id, Incident.url, Incident.opened_at)
            .join(Incident, Incident.site_id == wanted.c.site_id)
            .where(
                Incident.scope == "page",
                Incident.opened_run_id <= wanted.c.run_id,
                Incident.closed_run_id.is_(None) | (Incident.closed_run_id > wanted.c.run_id),
            )
            .order_by(Incident.id)
        ):
            since[(inc.site_id, inc.run_id, inc.url)] = as_utc(inc.opened_at)
        rows = session.execute(
            select(
                Page.id,
                Page.site_id,
                Page.run_id,
                Page.url,
                Page.profile,
                Page.verdict,
                Page.score,
                Page.title,
                Page.status,
                Page.final_url,
                Page.error,
                shown.c.urls,
            )
            .join(shown, on_shown)
            .order_by(Page.site_id, Page.run_id, Page.url, Page.profile, Page.id)
        ).all()
    pages: dict[tuple[int, int], dict[str, PageEntry]] = {key: {} for key in entries}
    for row in rows:
        key = (row.site_id, row.run_id)
        entries[key].pages_truncated = row.urls > MAX_PAGES_PER_SITE
        site_pages = pages[key]
        page = site_pages.get(row.url)
        if page is None:
            page = site_pages[row.url] = PageEntry(
                row.url,
                row.verdict,
                row.score,
                row.title,
                hijacked_since=since.get((*key, row.url)),
            )
        if VERDICT_RANK.get(row.verdict, 0) > VERDICT_RANK.get(page.verdict, 0):
            page.verdict, page.title = row.verdict, row.title or page.title
        page.score = max(page.score, row.score)
        page.title = page.title or row.title
        page.fetches.append(
            ProfileFetch(row.profile, row.verdict, row.status, row.score, row.final_url, row.error)
        )
        for kind, severity, evidence in findings.get(row.id, []):
            same = next(
                (
                    e
                    for e in page.findings
                    if (e.kind, e.severity, e.evidence) == (kind, severity, evidence)
                ),
                None,
            )
            if same is None:
                page.findings.append(FindingEntry(kind, severity, evidence, [row.profile]))
            elif row.profile not in same.profiles:
                same.profiles.append(row.profile)
    for key, entry in entries.items():
        entry.page_entries = sorted(
            pages[key].values(), key=lambda p: (-VERDICT_RANK.get(p.verdict, 0), -p.score, p.url)
        )


def build_report(
    db: Database,
    *,
    only: str = "hijacked",
    site: str | None = None,
    since: str | date | datetime | None = None,
    run_id: int | None = None,
) -> Report:
    """The report for the latest run of each site (or one ``run_id``), filtered.

    only: ``hijacked`` sites hijacked now (in that run); ``new`` sites whose incident was
    opened in that run (with ``since``: opened since then); ``all`` every site.
    since: with ``hijacked``/``all`` keep sites crawled since then.
    """
    if only not in ONLY_CHOICES:
        raise ValueError(f"only must be one of {ONLY_CHOICES}")
    since_dt = parse_since(since)
    if run_id is not None:
        with db.session() as session:
            if session.get(CrawlRun, run_id) is None:
                raise StorageError(f"no crawl run {run_id} in the database")
    report = Report(
        generated_at=datetime.now(UTC),
        only=only,
        site_filter=site,
        since=since_dt,
        run_id=run_id,
        database=redact(db.url),
    )
    rows = _site_rows(db, run_id, site)
    incidents = _site_incidents(db, [r["site_id"] for r in rows])
    listed: dict[tuple[int, int], SiteEntry] = {}  # sites with pages to list
    kept: dict[tuple[int, int], SiteEntry] = {}
    for row in rows:
        entry = SiteEntry(
            site=row["site"],
            status=row["status"],
            run_id=row["run_id"],
            crawled_at=row["crawled_at"],
            pages=int(row["pages"]),
            hijacked_pages=int(row["hijacked_pages"]),
            suspicious_pages=int(row["suspicious_pages"]),
            error_pages=int(row["error_pages"]),
        )
        _apply_incident(entry, incidents.get(row["site_id"], []))
        entry.unconfirmed = entry.hijacked_since is not None and entry.status != "hijacked"
        if not _wanted(entry, only, since_dt):
            continue
        if entry.hijacked_pages or entry.suspicious_pages:  # else no page to list
            listed[(row["site_id"], entry.run_id)] = entry
        kept[(row["site_id"], entry.run_id)] = entry
        report.sites.append(entry)
    _mark_unseen(db, {key: e for key, e in kept.items() if e.status == "clean"})
    _page_entries(db, listed)
    _site_errors(db, {key: e for key, e in kept.items() if e.status == "error"})
    report.sites.sort(key=lambda s: (-VERDICT_RANK.get(s.status, 0), not s.new, s.site))
    return report


def _wanted(entry: SiteEntry, only: str, since: datetime | None) -> bool:
    if only == "new":
        if since is not None:
            return entry.hijacked_since is not None and entry.hijacked_since >= since
        return entry.new
    if since is not None and (entry.crawled_at is None or entry.crawled_at < since):
        return False
    # a site still under an open incident stays in the hijacked report until it is
    # seen clean: a site that blocks the crawler must not drop out of it
    return only == "all" or entry.status == "hijacked" or entry.unconfirmed
