"""Schema version 5: articles_fts_terms, each indexed word's count of articles (in any
field, and in the title, lead and captions).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

bm25 needs, for each word of a query, how many articles hold it. FTS5 counts them
by reading the word's whole posting list at every search, which for common words
is most of a search's time in a large archive; the archive now keeps the counts
(archive.bm25). SQLite only: PostgreSQL ranks otherwise. Filling the table reads
the whole index twice (about a minute for a million articles).
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Frozen copies of archive.search's definitions at this revision.
CREATE_TERMS = (
    "CREATE TABLE IF NOT EXISTS articles_fts_terms (term TEXT NOT NULL, field TEXT NOT NULL, "
    "documents INTEGER NOT NULL, PRIMARY KEY (term, field)) WITHOUT ROWID"
)
VOCABULARIES = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.articles_fts_vocabulary "
    "USING fts5vocab(main, articles_fts, row)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.articles_fts_vocabulary_fields "
    "USING fts5vocab(main, articles_fts, col)",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(CREATE_TERMS)
        for sql in VOCABULARIES:
            op.execute(sql)
        op.execute(
            "INSERT INTO articles_fts_terms (term, field, documents) "
            "SELECT term, '*', doc FROM temp.articles_fts_vocabulary "
            "UNION ALL SELECT term, col, doc FROM temp.articles_fts_vocabulary_fields "
            "WHERE col IN ('title', 'lead', 'captions')"
        )
    op.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")


def downgrade() -> None:
    raise NotImplementedError("archives are not downgraded: open the backup made by the upgrade")
