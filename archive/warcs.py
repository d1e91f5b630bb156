"""WARC files (ISO 28500, WARC/1.1) of every HTTP exchange, written with warcio.

Knows nothing of Scrapy: the crawl hands over `Exchange`s. Each exchange becomes
a response record and a request record (gzip per record), each file opens with
a warcinfo record naming the tool, its version and the portal, and files rotate
by size, one folder per portal. A response whose payload the portal already
served (same payload digest) becomes a revisit record with the profile
identical-payload-digest, pointing at the first copy; the digests live in the
archive's `warc_records` table, so this holds across runs.
"""

from __future__ import annotations

import http
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select, update
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from archive.models import Capture, WarcRecord

TOOL = "portal-archive"
WARC_VERSION = "WARC/1.1"
# 1 GB, the customary size of a WARC file (Heritrix, Browsertrix).
DEFAULT_MAX_SIZE = 1_000_000_000
# The body is recorded as it arrived, minus the chunked framing: a
# Transfer-Encoding header would make readers try to de-chunk it again.
_RENAMED_HEADERS = {"transfer-encoding": "X-Archive-Orig-Transfer-Encoding"}


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and the response the server sent to it."""

    target_uri: str  # the portal's live URL, also when fetched from a mirror
    method: str
    request_headers: list[tuple[str, str]]
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes  # as the server sent it (content-encoded, if it was)
    request_body: bytes = b""
    protocol: str = "HTTP/1.1"
    reason: str | None = None
    ip_address: str | None = None


@dataclass(frozen=True)
class WarcLocation:
    """Where an exchange's response (or revisit) record is."""

    file: str  # relative to the data directory when inside it, else absolute
    offset: int
    length: int
    record_id: str
    record_type: str  # "response" or "revisit"
    row_id: int | None = None  # the warc_records row, when indexed in an archive

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Original:
    """The first response record of a payload, as a revisit refers to it."""

    row_id: int | None
    target_uri: str
    warc_date: str
    record_id: str


def payload_digest(body: bytes) -> str:
    """WARC-Payload-Digest of a body: "sha1:" and the base-32 SHA-1, as warcio writes it."""
    digester = Digester("sha1")
    digester.update(body)
    return str(digester)


class PayloadIndex:
    """Payload digests already written, in memory: for crawls without an archive."""

    def __init__(self) -> None:
        self._seen: dict[str, Original] = {}

    def find(self, digest: str) -> Original | None:
        return self._seen.get(digest)

    def add(
        self, exchange: Exchange, location: WarcLocation, digest: str, date: str, refers_to: Any
    ) -> int | None:
        if location.record_type == "response":
            self._seen.setdefault(
                digest, Original(None, exchange.target_uri, date, location.record_id)
            )
        return None


class ArchivePayloadIndex(PayloadIndex):
    """The payload-digest index in the archive (warc_records), per portal, across runs."""

    def __init__(self, archive: Any, portal_id: str, run_id: int | None) -> None:
        super().__init__()
        self.archive = archive
        self.portal_id = portal_id
        self.run_id = run_id

    # Core statements, not ORM objects: one look-up and one insert per WARC record,
    # and the unit of work cost more than the SQL.
    def find(self, digest: str) -> Original | None:
        stmt = (
            select(WarcRecord.id, WarcRecord.target_uri, WarcRecord.warc_date, WarcRecord.record_id)
            .where(
                WarcRecord.portal_id == self.portal_id,
                WarcRecord.payload_digest == digest,
                WarcRecord.record_type == "response",
            )
            .order_by(WarcRecord.id)
            .limit(1)
        )
        with self.archive._read() as session:  # same package: the archive's own sessions
            row = session.execute(stmt).first()
        return None if row is None else Original(*row)

    def add(
        self,
        exchange: Exchange,
        location: WarcLocation,
        digest: str,
        date: str,
        refers_to: Original | None,
    ) -> int | None:
        stmt = (
            insert(WarcRecord)
            .values(
                portal_id=self.portal_id,
                run_id=self.run_id,
                warc_file=location.file,
                warc_offset=location.offset,
                warc_length=location.length,
                record_id=location.record_id,
                record_type=location.record_type,
                target_uri=exchange.target_uri,
                method=exchange.method,
                http_status=exchange.status,
                content_type=_header(exchange.response_headers, "content-type"),
                warc_date=date,
                payload_digest=digest,
                payload_length=len(exchange.body),
                refers_to=refers_to.row_id if refers_to else None,
            )
            .returning(WarcRecord.id)
        )
        with self.archive._write.begin() as session:
            return session.execute(stmt).scalar_one()


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def relative_to(path: Path, data_dir: Path) -> str:
    """A file's name as the archive records it: relative to the data directory if inside."""
    try:
        return str(path.resolve().relative_to(data_dir.resolve()))
    except ValueError:
        return str(path.resolve())


@dataclass
class WarcWriter:
    """Writes a portal's exchanges into rotating files `<folder>/<portal>-<time>-<n>.warc.gz`."""

    folder: Path
    portal_id: str
    data_dir: Path
    max_size: int = DEFAULT_MAX_SIZE
    info: dict[str, str] = field(default_factory=dict)
    index: PayloadIndex = field(default_factory=PayloadIndex)
    files: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._out: Any = None
        self._writer: WARCWriter | None = None
        self._stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:17]

    def write(self, exchange: Exchange) -> WarcLocation:
        """Write one exchange (response or revisit record, then its request record)."""
        writer = self._current()
        date = datetime_to_iso_date(datetime.now(UTC).replace(tzinfo=None), use_micros=True)
        digest = payload_digest(exchange.body)
        original = self.index.find(digest) if exchange.body else None
        response = (
            self._revisit(writer, exchange, digest, date, original)
            if original is not None
            else self._response(writer, exchange, digest, date)
        )
        offset = self._out.tell()
        writer.write_record(response)
        length = self._out.tell() - offset
        request = self._request(writer, exchange, date)
        request.rec_headers.add_header(
            "WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID")
        )
        writer.write_record(request)
        location = WarcLocation(
            relative_to(self.files[-1], self.data_dir),
            offset,
            length,
            response.rec_headers.get_header("WARC-Record-ID"),
            response.rec_type,
        )
        row_id = self.index.add(exchange, location, digest, date, original)
        return WarcLocation(**{**location.as_dict(), "row_id": row_id})

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = self._writer = None

    def _current(self) -> WARCWriter:
        if self._out is not None and self._out.tell() < self.max_size:
            assert self._writer is not None
            return self._writer
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        serial = len(self.files)
        name = f"{self.portal_id}-{self._stamp}-{serial:05d}-{os.getpid()}.warc.gz"
        path = self.folder / name
        self._out = open(path, "xb")  # noqa: SIM115 - kept open across writes, closed in close()
        self.files.append(path)
        self._writer = WARCWriter(self._out, gzip=True, warc_version=WARC_VERSION)
        fields = {
            "software": f"{TOOL}/{_version()} (warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/"
            "specifications/warc-format/warc-1.1/",
            "portal": self.portal_id,
            **self.info,
        }
        self._writer.write_record(self._writer.create_warcinfo_record(name, fields))
        return self._writer

    @staticmethod
    def _http_response(exchange: Exchange) -> StatusAndHeaders:
        reason = exchange.reason or _reason(exchange.status)
        headers = [(_RENAMED_HEADERS.get(k.lower(), k), v) for k, v in exchange.response_headers]
        return StatusAndHeaders(
            f"{exchange.status} {reason}".strip(), headers, protocol=exchange.protocol
        )

    def _warc_headers(self, exchange: Exchange, date: str) -> dict[str, str]:
        headers = {"WARC-Date": date}
        if exchange.ip_address:
            headers["WARC-IP-Address"] = exchange.ip_address
        return headers

    def _response(self, writer: WARCWriter, exchange: Exchange, digest: str, date: str) -> Any:
        return writer.create_warc_record(
            exchange.target_uri,
            "response",
            payload=BytesIO(exchange.body),
            length=len(exchange.body),
            http_headers=self._http_response(exchange),
            warc_headers_dict={**self._warc_headers(exchange, date), "WARC-Payload-Digest": digest},
        )

    def _revisit(
        self, writer: WARCWriter, exchange: Exchange, digest: str, date: str, original: Original
    ) -> Any:
        record = writer.create_revisit_record(
            exchange.target_uri,
            digest,
            original.target_uri,
            original.warc_date,
            http_headers=self._http_response(exchange),
            warc_headers_dict=self._warc_headers(exchange, date),
        )
        record.rec_headers.add_header("WARC-Refers-To", original.record_id)
        return record

    @staticmethod
    def _request(writer: WARCWriter, exchange: Exchange, date: str) -> Any:
        parts = urlsplit(exchange.target_uri)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = list(exchange.request_headers)
        names = {k.lower() for k, _ in headers}
        if "host" not in names:
            headers.insert(0, ("Host", parts.netloc))
        if exchange.request_body and "content-length" not in names:
            headers.append(("Content-Length", str(len(exchange.request_body))))
        http_headers = StatusAndHeaders(
            f"{exchange.method} {target} {exchange.protocol}", headers, is_http_request=True
        )
        return writer.create_warc_record(
            exchange.target_uri,
            "request",
            payload=BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": date},
        )


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _version() -> str:
    try:
        from importlib.metadata import version

        return version(TOOL)
    except Exception:  # running from a checkout that was never installed
        return "0+unknown"


# --- links and reading back -----------------------------------------------------


def link_capture(archive: Any, capture_id: int, location: dict[str, Any]) -> None:
    """Point a stored capture at the WARC record holding the same response."""
    with archive._write.begin() as session:
        session.execute(
            update(Capture)
            .where(Capture.id == capture_id)
            .values(warc_file=location["file"], warc_offset=location["offset"])
        )


@dataclass(frozen=True)
class WarcResponse:
    """A response read back from a WARC file."""

    target_uri: str
    record_type: str
    warc_date: str
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes  # content-decoded (gzip/deflate undone), as a parser wants it
    method: str = "GET"
    request_body: bytes = b""
    offset: int = 0
    payload_digest: str | None = None
    refers_to_uri: str | None = None
    refers_to_date: str | None = None


def read_response(path: Path, offset: int) -> WarcResponse:
    """The response (or revisit) record at `offset` of a WARC file."""
    with open(path, "rb") as stream:
        stream.seek(offset)
        for record in ArchiveIterator(stream):
            return _as_response(record, offset)
    raise ValueError(f"no WARC record at offset {offset} of {path}")


def iter_responses(path: Path, *, bodies: bool = True) -> Iterator[WarcResponse]:
    """Every response and revisit record of a WARC file, with its request's method and body.

    A request record is matched to its response by WARC-Concurrent-To, whichever
    comes first in the file (tools differ). With bodies=False the payloads are
    skipped (body b""), for an index of a file too large to hold: read_response
    gets one back by its offset.
    """
    requests: dict[str, tuple[str, bytes]] = {}
    pending: dict[str, WarcResponse] = {}
    with open(path, "rb") as stream:
        iterator = ArchiveIterator(stream)
        for record in iterator:
            kind = record.rec_type
            if kind == "request":
                method = (record.http_headers.protocol if record.http_headers else "") or "GET"
                body = record.content_stream().read()
                concurrent = record.rec_headers.get_header("WARC-Concurrent-To")
                if concurrent in pending:
                    yield _with_request(pending.pop(concurrent), method, body)
                elif concurrent:
                    requests[concurrent] = (method, body)
            elif kind in ("response", "revisit") and record.http_headers is not None:
                response = _as_response(record, 0, body=bodies)
                # Only once the record is read: asking for the offset reads it to its end.
                response = replace(response, offset=iterator.get_record_offset())
                record_id = record.rec_headers.get_header("WARC-Record-ID")
                if record_id in requests:
                    yield _with_request(response, *requests.pop(record_id))
                else:
                    pending[record_id] = response
    # Responses without a request record: a GET is the safe guess.
    yield from pending.values()


def _with_request(response: WarcResponse, method: str, body: bytes) -> WarcResponse:
    return replace(response, method=method.upper(), request_body=body)


def _as_response(record: Any, offset: int, *, body: bool = True) -> WarcResponse:
    rec = record.rec_headers
    http_headers = record.http_headers
    status = int((http_headers.get_statuscode() or "0") if http_headers else 0)
    headers: dict[str, str] = {}
    for name, value in http_headers.headers if http_headers else []:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    payload = record.content_stream().read() if body and record.rec_type != "revisit" else b""
    return WarcResponse(
        target_uri=rec.get_header("WARC-Target-URI") or "",
        record_type=record.rec_type,
        warc_date=rec.get_header("WARC-Date") or "",
        status=status,
        headers=headers,
        body=payload,
        offset=offset,
        payload_digest=rec.get_header("WARC-Payload-Digest"),
        refers_to_uri=rec.get_header("WARC-Refers-To-Target-URI"),
        refers_to_date=rec.get_header("WARC-Refers-To-Date"),
    )
