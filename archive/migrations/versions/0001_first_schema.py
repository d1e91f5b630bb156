"""Schema version 1: the first archive (articles, URLs, images, attachments, captures, runs).

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Frozen: this is the schema archives of version 1 have. Archives of version 1 made
before migrations existed carry no alembic_version; `archive.schema` stamps them
0001 from meta.schema_version before upgrading.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.String(40)
SHA = sa.String(64)
# 64-bit on PostgreSQL (SQLite's INTEGER is 64-bit already): a run's bytes outgrow 2 GB.
BYTES = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "portals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("province", sa.Text),
        sa.Column("base_url", sa.Text, nullable=False),
        sa.Column("cms", sa.Text),
        sa.Column("first_crawled_at", TS),
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("portal_id", sa.String(64), sa.ForeignKey("portals.id"), nullable=False),
        sa.Column("url", sa.Text, nullable=False, unique=True),
        sa.Column("section", sa.Text),
        sa.Column("title", sa.Text),
        sa.Column("published", sa.String(40)),
        sa.Column("published_date", sa.String(10)),
        sa.Column("lead", sa.Text),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("credit", sa.JSON),
        sa.Column("content_hash", SHA, nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("parser_version", sa.String(64), nullable=False),
    )
    op.create_index("ix_articles_content_hash", "articles", ["content_hash", "portal_id"])
    op.create_index("ix_articles_portal_published", "articles", ["portal_id", "published_date"])
    op.create_table(
        "crawl_runs",
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
    )
    op.create_index("ix_crawl_runs_portal", "crawl_runs", ["portal_id", "started_at"])
    op.create_table(
        "article_urls",
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column(
            "article_id",
            sa.Integer,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("first_seen_at", TS, nullable=False),
    )
    op.create_index("ix_article_urls_article_id", "article_urls", ["article_id"])
    for name, columns in (
        ("images", [("src", False), ("caption", True)]),
        ("attachments", [("url", False), ("name", False)]),
    ):
        op.create_table(
            name,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(
                "article_id",
                sa.Integer,
                sa.ForeignKey("articles.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("position", sa.Integer, nullable=False),
            *(sa.Column(column, sa.Text, nullable=null) for column, null in columns),
            sa.UniqueConstraint("article_id", "position"),
        )
    op.create_table(
        "captures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "article_id",
            sa.Integer,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("crawl_runs.id")),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("http_status", sa.Integer, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("content_type", sa.Text),
        sa.Column("fetched_at", TS, nullable=False),
        sa.Column("compression", sa.String(16), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("body_sha256", SHA, nullable=False),
        sa.Column("content_hash", SHA, nullable=False),
    )
    op.create_index("ix_captures_article_body", "captures", ["article_id", "body_sha256"])
    op.create_index("ix_captures_run_id", "captures", ["run_id"])
    op.create_table(
        "fetch_failures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("crawl_runs.id")),
        sa.Column("portal_id", sa.String(64), sa.ForeignKey("portals.id"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("failed_at", TS, nullable=False),
    )
    op.create_index("ix_fetch_failures_portal_url", "fetch_failures", ["portal_id", "url"])
    op.create_index("ix_fetch_failures_run_id", "fetch_failures", ["run_id"])
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])


def downgrade() -> None:
    raise NotImplementedError("archives are not downgraded: open the backup made by the upgrade")
