"""What the archive has besides its ORM tables: the search index and the views for analysts.

These are the current definitions, used for a new archive; each migration that
changes them carries its own frozen copy. tests/test_migrations.py checks that an
upgraded archive ends up with exactly these.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from archive import search, search_pg

# Current versions of articles still served by their portal, with the portal's name.
CURRENT_ARTICLES = """
CREATE VIEW current_articles AS
SELECT a.id, a.portal_id, p.name AS portal_name, p.province, a.url, a.section, a.title,
       a.published, a.published_date, a.lead, a.body, a.credit, a.revision,
       a.first_seen_at, a.last_seen_at
FROM articles AS a JOIN portals AS p ON p.id = a.portal_id
WHERE a.removed_at IS NULL
"""

# Articles per portal and month of publication (the portal's local calendar).
ARTICLES_BY_MONTH = """
CREATE VIEW articles_by_month AS
SELECT a.portal_id, p.name AS portal_name, substr(a.published_date, 1, 7) AS month,
       count(*) AS articles, count(a.removed_at) AS removed
FROM articles AS a JOIN portals AS p ON p.id = a.portal_id
GROUP BY a.portal_id, p.name, substr(a.published_date, 1, 7)
"""

VIEWS = {"current_articles": CURRENT_ARTICLES, "articles_by_month": ARTICLES_BY_MONTH}


def create(conn: Connection) -> None:
    """Create the views and the search index (filled from the articles)."""
    for sql in VIEWS.values():
        conn.execute(text(sql))
    create_search_index(conn)


def create_search_index(conn: Connection) -> None:
    """The dialect's search index (SQLite: FTS5; PostgreSQL: a tsvector table), filled."""
    if conn.dialect.name == "sqlite":
        conn.execute(text(search.CREATE_FTS))
        search.rebuild_index(conn)
    else:
        for sql in search_pg.CREATE_FTS:
            conn.execute(text(sql))
        search_pg.rebuild_index(conn)


def has_search_index(conn: Connection) -> bool:
    return inspect(conn).has_table(search.FTS_TABLE)
