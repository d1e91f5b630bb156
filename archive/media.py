"""The media store: images and attachments of articles, content-addressed by SHA-256.

A file lives at `<data dir>/media/ab/cd/<sha256>` (the first two pairs of hex
digits as folders), so the same photo used by ten articles, or served at two
URLs, is stored once. The `media` table describes each file (MIME type, size,
pixel size of images); `media_urls` maps every URL fetched to its file, or to
why there is none; `images.media_sha256` and `attachments.media_sha256` link an
article's rows to their files.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from archive.models import Attachment, Image, MediaFile, MediaUrl, dialect_insert, utc_now

DEFAULT_MIME = "application/octet-stream"


# --- what a file is, from its first bytes ------------------------------------------


def sniff_mime(data: bytes) -> str | None:
    """The MIME type the bytes themselves declare, for the formats portals serve."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM") and len(data) > 26:
        return "image/bmp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if b"<svg" in data[:1024].lower():
        return "image/svg+xml"
    return None


def mime_type(data: bytes, content_type: str | None) -> str:
    """The sniffed type for formats we recognise; else the server's Content-Type."""
    sniffed = sniff_mime(data)
    if sniffed:
        return sniffed
    declared = (content_type or "").split(";")[0].strip().lower()
    return declared or DEFAULT_MIME


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels from a JPEG, PNG, GIF, WebP or BMP header; None otherwise.

    Reads headers only, so no imaging library is needed.
    """
    try:
        kind = sniff_mime(data)
        if kind == "image/png" and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if kind == "image/gif":
            return struct.unpack("<HH", data[6:10])
        if kind == "image/jpeg":
            return _jpeg_size(data)
        if kind == "image/webp":
            return _webp_size(data)
        if kind == "image/bmp":
            width, height = struct.unpack("<ii", data[18:26])
            return width, abs(height)
    except struct.error:
        return None
    return None


# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            pos += 1
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xDA)):  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


# --- the files ------------------------------------------------------------------


def media_path(sha256: str) -> str:
    """Where a file with this hash lives, relative to the data directory."""
    return f"media/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def put_file(data_dir: Path, data: bytes) -> tuple[str, str]:
    """Store bytes once under the data directory; (sha256, relative path).

    Written to a temporary file and renamed into place, so a reader (or a
    second crawl storing the same photo at the same moment) never sees half a file.
    """
    digest = hashlib.sha256(data).hexdigest()
    relative = media_path(digest)
    target = data_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    return digest, relative


# --- the rows -------------------------------------------------------------------


def store_media(
    archive: Any,
    data_dir: Path,
    portal_id: str,
    url: str,
    data: bytes,
    *,
    http_status: int = 200,
    content_type: str | None = None,
) -> str:
    """Store one downloaded file and record the URL it came from; its sha256.

    Every image and attachment row of any article with this URL is linked to it.
    """
    digest, relative = put_file(data_dir, data)
    size = image_size(data)
    now = utc_now()
    dialect = archive.engine.dialect.name
    # Upserts, not look-ups then inserts: crawls running side by side (on PostgreSQL)
    # store the same photo, or fetch the same URL, at the same moment.
    new_file = (
        dialect_insert(dialect, MediaFile)
        .values(
            sha256=digest,
            mime_type=mime_type(data, content_type),
            size=len(data),
            width=size[0] if size else None,
            height=size[1] if size else None,
            path=relative,
            first_seen_at=now,
        )
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    fetched = _url_upsert(
        dialect,
        url=url,
        portal_id=portal_id,
        sha256=digest,
        http_status=http_status,
        content_type=content_type,
        fetched_at=now,
        error=None,
    )
    with archive._write.begin() as session:  # same package: the archive's own sessions
        session.execute(new_file)
        session.execute(fetched)
        _link(session, url, digest)
    return digest


def _url_upsert(dialect: str, *, keep_file: bool = False, **values: Any) -> Any:
    """Insert or update a media_urls row; with `keep_file`, a row that has a file stays."""
    insert = dialect_insert(dialect, MediaUrl).values(**values)
    return insert.on_conflict_do_update(
        index_elements=["url"],
        set_={name: insert.excluded[name] for name in values if name != "url"},
        where=MediaUrl.sha256.is_(None) if keep_file else None,
    )


def record_media_failure(
    archive: Any,
    portal_id: str,
    url: str,
    error: str,
    *,
    http_status: int | None = None,
    content_type: str | None = None,
) -> None:
    """Remember a URL that gave no file, and why; a URL that once gave one keeps it."""
    failed = _url_upsert(
        archive.engine.dialect.name,
        keep_file=True,
        url=url,
        portal_id=portal_id,
        sha256=None,
        http_status=http_status,
        content_type=content_type,
        fetched_at=utc_now(),
        error=error,
    )
    with archive._write.begin() as session:
        session.execute(failed)


def needs_fetch(archive: Any, url: str) -> bool:
    """Whether a URL is worth (re)fetching: never tried, or failed for a passing reason.

    Stored files are not fetched again; URLs that answered 4xx, or were not ours
    to fetch (robots.txt, offsite, too large), are not retried either.
    """
    with archive._read() as session:
        row = session.get(MediaUrl, url)
    if row is None:
        return True
    if row.sha256 is not None:
        return False
    return not (
        (row.http_status is not None and 400 <= row.http_status < 500)
        or (row.error or "").startswith(("not fetched", "larger than"))
    )


def link_article(archive: Any, article_id: int) -> None:
    """Link an article's image and attachment rows to the files already stored for them.

    Needed after an edit or a re-parse, which rebuild those rows.
    """
    with archive._write.begin() as session:
        for model, column in ((Image, Image.src), (Attachment, Attachment.url)):
            stored = select(MediaUrl.sha256).where(MediaUrl.url == column).scalar_subquery()
            session.execute(
                update(model).where(model.article_id == article_id).values(media_sha256=stored)
            )


def _link(session: Any, url: str, digest: str) -> None:
    session.execute(update(Image).where(Image.src == url).values(media_sha256=digest))
    session.execute(update(Attachment).where(Attachment.url == url).values(media_sha256=digest))


def article_media(archive: Any, article_id: int) -> list[dict[str, Any]]:
    """An article's images and attachments with their stored files, in order."""
    rows: list[dict[str, Any]] = []
    with archive._read() as session:
        for kind, model, column in (
            ("image", Image, Image.src),
            ("attachment", Attachment, Attachment.url),
        ):
            stmt = (
                select(model.position, column, MediaFile)
                .outerjoin(MediaFile, MediaFile.sha256 == model.media_sha256)
                .where(model.article_id == article_id)
                .order_by(model.position)
            )
            for position, url, media in session.execute(stmt).all():
                rows.append(
                    {
                        "kind": kind,
                        "position": position,
                        "url": url,
                        "sha256": media.sha256 if media else None,
                        "mime_type": media.mime_type if media else None,
                        "size": media.size if media else None,
                        "width": media.width if media else None,
                        "height": media.height if media else None,
                        "path": media.path if media else None,
                    }
                )
    return rows
