"""Schema version 3: full-text search and views; WARC records and media files.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

- articles_fts: index of the folded title, lead, body and captions (SQLite: FTS5;
  PostgreSQL: a tsvector table), filled from the stored articles; views
  current_articles and articles_by_month.
- warc_records, media, media_urls; captures gain warc_file and warc_offset; images
  and attachments gain media_sha256; a revision may have the reason "reparse".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.String(40)
SHA = sa.String(64)
BYTES = sa.Integer().with_variant(sa.BigInteger(), "postgresql")

# article_revisions as version 2 had it, CHECK constraint included, for batch mode.
_REVISIONS_V2 = sa.Table(
    "article_revisions",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False
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
    sa.Index("ix_article_revisions_run", "run_id"),
)

# Frozen copies of archive/sqlobjects.py and archive/search.py as of version 3.
_VIEWS = (
    """
CREATE VIEW current_articles AS
SELECT a.id, a.portal_id, p.name AS portal_name, p.province, a.url, a.section, a.title,
       a.published, a.published_date, a.lead, a.body, a.credit, a.revision,
       a.first_seen_at, a.last_seen_at
FROM articles AS a JOIN portals AS p ON p.id = a.portal_id
WHERE a.removed_at IS NULL
""",
    """
CREATE VIEW articles_by_month AS
SELECT a.portal_id, p.name AS portal_name, substr(a.published_date, 1, 7) AS month,
       count(*) AS articles, count(a.removed_at) AS removed
FROM articles AS a JOIN portals AS p ON p.id = a.portal_id
GROUP BY a.portal_id, p.name, substr(a.published_date, 1, 7)
""",
)
_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5("
    "title, lead, body, captions, "
    "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
)
# vn_fold is registered by the archive on every SQLite connection (archive.folding.fold).
_FILL_FTS = """
INSERT INTO articles_fts (rowid, title, lead, body, captions)
SELECT a.id,
       vn_fold(a.title),
       vn_fold(a.lead),
       vn_fold((SELECT group_concat(p.value, char(10)) FROM json_each(a.body) AS p)),
       vn_fold((SELECT group_concat(i.caption, char(10)) FROM images AS i
                WHERE i.article_id = a.id AND i.caption IS NOT NULL))
FROM articles AS a
"""


# On PostgreSQL: a table of tsvectors (see archive/search_pg.py, whose function
# `document` builds them in Python from the folded words).
_PG_FTS = (
    """CREATE TABLE articles_fts (
    article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    document TSVECTOR NOT NULL
)""",
    "CREATE INDEX ix_articles_fts_document ON articles_fts USING GIN (document)",
)


def _fill_pg_fts() -> None:
    # Documents are built by the archive's own folding, as SQLite's by its vn_fold.
    from archive.search_pg import document

    bind = op.get_bind()
    captions: dict[int, list[str]] = {}
    for article_id, caption in bind.execute(
        sa.text(
            "SELECT article_id, caption FROM images WHERE caption IS NOT NULL "
            "ORDER BY article_id, position"
        )
    ):
        captions.setdefault(article_id, []).append(caption)
    rows = [
        {
            "id": article_id,
            "document": document(title, lead, body or [], captions.get(article_id, [])),
        }
        for article_id, title, lead, body in bind.execute(
            sa.text("SELECT id, title, lead, body FROM articles ORDER BY id")
        )
    ]
    if rows:
        bind.execute(
            sa.text(
                "INSERT INTO articles_fts (article_id, document) "
                "VALUES (:id, CAST(:document AS tsvector))"
            ),
            rows,
        )


def _add_media_reference(table: str) -> None:
    column = sa.Column("media_sha256", SHA, sa.ForeignKey("media.sha256"), nullable=True)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with a REFERENCES clause in place; no table copy needed.
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN media_sha256 VARCHAR(64) REFERENCES media (sha256)"
        )
    else:
        op.add_column(table, column)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "article_revisions", copy_from=_REVISIONS_V2, recreate="always" if sqlite else "never"
    ) as revisions:
        revisions.drop_constraint("ck_article_revisions_reason", type_="check")
        revisions.create_check_constraint(
            "ck_article_revisions_reason", "reason IN ('new', 'edit', 'reparse')"
        )

    # --- issue 7: WARC records and media files ---
    op.create_table(
        "warc_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("portal_id", sa.String(64), sa.ForeignKey("portals.id"), nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("crawl_runs.id")),
        sa.Column("warc_file", sa.Text, nullable=False),
        sa.Column("warc_offset", BYTES, nullable=False),
        sa.Column("warc_length", BYTES, nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("target_uri", sa.Text, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer, nullable=False),
        sa.Column("content_type", sa.Text),
        sa.Column("warc_date", TS, nullable=False),
        sa.Column("payload_digest", sa.Text, nullable=False),
        sa.Column("payload_length", BYTES, nullable=False),
        sa.Column("refers_to", sa.Integer, sa.ForeignKey("warc_records.id")),
        sa.CheckConstraint("record_type IN ('response', 'revisit')", name="ck_warc_records_type"),
    )
    op.create_index("ix_warc_records_digest", "warc_records", ["payload_digest"])
    op.create_index("ix_warc_records_uri", "warc_records", ["target_uri"])
    op.create_index("ix_warc_records_run_id", "warc_records", ["run_id"])
    op.create_table(
        "media",
        sa.Column("sha256", SHA, primary_key=True),
        sa.Column("mime_type", sa.Text),
        sa.Column("size", BYTES, nullable=False),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
    )
    op.create_table(
        "media_urls",
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("portal_id", sa.String(64), sa.ForeignKey("portals.id"), nullable=False),
        sa.Column("sha256", SHA, sa.ForeignKey("media.sha256")),
        sa.Column("http_status", sa.Integer),
        sa.Column("content_type", sa.Text),
        sa.Column("fetched_at", TS, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_media_urls_sha256", "media_urls", ["sha256"])
    op.add_column("captures", sa.Column("warc_file", sa.Text))
    op.add_column("captures", sa.Column("warc_offset", BYTES))
    _add_media_reference("images")
    _add_media_reference("attachments")

    # --- search and views ---
    for view in _VIEWS:
        op.execute(view)
    if sqlite:
        op.execute(_FTS)
        op.execute(_FILL_FTS)
    else:
        for sql in _PG_FTS:
            op.execute(sql)
        _fill_pg_fts()
    op.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")


def downgrade() -> None:
    raise NotImplementedError("archives are not downgraded: open the backup made by the upgrade")
