"""Alembic environment: migrations run on the connection `archive.schema` hands over.

No alembic.ini is needed at run time. A developer can still point the alembic
command at a database (`sqlalchemy.url`) to write a new revision with
`--autogenerate` against archive.models.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from archive.models import Base

config = context.config


def _include(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # The search index and its shadow tables are not ORM tables; nor are the views.
    return not (type_ == "table" and name is not None and name.startswith("articles_fts"))


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters tables by copying them; batch mode writes that for us.
        render_as_batch=True,
        compare_type=True,
        include_object=_include,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as conn:
        _run(conn)
