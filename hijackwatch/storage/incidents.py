"""Incident bookkeeping at run end: newly hijacked, still hijacked, cleaned.

"Cleaned" must mean the run saw the hijacked pages again and found them clean, never
that the site blocked the crawler or the crawl did not reach them. Rules (docs/schema.md
repeats them):

- a page (URL) is hijacked in a run if any profile's fetch of it is ``hijacked``;
  a site is hijacked if any of its pages is;
- a site is *seen* in a run when at least one of its pages answered 2xx and was
  analysed (verdict not ``error``): a 403/5xx homepage or "Access denied" everywhere is
  not, nor a login or challenge wall every URL redirects to;
- a page incident closes when a later run fetches the URL and no profile sees it
  hijacked, provided every profile's fetch of it answered 2xx and was analysed, or
  answered 404/410 (the parasite page was deleted), with at least one 2xx or the site
  seen. A 2xx reached through a redirect to another page of the site (a login wall,
  the homepage) counts like a 404, not as the page seen clean; one to the same page
  (http -> https) counts as the page. A URL the run did not fetch, or got an error,
  403, 5xx or off-site redirect for under any profile, stays open (cloaking hides from
  crawlers: a clean browser view says nothing of what googlebot gets);
- a site incident closes only in a *finished* run that saw the site, found none of its
  pages hijacked and left none of its page incidents open; an interrupted or failed run
  may open or extend incidents but never declares a site clean (it may have missed the
  hijacked pages).
Settling is idempotent for the newest run, so ``import-spool`` can settle again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from hijackwatch.storage.models import CrawlRun, Incident, Page, Site, SiteRun

T = TypeVar("T")
log = logging.getLogger(__name__)
IN_LIST_MAX = 500  # values per SQL IN list


@dataclass
class RunOutcome:
    """What one run found, compared with what was known before it."""

    run_id: int
    status: str
    sites: int = 0
    pages: int = 0
    fetches: int = 0
    hijacked_pages: int = 0
    suspicious_pages: int = 0
    errors: int = 0
    new_hijacked_sites: list[str] = field(default_factory=list)
    still_hijacked_sites: list[str] = field(default_factory=list)
    cleaned_sites: list[str] = field(default_factory=list)
    new_hijacked_pages: list[str] = field(default_factory=list)
    cleaned_pages: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.new_hijacked_sites or self.cleaned_sites)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def stats(self) -> dict[str, Any]:
        """Keys for ``crawler.stats`` (read by ``hijackwatch crawl`` for its summary)."""
        return {
            "hijackwatch/run_id": self.run_id,
            "hijackwatch/run_status": self.status,
            "hijackwatch/sites": self.sites,
            "hijackwatch/pages": self.pages,
            "hijackwatch/hijacked_pages": self.hijacked_pages,
            "hijackwatch/suspicious_pages": self.suspicious_pages,
            "hijackwatch/error_pages": self.errors,
            "hijackwatch/hijacked_sites": len(self.new_hijacked_sites)
            + len(self.still_hijacked_sites),
            "hijackwatch/new_hijacked_sites": len(self.new_hijacked_sites),
            "hijackwatch/still_hijacked_sites": len(self.still_hijacked_sites),
            "hijackwatch/cleaned_sites": len(self.cleaned_sites),
            "hijackwatch/new_hijacked_pages": len(self.new_hijacked_pages),
            "hijackwatch/cleaned_pages": len(self.cleaned_pages),
        }


GONE_STATUSES = (404, 410)  # the page was deleted: a cleanup, when the site answers too


@dataclass(frozen=True)
class UrlState:
    """What one run learnt about one URL, over every profile's fetch of it."""

    hijacked: bool  # some profile saw it hijacked
    ok: bool  # some profile got a 2xx answer at this page that was analysed
    gone: bool  # some profile got an analysed 404/410, or a 2xx only on another page
    unanswered: bool  # some profile got neither (an error, 403, 5xx, off-site 3xx)


# Rows of redirected 2xx fetches read per site to tell whether the site answers at all
# (a site moved to https redirects every URL to the same page elsewhere).
SEEN_SAMPLE = 50


_USABLE = Page.verdict != "error"  # fetched and analysed; a fetch error has no status
_SUCCESS = _USABLE & Page.status.between(200, 299)
_MOVED = Page.final_url.is_not(None) & (Page.final_url != Page.url)


def _page_states(
    session: Session,
    run_id: int,
    incident_urls: set[tuple[int, str]],
    site_ids: Sequence[int] | None = None,
) -> dict[int, dict[str, UrlState]]:
    """site_id -> url -> UrlState; a URL the run did not fetch is absent.

    A 2xx reached through a same-site redirect counts for the page only when it landed
    on the same page (http -> https, a trailing slash): a site that sends every URL to
    a login or challenge page has not shown the hijacked page. That is decided for the
    URLs of open page incidents and, for a site with no direct 2xx, on a sample.
    ``site_ids``: only these sites (default: every site the run crawled).
    """
    hijacked = func.max(case((Page.verdict == "hijacked", 1), else_=0))
    ok = func.max(case((_SUCCESS & ~_MOVED, 1), else_=0))
    ok_moved = func.max(case((_SUCCESS & _MOVED, 1), else_=0))
    gone = func.max(case((_USABLE & Page.status.in_(GONE_STATUSES), 1), else_=0))
    answered = _USABLE & (Page.status.between(200, 299) | Page.status.in_(GONE_STATUSES))
    unanswered = func.max(case((answered, 0), else_=1))  # a NULL status counts too
    query = (
        select(Page.site_id, Page.url, hijacked, ok, ok_moved, gone, unanswered)
        .where(Page.run_id == run_id)
        .group_by(Page.site_id, Page.url)
        .order_by(Page.site_id, Page.url)  # the SEEN_SAMPLE below: the same every time
    )
    if site_ids is not None:
        query = query.where(Page.site_id.in_(site_ids))
    rows = session.execute(query)
    flags: dict[int, dict[str, list[bool]]] = {}
    for site_id, url, *values in rows:
        flags.setdefault(site_id, {})[url] = list(map(bool, values))
    # (site, url) whose only 2xx came after a redirect, and that matter here
    wanted: list[tuple[int, str]] = []
    for site_id, urls in flags.items():
        direct = any(f[1] for f in urls.values())
        moved_only = [url for url, f in urls.items() if f[2] and not f[1]]
        wanted += [(site_id, u) for u in moved_only if (site_id, u) in incident_urls]
        if not direct:
            wanted += [(site_id, u) for u in moved_only[:SEEN_SAMPLE]]
    same = _landed_on_same_page(session, run_id, wanted)
    states: dict[int, dict[str, UrlState]] = {}
    for site_id, urls in flags.items():
        for url, (is_hijacked, is_ok, is_moved, is_gone, is_unanswered) in urls.items():
            landed = is_moved and (site_id, url) in same
            states.setdefault(site_id, {})[url] = UrlState(
                hijacked=is_hijacked,
                ok=is_ok or landed,
                gone=is_gone or (is_moved and not landed),
                unanswered=is_unanswered,
            )
    return states


def unseen_sites(session: Session, run_id: int, site_ids: Sequence[int]) -> set[int]:
    """Those of ``site_ids`` that run ``run_id`` did not *see* (module docstring): every
    fetch failed, answered non-2xx (403, 5xx, an off-site redirect) or only reached
    another page of the site. A report must not call such a site clean.

    A settled run's answer is what settling recorded (``site_runs``, which also decided
    whether the site's incident could close, and which the SQL views read); a run not
    settled yet, or settled before that table, is judged here by the same rule.
    """
    seen: set[int] = set()
    recorded: set[int] = set()
    for chunk in chunks(list(site_ids)):
        for site_id, was_seen in session.execute(
            select(SiteRun.site_id, SiteRun.seen).where(
                SiteRun.run_id == run_id, SiteRun.site_id.in_(chunk)
            )
        ):
            recorded.add(site_id)
            if was_seen:
                seen.add(site_id)
    judged = [site_id for site_id in site_ids if site_id not in recorded]
    for chunk in chunks(judged):
        seen.update(  # the common case, one cheap query: a 2xx analysed at the page itself
            session.scalars(
                select(Page.site_id)
                .where(Page.run_id == run_id, Page.site_id.in_(chunk), _SUCCESS & ~_MOVED)
                .distinct()
            )
        )
    rest = [site_id for site_id in judged if site_id not in seen]
    for chunk in chunks(rest):  # redirected 2xx only: the same rule as settling
        for site_id, urls in _page_states(session, run_id, set(), chunk).items():
            if any(state.ok for state in urls.values()):
                seen.add(site_id)
    return {site_id for site_id in site_ids if site_id not in seen}


def _landed_on_same_page(
    session: Session, run_id: int, wanted: list[tuple[int, str]]
) -> set[tuple[int, str]]:
    """Those of ``wanted`` whose redirected 2xx fetches all ended on the same page (path
    and query as linked; scheme and host may change within the site)."""
    keys = set(wanted)
    if not keys:
        return set()
    finals: dict[tuple[int, str], set[str]] = {}
    urls = sorted({url for _site, url in keys})
    for chunk in chunks(urls):
        rows = session.execute(
            select(Page.site_id, Page.url, Page.final_url).where(
                Page.run_id == run_id,
                Page.url.in_(chunk),
                Page.verdict != "error",
                Page.status.between(200, 299),
                Page.final_url.is_not(None),
            )
        )
        for site_id, url, final in rows:
            finals.setdefault((site_id, url), set()).add(final)
    return {
        key
        for key in keys
        if all(_page_of(final) == _page_of(key[1]) for final in finals.get(key, ()))
    }


def _page_of(url: str) -> tuple[str, str]:
    """Path (no trailing slash) and query: what a same-site redirect must keep."""
    parts = urlsplit(url)
    return parts.path.rstrip("/"), parts.query


def chunks(values: Sequence[T], size: int = IN_LIST_MAX) -> Iterator[Sequence[T]]:
    """``values`` in slices of ``size``: IN lists stay within every driver's limits."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _open_incidents(session: Session, site_ids: list[int]) -> list[Incident]:
    found: list[Incident] = []
    for chunk in chunks(site_ids):
        found.extend(
            session.scalars(
                select(Incident).where(Incident.site_id.in_(chunk), Incident.closed_at.is_(None))
            )
        )
    return found


def _open(site_id: int, url: str | None, run: CrawlRun, at: datetime, pages: int) -> Incident:
    return Incident(
        scope="page" if url else "site",
        site_id=site_id,
        url=url,
        opened_run_id=run.id,
        opened_at=at,
        last_seen_run_id=run.id,
        last_seen_at=at,
        pages=pages,
        max_pages=pages,
    )


def _close(incident: Incident, run: CrawlRun, at: datetime) -> None:
    incident.closed_run_id = run.id
    incident.closed_at = at


def settle_run(session: Session, run: CrawlRun) -> set[int]:
    """Open, extend and close incidents for every site the run crawled; returns the
    sites a later run has judged already, which this one leaves to it."""
    at = run.started_at
    site_ids = list(session.scalars(select(Page.site_id).where(Page.run_id == run.id).distinct()))
    # Sites a later run has judged already (a spool file of this run imported after it):
    # their incidents are that run's to keep; this one only records what it saw.
    judged_later: set[int] = set()
    for chunk in chunks(site_ids):
        judged_later.update(
            session.scalars(select(Site.id).where(Site.id.in_(chunk), Site.last_run_id > run.id))
        )
    if judged_later:
        log.warning(
            "run %s: %d site(s) were crawled by a later run since; that run's incidents "
            "stand, this one only adds its pages",
            run.id,
            len(judged_later),
        )
    incidents = _open_incidents(session, [i for i in site_ids if i not in judged_later])
    states = _page_states(
        session, run.id, {(i.site_id, i.url) for i in incidents if i.scope == "page" and i.url}
    )
    site_open = {i.site_id: i for i in incidents if i.scope == "site"}
    page_open: dict[int, dict[str, Incident]] = {}  # site -> url -> its open incident
    for i in incidents:
        if i.scope == "page":
            page_open.setdefault(i.site_id, {})[i.url or ""] = i
    # Settling again (import-spool) rewrites the run's record of what it saw.
    session.execute(delete(SiteRun).where(SiteRun.run_id == run.id))
    for site_id, urls in states.items():
        # a 403/5xx or "Access denied" everywhere is the site hiding, not the site clean
        seen = any(state.ok for state in urls.values())
        session.add(SiteRun(run_id=run.id, site_id=site_id, seen=seen))
        if site_id in judged_later:
            continue
        hijacked = sorted(u for u, state in urls.items() if state.hijacked)
        site_pages = page_open.get(site_id, {})
        for url in hijacked:
            incident = site_pages.get(url)
            if incident is None:
                session.add(_open(site_id, url, run, at, 1))
            else:
                incident.last_seen_run_id, incident.last_seen_at = run.id, at
        still_open = False
        for url, incident in site_pages.items():
            state = urls.get(url)  # None: not fetched this run, nothing learnt
            if (
                state is not None
                and not (state.hijacked or state.unanswered)
                and (state.ok or (state.gone and seen))
            ):
                _close(incident, run, at)
            else:
                still_open = True
        site_incident = site_open.get(site_id)
        if hijacked:
            if site_incident is None:
                session.add(_open(site_id, None, run, at, len(hijacked)))
            else:
                site_incident.last_seen_run_id, site_incident.last_seen_at = run.id, at
                site_incident.pages = len(hijacked)
                site_incident.max_pages = max(site_incident.max_pages, len(hijacked))
        elif site_incident is not None and run.status == "finished" and seen and not still_open:
            _close(site_incident, run, at)
    session.flush()
    return judged_later


def _counts(session: Session, run_id: int) -> dict[str, int]:
    """Per-run totals; URL-level counts follow the any-profile rule."""
    per_url = (
        select(
            Page.url,
            func.max(
                case((Page.verdict == "hijacked", 2), (Page.verdict == "suspicious", 1), else_=0)
            ).label("worst"),
        )
        .where(Page.run_id == run_id)
        .group_by(Page.url)
        .subquery()
    )
    pages, hijacked, suspicious = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((per_url.c.worst == 2, 1), else_=0)), 0),
            func.coalesce(func.sum(case((per_url.c.worst == 1, 1), else_=0)), 0),
        ).select_from(per_url)
    ).one()
    fetches, errors, sites = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Page.verdict == "error", 1), else_=0)), 0),
            func.count(func.distinct(Page.site_id)),
        ).where(Page.run_id == run_id)
    ).one()
    return {
        "pages": int(pages),
        "hijacked": int(hijacked),
        "suspicious": int(suspicious),
        "fetches": int(fetches),
        "errors": int(errors),
        "sites": int(sites),
    }


def _keys(session: Session, stmt: Any) -> list[str]:
    return sorted(session.scalars(stmt))


def outcome_of(session: Session, run: CrawlRun) -> RunOutcome:
    """Read a settled run's outcome back from the incidents table."""
    counts = _counts(session, run.id)
    site_key = select(Site.key).join(Incident, Incident.site_id == Site.id)
    site_scope = Incident.scope == "site"
    page_scope = Incident.scope == "page"
    crawled = select(Page.site_id).where(Page.run_id == run.id).distinct()
    return RunOutcome(
        run_id=run.id,
        status=run.status,
        sites=counts["sites"],
        pages=counts["pages"],
        fetches=counts["fetches"],
        hijacked_pages=counts["hijacked"],
        suspicious_pages=counts["suspicious"],
        errors=counts["errors"],
        new_hijacked_sites=_keys(
            session, site_key.where(site_scope, Incident.opened_run_id == run.id)
        ),
        still_hijacked_sites=_keys(
            session,
            site_key.where(
                site_scope,
                Incident.opened_run_id != run.id,
                Incident.last_seen_run_id == run.id,
            ),
        ),
        cleaned_sites=_keys(
            session,
            site_key.where(
                site_scope, Incident.closed_run_id == run.id, Incident.site_id.in_(crawled)
            ),
        ),
        new_hijacked_pages=_keys(
            session, select(Incident.url).where(page_scope, Incident.opened_run_id == run.id)
        ),
        cleaned_pages=_keys(
            session, select(Incident.url).where(page_scope, Incident.closed_run_id == run.id)
        ),
    )


def apply_counts(
    session: Session, run: CrawlRun, outcome: RunOutcome, judged_later: set[int]
) -> None:
    run.sites, run.pages, run.fetches = outcome.sites, outcome.pages, outcome.fetches
    run.hijacked, run.suspicious, run.errors = (
        outcome.hijacked_pages,
        outcome.suspicious_pages,
        outcome.errors,
    )
    run.new_hijacked_sites = len(outcome.new_hijacked_sites)
    run.cleaned_sites = len(outcome.cleaned_sites)
    for site in session.scalars(
        select(Site).where(Site.id.in_(select(Page.site_id).where(Page.run_id == run.id)))
    ):
        if site.id in judged_later:
            continue  # a later run's spool-imported predecessor: the later run stays latest
        site.last_run_id = run.id
        site.last_crawled_at = run.started_at
