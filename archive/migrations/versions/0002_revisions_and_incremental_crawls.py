"""Schema version 2: revisions, events, frontier, locks; articles and runs gain columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Every article of a version-1 archive becomes revision 1 of itself (reason "new",
observed when it was first seen, pointing at its newest capture with the same
content hash), so that `history` and the re-check window work on old articles too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.String(40)
SHA = sa.String(64)
BYTES = sa.Integer().with_variant(sa.BigInteger(), "postgresql")

# crawl_runs as version 1 had it: batch mode copies it, CHECK constraint included.
_RUNS_V1 = sa.Table(
    "crawl_runs",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("portal_id", sa.String(64), sa.ForeignKey("portals.id"), nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("sections", sa.JSON, nullable=False),
    sa.Column("args", sa.JSON, nullable=False),
    *(
        sa.Column(name, BYTES if name == "bytes" else sa.Integer, nullable=False)
        for name in (
            "pages",
            "requests",
            "bytes",
            "new",
            "changed",
            "unchanged",
            "duplicates",
            "failed",
        )
    ),
    sa.Column("extra_stats", sa.JSON),
    sa.CheckConstraint(
        "status IN ('running', 'finished', 'failed', 'interrupted')",
        name="ck_crawl_runs_status",
    ),
    sa.Index("ix_crawl_runs_portal", "portal_id", "started_at"),
)

_FIRST_REVISIONS_SQLITE = """
INSERT INTO article_revisions (
    article_id, revision, content_hash, url, section, title, published, lead, body,
    images, credit, attachments, capture_id, run_id, parser_version, observed_at, reason)
SELECT a.id, 1, a.content_hash, a.url, a.section, a.title, a.published, a.lead, a.body,
       (SELECT json_group_array(json_object('src', i.src, 'caption', i.caption))
        FROM (SELECT src, caption FROM images WHERE article_id = a.id ORDER BY position) AS i),
       a.credit,
       (SELECT json_group_array(json_object('url', t.url, 'name', t.name))
        FROM (SELECT url, name FROM attachments WHERE article_id = a.id ORDER BY position) AS t),
       c.id, c.run_id, a.parser_version, a.first_seen_at, 'new'
FROM articles AS a
LEFT JOIN captures AS c ON c.id = (
    SELECT max(id) FROM captures WHERE article_id = a.id AND content_hash = a.content_hash)
"""
# The same in PostgreSQL's JSON functions.
_FIRST_REVISIONS_POSTGRESQL = """
INSERT INTO article_revisions (
    article_id, revision, content_hash, url, section, title, published, lead, body,
    images, credit, attachments, capture_id, run_id, parser_version, observed_at, reason)
SELECT a.id, 1, a.content_hash, a.url, a.section, a.title, a.published, a.lead, a.body,
       (SELECT coalesce(json_agg(json_build_object('src', i.src, 'caption', i.caption)
                                 ORDER BY i.position), '[]'::json)
        FROM images AS i WHERE i.article_id = a.id),
       a.credit,
       (SELECT coalesce(json_agg(json_build_object('url', t.url, 'name', t.name)
                                 ORDER BY t.position), '[]'::json)
        FROM attachments AS t WHERE t.article_id = a.id),
       c.id, c.run_id, a.parser_version, a.first_seen_at, 'new'
FROM articles AS a
LEFT JOIN captures AS c ON c.id = (
    SELECT max(id) FROM captures WHERE article_id = a.id AND content_hash = a.content_hash)
"""


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # SQLite adds a NOT NULL column only with a default: it fills the existing rows.
    op.add_column("articles", sa.Column("revision", sa.Integer, nullable=False, server_default="1"))
    op.add_column("articles", sa.Column("etag", sa.Text))
    op.add_column("articles", sa.Column("last_modified", sa.Text))
    op.add_column("articles", sa.Column("last_checked_at", TS))
    op.add_column("articles", sa.Column("removed_at", TS))
    op.execute("UPDATE articles SET last_checked_at = last_seen_at")

    # SQLite changes a CHECK constraint by copying the table; PostgreSQL alters it in place
    # (a copy could not be dropped there: other tables refer to it).
    recreate = "always" if sqlite else "never"
    with op.batch_alter_table("crawl_runs", copy_from=_RUNS_V1, recreate=recreate) as runs:
        runs.add_column(sa.Column("removed", sa.Integer, nullable=False, server_default="0"))
        runs.add_column(sa.Column("message", sa.Text))
        runs.drop_constraint("ck_crawl_runs_status", type_="check")
        runs.create_check_constraint(
            "ck_crawl_runs_status",
            "status IN ('running', 'finished', 'degraded', 'failed', 'interrupted')",
        )

    op.create_table(
        "article_revisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "article_id",
            sa.Integer,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("content_hash", SHA, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("section", sa.Text),
        sa.Column("title", sa.Text),
        sa.Column("published", sa.String(40)),
        sa.Column("lead", sa.Text),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("images", sa.JSON, nullable=False),
        sa.Column("credit", sa.JSON),
        sa.Column("attachments", sa.JSON, nullable=False),
        sa.Column("capture_id", sa.Integer, sa.ForeignKey("captures.id")),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("crawl_runs.id")),
        sa.Column("parser_version", sa.String(64), nullable=False),
        sa.Column("observed_at", TS, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.UniqueConstraint("article_id", "revision"),
        sa.CheckConstraint("reason IN ('new', 'edit')", name="ck_article_revisions_reason"),
    )
    op.create_index("ix_article_revisions_run", "article_revisions", ["run_id"])
    op.create_table(
        "article_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "article_id",
            sa.Integer,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("crawl_runs.id")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("http_status", sa.Integer),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.CheckConstraint("kind IN ('removed', 'returned')", name="ck_article_events_kind"),
    )
    op.create_index("ix_article_events_article_id", "article_events", ["article_id"])
    op.create_table(
        "frontier",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("portal_id", sa.String(64), sa.ForeignKey("portals.id"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("section", sa.Text),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("crawl_runs.id")),
        sa.Column("discovered_at", TS, nullable=False),
        sa.UniqueConstraint("portal_id", "url"),
    )
    op.create_table(
        "crawl_locks",
        sa.Column("portal_id", sa.String(64), sa.ForeignKey("portals.id"), primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("crawl_runs.id")),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("hostname", sa.Text, nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
    )
    op.execute(_FIRST_REVISIONS_SQLITE if sqlite else _FIRST_REVISIONS_POSTGRESQL)
    op.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")


def downgrade() -> None:
    raise NotImplementedError("archives are not downgraded: open the backup made by the upgrade")
