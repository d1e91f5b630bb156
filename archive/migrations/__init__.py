"""Alembic migrations of the archive schema, run by `archive.schema` when an archive is opened.

versions/0001 is the first schema (version 1); each later file is the next version.
"""
