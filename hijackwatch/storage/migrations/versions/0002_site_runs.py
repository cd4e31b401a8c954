"""site_runs: whether each run saw each site; site_history calls an unseen site error.

A site that answered 403/5xx on every page, or only redirected off-site, had no page
flagged, so ``site_history`` (and ``latest_site_status``) called it ``clean`` while
``hijackwatch report`` said ``error``. The settling step now records whether the run
saw the site, and the views read it. Runs without rows (not settled yet, or settled
before this revision) are ``error`` when no page of the site answered 2xx and was
analysed; a site reached only through redirects to other pages keeps ``clean`` there.

Revision ID: 0002_site_runs
Revises: 0001_baseline
Create Date: 2026-11-28

"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_site_runs"
down_revision: str | Sequence[str] | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain SQL understood by both SQLite and PostgreSQL. A run with no site_runs rows (not
# settled yet, or settled before this revision; ``NOT sr.seen`` is NULL then) is judged
# by the part of the rule SQL can tell: no 2xx analysed at all is not seen. (A site
# reached only through redirects to other pages, a login wall, needs its URLs compared:
# only settling records it.)
SITE_HISTORY = """
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
                WHEN MAX(CASE WHEN NOT sr.seen THEN 1 ELSE 0 END) = 1 THEN 'error'
                WHEN MAX(CASE WHEN sr.seen IS NULL THEN 1 ELSE 0 END) = 1
                    AND NOT EXISTS (
                        SELECT 1 FROM pages p
                        WHERE p.run_id = v.run_id AND p.site_id = v.site_id
                            AND p.verdict <> 'error' AND p.status BETWEEN 200 AND 299
                    ) THEN 'error'
                ELSE 'clean' END AS status
    FROM page_verdicts v JOIN crawl_runs r ON r.id = v.run_id
    LEFT JOIN site_runs sr ON sr.run_id = v.run_id AND sr.site_id = v.site_id
    GROUP BY v.run_id, r.started_at, r.status, v.site_id, v.site
"""


def _baseline_views() -> dict[str, str]:
    """The views as revision 0001 created them (frozen history, read, not copied)."""
    return importlib.import_module("hijackwatch.storage.migrations.versions.0001_baseline").VIEWS


def _replace_site_history(sql: str) -> None:
    # latest_site_status reads site_history: dropped first, created again after.
    latest = _baseline_views()["latest_site_status"]
    op.execute("DROP VIEW latest_site_status")
    op.execute("DROP VIEW site_history")
    op.execute(f"CREATE VIEW site_history AS {sql}")
    op.execute(f"CREATE VIEW latest_site_status AS {latest}")


def upgrade() -> None:
    op.create_table(
        "site_runs",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("seen", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["crawl_runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "site_id"),
    )
    _replace_site_history(SITE_HISTORY)


def downgrade() -> None:
    _replace_site_history(_baseline_views()["site_history"])
    op.drop_table("site_runs")
