"""A WARC of a portal snapshot written directly with warcio, as another tool would.

Not with the crawler, nor with archive.warcs: one request and one response
record per line of responses.jsonl, the request record first (as wget writes
them), URIs on the live portal, bodies as the snapshot holds them.
"""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from urllib.parse import urlencode

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 503: "Busy"}


def _answers(line: dict) -> list[dict]:
    # A line answering 5xx a few times, then something else: both are what a
    # capture tool would have recorded, the later answer last.
    return [line, line["then"]] if line.get("then") else [line]


def write_snapshot_warc(snapshot: Path, out: Path, state: str = "responses.jsonl") -> Path:
    site = json.loads((snapshot / "site.json").read_text(encoding="utf-8"))
    base = site["base_url"].rstrip("/")
    with out.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True, warc_version="1.0")
        writer.write_record(
            writer.create_warcinfo_record(out.name, {"software": "tests/foreign_warc.py"})
        )
        for raw in (snapshot / state).read_text(encoding="utf-8").splitlines():
            if not raw.strip():
                continue
            line = json.loads(raw)
            uri = base + line["path"]
            method = line.get("method", "GET")
            form = urlencode(line.get("form") or {}).encode()
            for answer in _answers(line):
                body = (snapshot / answer["body"]).read_bytes() if answer.get("body") else b""
                status = int(answer["status"])
                headers = list((answer.get("headers") or {}).items())
                response = writer.create_warc_record(
                    uri,
                    "response",
                    payload=BytesIO(body),
                    length=len(body),
                    http_headers=StatusAndHeaders(
                        f"{status} {REASONS.get(status, 'Status')}", headers, "HTTP/1.1"
                    ),
                )
                request_headers = [("Host", base.split("://", 1)[1]), ("User-Agent", "Wget/1.21")]
                if method == "POST":
                    request_headers.append(("Content-Type", "application/x-www-form-urlencoded"))
                request = writer.create_warc_record(
                    uri,
                    "request",
                    payload=BytesIO(form if method == "POST" else b""),
                    length=len(form) if method == "POST" else 0,
                    http_headers=StatusAndHeaders(
                        f"{method} {line['path']} HTTP/1.1", request_headers, is_http_request=True
                    ),
                )
                request.rec_headers.add_header(
                    "WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID")
                )
                writer.write_record(request)
                writer.write_record(response)
    return out


def write_revisit_warc(original: Path, out: Path) -> Path:
    """A later capture of the same pages, every payload unchanged: revisit records only.

    Each 200 response of `original` comes back as a revisit naming its payload
    digest, as a re-crawl by Heritrix or by us would write it into a new file.
    """
    from warcio.archiveiterator import ArchiveIterator

    with original.open("rb") as source, out.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True, warc_version="1.0")
        for record in ArchiveIterator(source):
            if record.rec_type != "response" or record.http_headers.get_statuscode() != "200":
                continue
            headers = record.rec_headers
            revisit = writer.create_revisit_record(
                headers.get_header("WARC-Target-URI"),
                digest=headers.get_header("WARC-Payload-Digest"),
                refers_to_uri=headers.get_header("WARC-Target-URI"),
                refers_to_date=headers.get_header("WARC-Date"),
                http_headers=record.http_headers,
            )
            writer.write_record(revisit)
    return out
