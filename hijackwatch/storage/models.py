"""SQLAlchemy models of the crawl history.

The schema itself is owned by the Alembic migrations in ``migrations/versions``; these
models must stay in step with them (a test compares both, and docs/schema.md).
Timestamps are stored as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

RUN_STATUSES = ("running", "finished", "interrupted", "failed")
INCIDENT_SCOPES = ("site", "page")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base; all tables of hijackwatch hang off its metadata."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class CrawlRun(Base):
    """One ``hijackwatch crawl`` invocation; counts are filled when it finishes."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    reason: Mapped[str | None] = mapped_column(String(64))  # Scrapy's close reason
    error: Mapped[str | None] = mapped_column(Text)
    seeds: Mapped[str] = mapped_column(Text, default="")  # one seed per line
    sites: Mapped[int] = mapped_column(default=0)
    pages: Mapped[int] = mapped_column(default=0)  # distinct URLs fetched
    fetches: Mapped[int] = mapped_column(default=0)  # page rows (URL x profile)
    hijacked: Mapped[int] = mapped_column(default=0)  # distinct URLs hijacked under any profile
    suspicious: Mapped[int] = mapped_column(default=0)  # distinct URLs suspicious, not hijacked
    errors: Mapped[int] = mapped_column(default=0)  # page rows whose fetch failed
    new_hijacked_sites: Mapped[int] = mapped_column(default=0)
    cleaned_sites: Mapped[int] = mapped_column(default=0)
    options: Mapped[dict[str, Any] | None]

    __table_args__ = (Index("ix_crawl_runs_status_started", "status", "started_at"),)


class Site(Base):
    """A site key (host[:port]) ever crawled."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_crawled_at: Mapped[datetime | None]
    last_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="SET NULL")
    )


class SiteRun(Base):
    """Whether a run *saw* a site (storage/incidents.py's rule: a 2xx analysed at the
    page asked for), written when the run settles. The SQL views read it, so a site
    that answered 403/5xx everywhere is ``error`` there as in the report, not ``clean``."""

    __tablename__ = "site_runs"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    seen: Mapped[bool]


class Page(Base):
    """One fetch of one URL under one visitor profile in one run."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int | None]
    profile: Mapped[str] = mapped_column(String(64), default="browser")
    title: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    verdict: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(255))
    depth: Mapped[int] = mapped_column(default=0)
    referer: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime | None]
    outbound_domains: Mapped[list[str] | None] = mapped_column(JSON)

    findings: Mapped[list[FindingRow]] = relationship(
        back_populates="page", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        Index("ix_pages_run_site", "run_id", "site_id"),
        Index("ix_pages_site_url", "site_id", "url"),
        Index("ix_pages_verdict_run", "verdict", "run_id"),
        Index("ix_pages_fetched_at", "fetched_at"),
    )


class FindingRow(Base):
    """One detector finding on a page; ``evidence`` is hostile text, escape it when shown."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[str | None] = mapped_column(Text)  # NULL once pruned

    page: Mapped[Page] = relationship(back_populates="findings")

    __table_args__ = (
        Index("ix_findings_page", "page_id"),
        Index("ix_findings_kind", "kind"),
    )


class PageBody(Base):
    """The zlib-compressed body of a non-clean page, kept as evidence until pruned."""

    __tablename__ = "page_bodies"

    page_id: Mapped[int] = mapped_column(
        ForeignKey("pages.id", ondelete="CASCADE"), primary_key=True
    )
    encoding: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int]  # uncompressed bytes stored (after truncation)
    truncated: Mapped[bool] = mapped_column(default=False)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class Incident(Base):
    """A hijack of a site (``scope='site'``, url NULL) or of one page, open until cleaned.

    Opened by the first run that sees it hijacked, closed by the first finished run
    that sees it clean again; ``pages`` is the number of hijacked pages last seen
    (site scope) and ``max_pages`` the worst ever seen.
    """

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    url: Mapped[str | None] = mapped_column(Text)
    opened_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="SET NULL")
    )
    opened_at: Mapped[datetime]
    last_seen_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="SET NULL")
    )
    last_seen_at: Mapped[datetime]
    closed_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="SET NULL")
    )
    closed_at: Mapped[datetime | None]
    pages: Mapped[int] = mapped_column(default=0)
    max_pages: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        Index("ix_incidents_site_scope_closed", "site_id", "scope", "closed_at"),
        Index("ix_incidents_opened_run", "opened_run_id"),
        Index("ix_incidents_closed_run", "closed_run_id"),
    )


__all__ = [
    "INCIDENT_SCOPES",
    "RUN_STATUSES",
    "Base",
    "CrawlRun",
    "FindingRow",
    "Incident",
    "Page",
    "PageBody",
    "Site",
    "utcnow",
]
