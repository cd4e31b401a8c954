"""Baseline schema: runs, sites, pages, findings, page bodies, incidents, and the views.

Migrations are frozen history: never import the models here, never edit a released
revision; add a new one (``alembic revision`` against a scratch database).

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-27

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_baseline"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain SQL understood by both SQLite and PostgreSQL.
VIEWS = {
    # One row per (run, URL): the any-profile rule (hijacked beats suspicious beats clean).
    "page_verdicts": """
        SELECT p.run_id, p.site_id, s.key AS site, p.url,
               CASE WHEN SUM(CASE WHEN p.verdict = 'hijacked' THEN 1 ELSE 0 END) > 0 THEN 'hijacked'
                    WHEN SUM(CASE WHEN p.verdict = 'suspicious' THEN 1 ELSE 0 END) > 0
                        THEN 'suspicious'
                    WHEN SUM(CASE WHEN p.verdict = 'clean' THEN 1 ELSE 0 END) > 0 THEN 'clean'
                    ELSE 'error' END AS verdict,
               MAX(p.score) AS score,
               COUNT(*) AS fetches,
               SUM(CASE WHEN p.verdict = 'hijacked' THEN 1 ELSE 0 END) AS hijacked_fetches
        FROM pages p JOIN sites s ON s.id = p.site_id
        GROUP BY p.run_id, p.site_id, s.key, p.url
    """,
    # One row per (run, site): the site's status in that run.
    "site_history": """
        SELECT v.run_id, r.started_at, r.status AS run_status, v.site_id, v.site,
               COUNT(*) AS pages,
               SUM(CASE WHEN v.verdict = 'hijacked' THEN 1 ELSE 0 END) AS hijacked_pages,
               SUM(CASE WHEN v.verdict = 'suspicious' THEN 1 ELSE 0 END) AS suspicious_pages,
               SUM(CASE WHEN v.verdict = 'error' THEN 1 ELSE 0 END) AS error_pages,
               CASE WHEN SUM(CASE WHEN v.verdict = 'hijacked' THEN 1 ELSE 0 END) > 0 THEN 'hijacked'
                    WHEN SUM(CASE WHEN v.verdict = 'suspicious' THEN 1 ELSE 0 END) > 0
                        THEN 'suspicious'
                    WHEN SUM(CASE WHEN v.verdict = 'error' THEN 1 ELSE 0 END) = COUNT(*)
                        THEN 'error'
                    ELSE 'clean' END AS status
        FROM page_verdicts v JOIN crawl_runs r ON r.id = v.run_id
        GROUP BY v.run_id, r.started_at, r.status, v.site_id, v.site
    """,
    # One row per site: its status in the last settled run that crawled it.
    "latest_site_status": """
        SELECT h.site_id, h.site, h.run_id, h.started_at AS crawled_at, h.status,
               h.pages, h.hijacked_pages, h.suspicious_pages, h.error_pages,
               i.opened_at AS hijacked_since, i.opened_run_id AS incident_run_id
        FROM site_history h
        JOIN sites s ON s.id = h.site_id AND s.last_run_id = h.run_id
        LEFT JOIN incidents i
            ON i.site_id = h.site_id AND i.scope = 'site' AND i.closed_at IS NULL
    """,
    "open_incidents": """
        SELECT i.id, i.scope, s.key AS site, i.url, i.opened_at, i.opened_run_id,
               i.last_seen_at, i.last_seen_run_id, i.pages, i.max_pages
        FROM incidents i JOIN sites s ON s.id = i.site_id
        WHERE i.closed_at IS NULL
    """,
    "finding_kind_counts": """
        SELECT f.kind, COUNT(*) AS findings, COUNT(DISTINCT f.page_id) AS pages,
               COUNT(DISTINCT p.url) AS urls, COUNT(DISTINCT p.site_id) AS sites,
               MAX(p.fetched_at) AS last_seen_at
        FROM findings f JOIN pages p ON p.id = f.page_id
        GROUP BY f.kind
    """,
}


def upgrade() -> None:
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("seeds", sa.Text(), nullable=False),
        sa.Column("sites", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("fetches", sa.Integer(), nullable=False),
        sa.Column("hijacked", sa.Integer(), nullable=False),
        sa.Column("suspicious", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("new_hijacked_sites", sa.Integer(), nullable=False),
        sa.Column("cleaned_sites", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_crawl_runs_status_started", "crawl_runs", ["status", "started_at"])

    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_crawled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["last_run_id"], ["crawl_runs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("opened_run_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_run_id", sa.Integer(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_run_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("max_pages", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["closed_run_id"], ["crawl_runs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["last_seen_run_id"], ["crawl_runs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["opened_run_id"], ["crawl_runs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_closed_run", "incidents", ["closed_run_id"])
    op.create_index("ix_incidents_opened_run", "incidents", ["opened_run_id"])
    op.create_index(
        "ix_incidents_site_scope_closed", "incidents", ["site_id", "scope", "closed_at"]
    )

    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("referer", sa.Text(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outbound_domains", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["crawl_runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pages_fetched_at", "pages", ["fetched_at"])
    op.create_index("ix_pages_run_site", "pages", ["run_id", "site_id"])
    op.create_index("ix_pages_site_url", "pages", ["site_id", "url"])
    op.create_index("ix_pages_verdict_run", "pages", ["verdict", "run_id"])

    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_findings_kind", "findings", ["kind"])
    op.create_index("ix_findings_page", "findings", ["page_id"])

    op.create_table(
        "page_bodies",
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("page_id"),
    )
    for name, sql in VIEWS.items():  # in dependency order
        op.execute(f"CREATE VIEW {name} AS {sql}")


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_table("page_bodies")
    op.drop_table("findings")
    op.drop_table("pages")
    op.drop_table("incidents")
    op.drop_table("sites")
    op.drop_table("crawl_runs")
