"""Schema migrations: an archive of the first schema is upgraded in place, every row kept."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from archive import GOLD_KEYS, SCHEMA_VERSION, Archive, ArchiveError, schema
from archive.models import Base

V1_SQL = Path(__file__).parent / "fixtures" / "archive_schemas" / "v1.sql"
BASE = "https://anbien.kiengiang.gov.vn"
URL_1 = f"{BASE}/Trang/ChiTietTinTuc.aspx?nid=1872&CateID=12"
URL_2 = f"{BASE}/Trang/ChiTietTinTuc.aspx?nid=1851&CateID=12"
CREDIT = {
    "raw": "Tin và ảnh: Quốc Vương",
    "text_by": ["Quốc Vương"],
    "photo_by": None,
    "source": None,
}

# Rows as version 1 wrote them (text columns NFC, JSON as the archive serialised it).
V1_ROWS: dict[str, list[dict[str, Any]]] = {
    "meta": [{"key": "schema_version", "value": "1"}],
    "portals": [
        {
            "id": "anbien",
            "name": "Cổng thông tin điện tử huyện An Biên",
            "province": "Kiên Giang",
            "base_url": BASE,
            "cms": "sharepoint",
            "first_crawled_at": "2025-01-02T03:04:05Z",
        }
    ],
    "crawl_runs": [
        {
            "id": 1,
            "portal_id": "anbien",
            "started_at": "2025-01-02T03:04:05Z",
            "finished_at": "2025-01-02T03:09:00Z",
            "status": "finished",
            "sections": json.dumps(["Hoạt động địa phương"], ensure_ascii=False),
            "args": "{}",
            "pages": 3,
            "requests": 14,
            "bytes": 123456,
            "new": 2,
            "changed": 0,
            "unchanged": 0,
            "duplicates": 0,
            "failed": 1,
            "extra_stats": None,
        }
    ],
    "articles": [
        {
            "id": 1,
            "portal_id": "anbien",
            "url": URL_1,
            "section": "Hoạt động địa phương",
            "title": "Nam Du tổng kết phong trào thi đua “Dân vận khéo”",
            "published": "2020-08-03T10:40:00+07:00",
            "published_date": "2020-08-03",
            "lead": "Đảng ủy xã Nam Du tổ chức tổng kết.",
            "body": json.dumps(["Đoạn một về Đức.", "Đoạn hai."], ensure_ascii=False),
            "credit": json.dumps(CREDIT, ensure_ascii=False),
            "content_hash": "a" * 64,
            "first_seen_at": "2025-01-02T03:05:00Z",
            "last_seen_at": "2025-01-02T03:05:00Z",
            "parser_version": "0.1.0",
        },
        {
            "id": 2,
            "portal_id": "anbien",
            "url": URL_2,
            "section": "Hoạt động địa phương",
            "title": "HĐND huyện khai mạc kỳ họp thứ 12",
            "published": "2020-07-02",
            "published_date": "2020-07-02",
            "lead": None,
            "body": json.dumps(["Kỳ họp thứ 12."], ensure_ascii=False),
            "credit": None,
            "content_hash": "b" * 64,
            "first_seen_at": "2025-01-02T03:06:00Z",
            "last_seen_at": "2025-01-02T03:06:00Z",
            "parser_version": "0.1.0",
        },
    ],
    "article_urls": [
        {"url": URL_1, "article_id": 1, "first_seen_at": "2025-01-02T03:05:00Z"},
        {"url": URL_1 + "&Source=x", "article_id": 1, "first_seen_at": "2025-01-02T03:05:00Z"},
        {"url": URL_2, "article_id": 2, "first_seen_at": "2025-01-02T03:06:00Z"},
    ],
    "images": [
        {"id": 1, "article_id": 1, "position": 0, "src": f"{BASE}/a.jpg", "caption": "Quang cảnh."},
        {"id": 2, "article_id": 1, "position": 1, "src": f"{BASE}/b.jpg", "caption": None},
    ],
    "attachments": [
        {"id": 1, "article_id": 1, "position": 0, "url": f"{BASE}/kh.pdf", "name": "Kế hoạch"},
    ],
    "captures": [
        {
            "id": 1,
            "article_id": 1,
            "run_id": 1,
            "url": URL_1,
            "http_status": 200,
            "headers": json.dumps({"Content-Type": "text/html"}),
            "content_type": "text/html",
            "fetched_at": "2025-01-02T03:05:00Z",
            "compression": "zlib",
            "body": b"x\x9c\x03\x00\x00\x00\x00\x01",
            "body_sha256": "c" * 64,
            "content_hash": "a" * 64,
        },
        {
            "id": 2,
            "article_id": 2,
            "run_id": 1,
            "url": URL_2,
            "http_status": 200,
            "headers": "{}",
            "content_type": None,
            "fetched_at": "2025-01-02T03:06:00Z",
            "compression": "zlib",
            "body": b"x\x9c\x03\x00\x00\x00\x00\x01",
            "body_sha256": "d" * 64,
            "content_hash": "b" * 64,
        },
    ],
    "fetch_failures": [
        {
            "id": 1,
            "run_id": 1,
            "portal_id": "anbien",
            "url": f"{BASE}/gone",
            "reason": "HTTP 404",
            "http_status": 404,
            "failed_at": "2025-01-02T03:07:00Z",
        }
    ],
}


def make_v1_archive(path: Path) -> None:
    """An archive exactly as version 1 of portal-archive left it (WAL mode, no Alembic)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(V1_SQL.read_text(encoding="utf-8"))
    for table, rows in V1_ROWS.items():
        for row in rows:
            columns = ", ".join(f'"{c}"' for c in row)
            marks = ", ".join("?" for _ in row)
            conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))
    conn.commit()
    conn.close()


def table_rows(path: Path, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        names = ", ".join(f'"{c}"' for c in columns)
        return conn.execute(f"SELECT {names} FROM {table} ORDER BY rowid").fetchall()


def schema_objects(path: Path) -> dict[str, str]:
    """Views and the search tables as sqlite_master has them, white space folded."""
    with sqlite3.connect(path) as conn:
        found = conn.execute(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'view' OR name IN ('articles_fts', 'articles_fts_terms')"
        ).fetchall()
    return {name: re.sub(r"\s+", " ", sql).strip() for name, sql in found}


def term_counts(path: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(path) as conn:
        sql = "SELECT term, field, documents FROM articles_fts_terms ORDER BY term, field"
        return conn.execute(sql).fetchall()


def index_vocabulary(path: Path) -> list[tuple[str, str, int]]:
    """Each word of the search index and how many rows hold it, in any field ('*') and
    per field but the body, as FTS5 itself counts."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE VIRTUAL TABLE temp.r USING fts5vocab(main, articles_fts, row)")
        conn.execute("CREATE VIRTUAL TABLE temp.c USING fts5vocab(main, articles_fts, col)")
        sql = (
            "SELECT term, '*', doc FROM temp.r "
            "UNION ALL SELECT term, col, doc FROM temp.c WHERE col != 'body'"
        )
        return sorted(conn.execute(sql).fetchall())


@pytest.fixture
def v1_archive(tmp_path: Path) -> Path:
    path = tmp_path / "archive.sqlite"
    make_v1_archive(path)
    return path


def test_a_first_schema_archive_is_backed_up_and_upgraded_keeping_every_row(
    v1_archive: Path,
) -> None:
    with Archive.open(v1_archive) as archive:
        upgrade = archive.upgraded
        assert upgrade is not None
        assert (upgrade.from_version, upgrade.to_version) == (1, SCHEMA_VERSION)
        stored = {a["url"]: a for a in archive.iter_articles()}
        history = archive.history(URL_1 + "&Source=x")
        hits = archive.search("duc")
        stats = archive.stats()

    # The backup is the version-1 file, untouched, named with its version.
    assert upgrade.backup == v1_archive.with_name("archive.v1-backup.sqlite")
    for table, rows in V1_ROWS.items():
        assert table_rows(upgrade.backup, table, list(rows[0])) == [tuple(r.values()) for r in rows]

    # Every version-1 row is still there with every value it had.
    for table, rows in V1_ROWS.items():
        if table == "meta":
            continue
        assert table_rows(v1_archive, table, list(rows[0])) == [tuple(r.values()) for r in rows]
    assert table_rows(v1_archive, "meta", ["key", "value"]) == [
        ("schema_version", str(SCHEMA_VERSION))
    ]
    # New columns have the values a version-2 archive would have given them.
    assert table_rows(v1_archive, "articles", ["revision", "removed_at", "last_checked_at"]) == [
        (1, None, "2025-01-02T03:05:00Z"),
        (1, None, "2025-01-02T03:06:00Z"),
    ]
    assert table_rows(v1_archive, "crawl_runs", ["removed", "message"]) == [(0, None)]

    # Each old article is revision 1 of itself, pointing at its capture.
    first = stored[URL_1]
    assert first["revision"] == 1
    assert first["images"] == [
        {"src": f"{BASE}/a.jpg", "caption": "Quang cảnh."},
        {"src": f"{BASE}/b.jpg", "caption": None},
    ]
    assert first["credit"] == CREDIT
    assert [(r["revision"], r["reason"], r["capture_id"], r["run_id"]) for r in history] == [
        (1, "new", 1, 1)
    ]
    assert {k: history[0][k] for k in ("title", "body", "images", "attachments", "credit")} == {
        k: first[k] for k in ("title", "body", "images", "attachments", "credit")
    }
    # The search index and its word counts were filled from the old rows; the views answer.
    assert [hit["url"] for hit in hits] == [URL_1]
    assert term_counts(v1_archive) == index_vocabulary(v1_archive)
    assert ("duc", "*", 1) in term_counts(v1_archive)
    assert stats["totals"]["articles"] == 2 and stats["totals"]["failures"] == 1
    with sqlite3.connect(v1_archive) as conn:
        assert conn.execute("SELECT count(*) FROM current_articles").fetchone() == (2,)
        assert conn.execute("SELECT * FROM articles_by_month ORDER BY month").fetchall() == [
            ("anbien", "Cổng thông tin điện tử huyện An Biên", "2020-07", 1, 0),
            ("anbien", "Cổng thông tin điện tử huyện An Biên", "2020-08", 1, 0),
        ]
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (0,)  # a fresh connection
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_the_upgraded_schema_is_the_models_schema(v1_archive: Path, tmp_path: Path) -> None:
    Archive.open(v1_archive).close()
    engine = create_engine(f"sqlite:///{v1_archive}")
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _not_search_tables}
        )
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() == schema.HEAD
    engine.dispose()
    # Views and the search index: the same as a new archive's.
    fresh = tmp_path / "fresh.sqlite"
    Archive.open(fresh).close()
    assert schema_objects(v1_archive) == schema_objects(fresh)
    assert set(schema_objects(fresh)) == {
        "articles_fts",
        "articles_fts_terms",
        "current_articles",
        "articles_by_month",
    }
    # Check constraints moved on with the models.
    with sqlite3.connect(v1_archive) as conn:
        runs = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'crawl_runs'").fetchone()
        assert "'degraded'" in runs[0]
        revisions = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'article_revisions'"
        ).fetchone()
        assert "'reparse'" in revisions[0]


def _not_search_tables(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
    return not (type_ == "table" and name is not None and name.startswith("articles_fts"))


def test_migration_0001_is_the_first_schema(tmp_path: Path) -> None:
    """Running only the first migration gives the tables version 1 wrote."""
    by_fixture = tmp_path / "fixture.sqlite"
    make_v1_archive(by_fixture)
    by_alembic = tmp_path / "alembic.sqlite"
    engine = create_engine(f"sqlite:///{by_alembic}")
    with engine.begin() as conn:
        from alembic import command

        command.upgrade(schema.alembic_config(conn), "0001")
    engine.dispose()
    assert _describe(by_alembic) == _describe(by_fixture)


def _describe(path: Path) -> dict[str, Any]:
    return _describe_url(f"sqlite:///{path}")


def _describe_url(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    inspector = inspect(engine)
    tables = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        tables[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(
                (tuple(fk["constrained_columns"]), fk["referred_table"], str(fk["options"]))
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(c["sqltext"] for c in inspector.get_check_constraints(table)),
        }
    engine.dispose()
    return tables


def test_alembic_head_matches_the_schema_version() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        script = ScriptDirectory.from_config(schema.alembic_config(conn))
    assert script.get_current_head() == schema.HEAD == schema.REVISIONS[SCHEMA_VERSION]
    revisions = [rev.revision for rev in script.walk_revisions("base", "heads")]
    assert sorted(revisions) == sorted(schema.REVISIONS.values())


def test_a_second_open_does_not_upgrade_again(v1_archive: Path) -> None:
    Archive.open(v1_archive).close()
    with Archive.open(v1_archive) as again:
        assert again.upgraded is None
        assert again.count_articles() == 2
    assert sorted(p.name for p in v1_archive.parent.glob("*backup*")) == [
        "archive.v1-backup.sqlite"
    ]


def test_an_upgraded_archive_takes_new_revisions(v1_archive: Path) -> None:
    with Archive.open(v1_archive) as archive:
        article = next(archive.iter_articles())
        edited = {key: article[key] for key in GOLD_KEYS} | {"title": "Tiêu đề mới về Đức"}
        result = archive.store_article(
            "anbien",
            edited,
            fetched_url=article["url"],
            raw_body=b"<html>new</html>",
            http_status=200,
            headers={},
            run_id=None,
            parser_version="0.2.0",
        )
        assert (result.status, result.revision) == ("changed", 2)
        assert [h["title"] for h in archive.search("tieu de moi")] == ["Tiêu đề mới về Đức"]


def test_an_archive_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite"
    Archive.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(ArchiveError, match="newer portal-archive.*upgrade portal-archive"):
        Archive.open(path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE alembic_version SET version_num = '{schema.HEAD}'")
        conn.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    with pytest.raises(ArchiveError, match="schema version 7, written by a newer"):
        Archive.open(path)


def test_a_failed_upgrade_leaves_the_archive_as_it_was(
    v1_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command

    def broken(config: Any, target: str) -> None:
        conn = config.attributes["connection"]
        conn.exec_driver_sql("ALTER TABLE articles ADD COLUMN half_done TEXT")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(command, "upgrade", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        Archive.open(v1_archive)
    with sqlite3.connect(v1_archive) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(articles)")]
        assert "half_done" not in columns and "revision" not in columns
        assert conn.execute("SELECT value FROM meta").fetchone() == ("1",)
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "alembic_version" not in names


V2_SQL = V1_SQL.with_name("v2.sql")


def test_a_version_2_archive_is_upgraded_keeping_every_row(tmp_path: Path) -> None:
    """The schema every archive made before migrations existed had (no alembic_version)."""
    path = tmp_path / "archive.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(V2_SQL.read_text(encoding="utf-8"))
    body = json.dumps(["Đoạn về Nguyễn Đức."], ensure_ascii=False)
    conn.executescript(
        f"""
        INSERT INTO meta VALUES ('schema_version', '2');
        INSERT INTO portals VALUES ('anbien', 'An Biên', NULL, '{BASE}', NULL, NULL);
        INSERT INTO crawl_runs (id, portal_id, started_at, status, sections, args, pages,
            requests, bytes, new, changed, unchanged, duplicates, removed, failed, message)
            VALUES (1, 'anbien', 't0', 'degraded', '[]', '{{}}', 1, 2, 3, 1, 1, 0, 0, 0, 0,
            'no new article for 40 days');
        INSERT INTO articles (id, portal_id, url, title, body, content_hash, first_seen_at,
            last_seen_at, parser_version, revision, removed_at)
            VALUES (1, 'anbien', '{URL_1}', 'Sửa lần hai', '{body}', 'h2', 't0', 't1', 'p',
            2, 't2');
        INSERT INTO article_urls VALUES ('{URL_1}', 1, 't0');
        INSERT INTO images (article_id, position, src, caption) VALUES (1, 0, 'i', 'Đồng chí');
        INSERT INTO captures (id, article_id, run_id, url, http_status, headers, fetched_at,
            compression, body, body_sha256, content_hash)
            VALUES (1, 1, 1, '{URL_1}', 200, '{{}}', 't0', 'zlib', x'00', 's', 'h1');
        INSERT INTO article_revisions (article_id, revision, content_hash, url, title, body,
            images, attachments, capture_id, run_id, parser_version, observed_at, reason)
            VALUES (1, 1, 'h1', '{URL_1}', 'Bản đầu', '[]', '[]', '[]', 1, 1, 'p', 't0', 'new'),
                   (1, 2, 'h2', '{URL_1}', 'Sửa lần hai', '{body}', '[]', '[]', 1, 1, 'p',
                    't1', 'edit');
        INSERT INTO article_events (article_id, run_id, kind, at, detail, http_status, revision)
            VALUES (1, 1, 'removed', 't2', 'HTTP 404', 404, 2);
        INSERT INTO frontier (portal_id, url, section, run_id, discovered_at)
            VALUES ('anbien', '{URL_2}', NULL, 1, 't0');
        INSERT INTO fetch_failures (run_id, portal_id, url, reason, failed_at)
            VALUES (1, 'anbien', '{URL_2}', 'HTTP 500', 't0');
        """
    )
    conn.commit()
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    before = {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    columns = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    conn.close()

    with Archive.open(path) as archive:
        assert archive.upgraded is not None and archive.upgraded.from_version == 2
        assert [h["title"] for h in archive.search("nguyen duc")] == ["Sửa lần hai"]
        assert [r["title"] for r in archive.history(URL_1)] == ["Bản đầu", "Sửa lần hai"]
    assert archive.upgraded.backup == path.with_name("archive.v2-backup.sqlite")
    for table in tables:
        if table == "meta":
            continue
        assert table_rows(path, table, columns[table]) == before[table], table
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn2:
        context = MigrationContext.configure(
            conn2, opts={"compare_type": True, "include_object": _not_search_tables}
        )
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


# --- PostgreSQL: the same migrations build the same schema ---------------------------


def test_the_migrations_build_a_postgresql_archive_like_a_new_one(
    pg_url: str, pg_server_url: str
) -> None:
    """0001 on an empty PostgreSQL database, version-1 rows, then opening it upgrades it."""
    from alembic import command
    from sqlalchemy import column, insert, table, text

    from tests import servers

    engine = create_engine(pg_url)
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0001")
        for name, rows in V1_ROWS.items():
            if name != "meta":  # 0001 wrote it
                target = table(name, *(column(c) for c in rows[0]))
                conn.execute(insert(target), rows)
    with Archive.open(pg_url) as archive:
        # No file to copy: a PostgreSQL archive is backed up by its owner's means.
        assert archive.upgraded == schema.Upgrade(1, SCHEMA_VERSION, None)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _not_search_tables}
        )
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() == schema.HEAD
        assert conn.execute(text("SELECT count(*) FROM current_articles")).scalar() == 2
        assert conn.execute(
            text("SELECT month, articles, removed FROM articles_by_month ORDER BY month")
        ).all() == [("2020-07", 1, 0), ("2020-08", 1, 0)]
    engine.dispose()

    # What a new PostgreSQL archive has: the same tables, columns, keys and indexes
    # (added columns come last in a migrated table: the order is not compared).
    fresh = servers.new_pg_database(pg_server_url, "t_migrations_fresh")
    Archive.open(fresh).close()
    migrated, created = _describe_url(pg_url), _describe_url(fresh)
    for tables in (migrated, created):
        for description in tables.values():
            description["columns"].sort()
    assert migrated == created
    assert "articles_fts" in created

    # The old rows read back as in an upgraded SQLite archive; search was filled.
    with Archive.open(pg_url) as archive:
        assert archive.upgraded is None
        first = next(a for a in archive.iter_articles() if a["url"] == URL_1)
        assert first["credit"] == CREDIT and first["revision"] == 1
        assert first["images"] == [
            {"src": f"{BASE}/a.jpg", "caption": "Quang cảnh."},
            {"src": f"{BASE}/b.jpg", "caption": None},
        ]
        history = archive.history(URL_1 + "&Source=x")
        assert [(r["revision"], r["reason"], r["capture_id"], r["run_id"]) for r in history] == [
            (1, "new", 1, 1)
        ]
        assert history[0]["images"] == first["images"]
        assert history[0]["attachments"] == [{"url": f"{BASE}/kh.pdf", "name": "Kế hoạch"}]
        assert [hit["url"] for hit in archive.search("duc")] == [URL_1]
        assert [hit["url"] for hit in archive.search("captions:quang")] == [URL_1]
        assert archive.stats()["totals"]["failures"] == 1
