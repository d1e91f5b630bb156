"""`portal-archive import-warc`: archive rows from a WARC file made by any tool.

A portal captured elsewhere (wget --warc-file, Browsertrix, Heritrix) — or
already gone — joins the archive the way a crawl would have filled it: the
WARC's listing pages of the portal's sections are walked (links, pagination,
ASP.NET postbacks answered by POST records), the articles they list are read
from the WARC's responses (following recorded redirects), parsed with the
current parser and profile, and stored with their raw capture pointing at the
WARC record; the articles' images and attachments found in the WARC go to the
media store. Nothing is fetched from the network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urljoin

from archive.media import store_media
from archive.warcs import WarcResponse, iter_responses, link_capture, read_response
from portal_crawler.listing import analyse_listing
from portal_crawler.media import media_urls
from portal_crawler.parsing import PARSER_VERSION, parse_article
from portal_crawler.parsing.article import missing_fields
from portal_crawler.parsing.decode import decode_html
from portal_crawler.profiles import Profile, Section
from portal_crawler.urls import canonicalize_url

HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")
MAX_REDIRECTS = 10


@dataclass
class ImportSummary:
    responses: int = 0
    listing_pages: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: {"new": 0, "changed": 0, "unchanged": 0, "duplicates": 0}
    )
    failed: list[tuple[str, str]] = field(default_factory=list)
    media: int = 0
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "responses": self.responses,
            "listing_pages": self.listing_pages,
            **self.counts,
            "failed": len(self.failed),
            "media_stored": self.media,
            "failures": [{"url": url, "reason": why} for url, why in self.failed],
        }


@dataclass(frozen=True)
class Fetched:
    """A GET answered from the WARC files: final URL, the response with its body, its file."""

    url: str
    response: WarcResponse
    path: Path


class _Entry(NamedTuple):
    """What the index keeps of a record: enough to follow redirects and find payloads."""

    path: Path
    offset: int
    kind: str
    status: int
    location: str | None
    digest: str | None


class WarcPages:
    """The responses of WARC files, found by URL the way a crawler would ask for them.

    Only a small index is kept (URL → file, offset, status, redirect target); a
    record is read from its file when asked for, so WARC files of any size import
    in little memory. Several files are one capture, in order (a crawl's rotated
    files, or a re-crawl's file after the first): the last capture of a URL is
    the newest, and a revisit takes its payload from the response it repeats, in
    whichever file that is.
    """

    def __init__(self, paths: Iterable[Path]):
        self.responses = 0
        self.originals: dict[str, tuple[Path, int]] = {}
        self.get: dict[str, _Entry] = {}
        self.post: dict[str, list[_Entry]] = {}
        for path in paths:
            for record in iter_responses(path, bodies=False):
                self.responses += 1
                entry = _Entry(
                    path,
                    record.offset,
                    record.record_type,
                    record.status,
                    record.headers.get("location"),
                    record.payload_digest,
                )
                if entry.kind == "response" and entry.digest:
                    self.originals.setdefault(entry.digest, (path, entry.offset))
                key = canonicalize_url(record.target_uri)
                if record.method == "POST":
                    self.post.setdefault(key, []).append(entry)
                else:
                    self.get[key] = entry

    def _loaded(self, entry: _Entry) -> Fetched | None:
        record = read_response(entry.path, entry.offset)
        if entry.kind != "revisit":
            return Fetched(record.target_uri, record, entry.path)
        original = self.originals.get(entry.digest or "")
        if original is None:
            return None
        body = read_response(*original).body
        return Fetched(
            record.target_uri, replace(record, body=body, offset=original[1]), original[0]
        )

    def fetch(self, url: str) -> Fetched | None:
        """A GET of `url`, redirects followed within the WARC files; None if not captured.

        The answer's path and offset are those of the record holding the payload:
        the original response, for a revisit.
        """
        for _ in range(MAX_REDIRECTS):
            entry = self.get.get(canonicalize_url(url))
            if entry is None:
                return None
            if not (300 <= entry.status < 400 and entry.location):
                loaded = self._loaded(entry)
                return None if loaded is None else replace(loaded, url=url)
            url = urljoin(url, entry.location)
        return None

    def posts(self, url: str) -> list[WarcResponse]:
        """The POST answers (ASP.NET postbacks) recorded for `url`, with their bodies."""
        loaded = (self._loaded(entry) for entry in self.post.get(canonicalize_url(url), []))
        return [fetched.response for fetched in loaded if fetched is not None]


def _is_html(response: WarcResponse) -> bool:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in HTML_TYPES


def listed_articles(
    pages: WarcPages, profile: Profile, sections: list[Section]
) -> tuple[list[tuple[str, str]], int]:
    """(article URL, section) pairs listed by the sections' listing pages; pages walked."""
    found: dict[str, str] = {}
    walked = 0
    for section in sections:
        queue = [section.url]
        seen: set[str] = set()
        while queue:
            url = queue.pop(0)
            if canonicalize_url(url) in seen:
                continue
            seen.add(canonicalize_url(url))
            fetched = pages.fetch(url)
            if fetched is None:
                continue
            final = fetched.url
            # The page itself, then the postback answers recorded for its address.
            for page in [fetched.response, *pages.posts(final)]:
                if page.status != 200 or not _is_html(page):
                    continue
                walked += 1
                html = decode_html(page.body, page.headers)
                listing = analyse_listing(html, final, profile=profile)
                for article_url in listing.article_urls:
                    found.setdefault(article_url, section.name)
                queue.extend(listing.page_urls)
    return list(found.items()), walked


def import_warc(
    archive: Any,
    paths: Path | list[Path],
    profile: Profile,
    *,
    data_dir: Path,
    sections: list[Section] | None = None,
    media: str = "all",
) -> ImportSummary:
    """Import the portal's articles (and their files) from WARC files of one capture."""
    paths = [paths] if isinstance(paths, Path) else list(paths)
    sections = list(sections or profile.sections)
    pages = WarcPages(paths)
    summary = ImportSummary(responses=pages.responses)
    archive.upsert_portal(
        profile.id, profile.name, profile.base_url, province=profile.province, cms=profile.family
    )
    run_id = summary.run_id = archive.start_run(
        profile.id,
        [s.name for s in sections],
        {"import_warc": [str(path.resolve()) for path in paths]},
    )
    try:
        # A crawl of the portal writing at the same time would race for the same rows.
        archive.acquire_lock(profile.id, run_id=run_id)
        listed, summary.listing_pages = listed_articles(pages, profile, sections)
        for url, section in listed:
            article = _import_article(archive, pages, profile, url, section, run_id, summary)
            if article is not None and media != "off":
                summary.media += _import_media(archive, pages, profile, article, data_dir, media)
        archive.finish_run(
            run_id,
            "finished",
            {
                **summary.counts,
                "pages": summary.listing_pages,
                "requests": summary.responses,
                "failed": len(summary.failed),
            },
        )
    except BaseException as exc:
        archive.finish_run(run_id, "failed", {}, message=f"import stopped: {exc}")
        raise
    finally:
        archive.release_lock(profile.id)
    return summary


def _import_article(
    archive: Any,
    pages: WarcPages,
    profile: Profile,
    url: str,
    section: str,
    run_id: int,
    summary: ImportSummary,
) -> dict[str, Any] | None:
    """Store one listed article from the WARC; the article, or None if it failed."""

    def fail(reason: str, status: int | None = None) -> None:
        summary.failed.append((url, reason))
        archive.record_failure(profile.id, url, reason, run_id=run_id, http_status=status)

    fetched = pages.fetch(url)
    if fetched is None:
        return fail("not in the WARC files (or a revisit of a payload none of them holds)")
    final, response = fetched.url, fetched.response
    if response.status != 200:
        return fail(f"HTTP {response.status}", response.status)
    if not _is_html(response):
        return fail(f"not an HTML page ({response.headers.get('content-type')})", 200)
    article = parse_article(
        final, response.body, response.headers, profile=profile, section=section
    )
    problems = missing_fields(article)
    if problems:
        return fail("extraction failed: " + ", ".join(problems), 200)
    record = article.to_dict()
    result = archive.store_article(
        profile.id,
        record,
        fetched_url=final,
        raw_body=response.body,
        http_status=response.status,
        headers=response.headers,
        run_id=run_id,
        parser_version=PARSER_VERSION,
    )
    status = "duplicates" if result.status == "duplicate" else result.status
    summary.counts[status] += 1
    if result.capture_id is not None:
        location = {"file": str(fetched.path.resolve()), "offset": response.offset}
        link_capture(archive, result.capture_id, location)
    return record


def _import_media(
    archive: Any,
    pages: WarcPages,
    profile: Profile,
    article: dict[str, Any],
    data_dir: Path,
    mode: str,
) -> int:
    """Store the article's images (and attachments) the WARC holds; how many."""
    stored = 0
    for media_url in media_urls(article, mode):
        fetched = pages.fetch(media_url)
        if fetched is None or fetched.response.status != 200 or not fetched.response.body:
            continue
        response = fetched.response
        store_media(
            archive,
            data_dir,
            profile.id,
            media_url,
            response.body,
            content_type=response.headers.get("content-type"),
        )
        stored += 1
    return stored
