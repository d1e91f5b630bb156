"""Schema version 4: indexes on images.src and attachments.url.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Storing a downloaded file links every image and attachment row with its URL;
without these indexes each link scanned the whole table, so a crawl slowed
down with the size of the archive (quadratic over a crawl).
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_images_src", "images", ["src"])
    op.create_index("ix_attachments_url", "attachments", ["url"])
    op.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")


def downgrade() -> None:
    raise NotImplementedError("archives are not downgraded: open the backup made by the upgrade")
