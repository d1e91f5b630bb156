"""The portal spider: a section's listing, its pagination, its articles.

It works in the portal's live URLs throughout; MirrorMiddleware swaps in a
mirror origin on the way out, ``live_url`` maps responses back. Articles are
only ever followed from listing pages, never from article pages, so other
sections, sidebars and print views stay out.

Incremental by default: the listing is walked from page 1, one page after the
other, and the walk stops at a page whose articles are all archived already;
a window of recent articles is re-checked for edits and removals with
conditional requests; URLs found but not yet archived when a run was killed
(the frontier, kept in the archive) are fetched first by the next run.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import FormRequest, Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from sqlalchemy.exc import SQLAlchemyError
from twisted.python.failure import Failure

from archive import ArchiveError
from portal_crawler.items import ArticleItem, FetchFailureItem, NotModifiedItem
from portal_crawler.listing import HOME_PATH_RE, ListingPage, analyse_listing
from portal_crawler.parsing import PARSER_VERSION, parse_article
from portal_crawler.parsing.decode import decode_html
from portal_crawler.postback import postback_form
from portal_crawler.profiles import Profile, Section, generic_profile, get_profile
from portal_crawler.seen import DiskSet
from portal_crawler.urls import canonicalize_url, host_and_port, host_of

# What a full disk, a read-only file or a locked database raise through the archive.
ARCHIVE_ERRORS = (SQLAlchemyError, ArchiveError, OSError)
HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")
GONE_STATUSES = (404, 410)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on") if value is not None else False


class PortalSpider(scrapy.Spider):
    """Crawl one portal's sections (`-a portal=ID`) or one listing (`-a url=URL`)."""

    name = "portal"

    def __init__(
        self,
        portal: str | None = None,
        url: str | None = None,
        section: str | None = None,
        all_sections: Any = False,
        mirror: str | None = None,
        full: Any = False,
        max_listing_pages: Any = 1000,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if bool(portal) == bool(url):
            raise ValueError("give exactly one of -a portal=ID or -a url=LISTING_URL")
        self.profile: Profile = get_profile(portal) if portal else generic_profile(url, section)
        # A listing crawled without a profile or a section name: each article's
        # own breadcrumb names its section (the listing's name is the fallback).
        self.infer_section = bool(url) and not section
        self.sections: list[Section] = self._choose_sections(section, _truthy(all_sections))
        self.live_origin = _origin(self.profile.base_url)
        self.mirror_origin = _origin(mirror.rstrip("/")) if mirror else None
        self.full = _truthy(full)
        self.max_listing_pages = int(max_listing_pages)
        self.allowed_netlocs = self._home_netlocs()
        self.listing_pages_seen: set[tuple[str, ...]] = set()
        self.listing_signatures: set[tuple[str, bytes]] = set()
        self.listing_pages_walked: dict[str, int] = {}
        # On disk: a crawl of a large portal requests hundreds of thousands of URLs.
        self.articles_requested = DiskSet()
        self.origin_checked = False
        self.walked_sections: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> PortalSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.full = spider.full or not settings.getbool("PORTAL_INCREMENTAL", True)
        spider.recheck_last = settings.getint("PORTAL_RECHECK_LAST", 20)
        spider.recheck_days = settings.getint("PORTAL_RECHECK_DAYS", 7) or None
        if "max_listing_pages" not in kwargs:
            spider.max_listing_pages = settings.getint("PORTAL_MAX_LISTING_PAGES", 1000)
        return spider

    def _home_netlocs(self) -> set[str]:
        """host:port pairs the crawl may request: the portal's hosts and the mirror."""
        netlocs = {f"{host}:{port}" for host in self.profile.hosts for port in (80, 443)}
        netlocs.add(host_and_port(self.profile.base_url))
        if self.mirror_origin:
            netlocs.add(host_and_port(self.mirror_origin))
        return netlocs

    def _choose_sections(self, name: str | None, everything: bool) -> list[Section]:
        if everything:
            return list(self.profile.sections)
        if name and self.profile.family != "generic":
            return [self.profile.section(name)]
        return self.profile.default_section_list()

    @property
    def archive(self) -> Any:
        """The open archive (set up by ArchivePipeline), or None when crawling without one."""
        return getattr(self.crawler, "portal_archive", None)

    # -- live URLs <-> fetched URLs -------------------------------------------------
    def fetch_url(self, url: str) -> str:
        """Where to fetch a live URL from (the mirror, when there is one)."""
        if self.mirror_origin and host_of(url) in self.profile.hosts:
            parts = urlsplit(url)
            rest = parts.path + ("?" + parts.query if parts.query else "")
            return self.mirror_origin + (rest or "/")
        return url

    def live_url(self, url: str) -> str:
        if self.mirror_origin and url.startswith(self.mirror_origin):
            return self.live_origin + url[len(self.mirror_origin) :]
        return url

    def _live(self, response: Response) -> Response:
        return response.replace(url=self.live_url(response.url))

    def _adopt_declared_origin(self, declared: str | None, fetched: str) -> bool:
        """Learn the live origin of a portal crawled without a profile.

        A listing fetched from a mirror (or a moved host) that declares itself,
        by rel=canonical or og:url, at the same path on another origin tells
        us the portal's real address: its absolute links to that origin are
        the same site, and the archive records URLs on it.
        """
        if self.profile.family != "generic" or self.origin_checked:
            return False
        self.origin_checked = True
        if not declared:
            return False
        new, old = urlsplit(declared), urlsplit(fetched)
        if new.netloc == old.netloc or new.path.rstrip("/") != old.path.rstrip("/"):
            return False
        self.mirror_origin = self.mirror_origin or self.live_origin
        self.live_origin = f"{new.scheme}://{new.netloc}"
        rebased = [
            Section(s.name, self.live_origin + s.url[len(self.mirror_origin) :])
            if s.url.startswith(self.mirror_origin)
            else s
            for s in self.profile.sections
        ]
        self.profile = replace(self.profile, base_url=self.live_origin, sections=tuple(rebased))
        self.sections = list(rebased)
        self.allowed_netlocs |= self._home_netlocs()
        self.logger.info("Listing declares itself at %s: recording URLs there", self.live_origin)
        return True

    # -- crawl ----------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Request]:
        try:
            requests = list(self._start_requests())
        except ARCHIVE_ERRORS as exc:
            self._archive_failed(exc)
            return
        for request in requests:
            yield request

    def _start_requests(self) -> Iterator[Request]:
        if getattr(self.crawler, "portal_blocked", None):
            return  # the lock is held elsewhere, or the archive is unusable: say so, stop
        archive = self.archive
        # Stopping at the first all-archived listing page is only safe once a run
        # has walked the section to its end; a first run killed part-way has not.
        walked = [
            run
            for run in (archive.runs(self.profile.id) if archive is not None else [])
            if run["status"] == "finished"  # a degraded walk may have stopped short
        ]
        self.walked_sections = {name for run in walked for name in (run["sections"] or [])}
        if archive is not None:
            # What a killed run had found but not archived comes first.
            for url, section in archive.frontier_pending(self.profile.id):
                self._claim_article(url)
                self.crawler.stats.inc_value("portal/resumed")
                yield self._article_request(url, section)
        for section in self.sections:
            self._claim_listing_page(("GET", canonicalize_url(section.url)))
            yield Request(
                section.url,
                callback=self.parse_listing,
                errback=self.on_error,
                meta={"section": section.name, "listing_page": 1},
                dont_filter=True,
            )
        if archive is not None and not self.full:
            for section in self.sections:
                for url in archive.recheck_urls(
                    self.profile.id, section.name, last=self.recheck_last, days=self.recheck_days
                ):
                    if self._claim_article(url):
                        self.crawler.stats.inc_value("portal/rechecked")
                        yield self._article_request(url, section.name, recheck=True)

    def _article_request(self, url: str, section: str, *, recheck: bool = False) -> Request:
        headers = {}
        meta: dict[str, Any] = {"section": section, "article_url": url}
        state = self.archive.article_state(url) if recheck and self.archive else None
        if state is not None and state.removed_at is None:
            # Conditional re-check: an unchanged page costs a 304 and no body.
            if state.etag:
                headers["If-None-Match"] = state.etag
            if state.last_modified:
                headers["If-Modified-Since"] = state.last_modified
            meta["handle_httpstatus_list"] = [304]
        return Request(
            url,
            callback=self.parse_article_page,
            errback=self.on_error,
            headers=headers,
            meta=meta,
            # The spider dedups articles itself; with Scrapy's filter on, a redirect
            # loop back to this URL would vanish silently instead of being recorded.
            dont_filter=True,
        )

    def _is_new(self, url: str) -> bool:
        """Not archived yet, or archived and removed since, and not a known dead link."""
        archive = self.archive
        if archive is None:
            return True
        state = archive.article_state(url)
        if state is not None:
            return state.removed_at is not None
        # A listed link that answered 404/410 is retried by `--full` passes only.
        return archive.last_failure_status(self.profile.id, url) not in GONE_STATUSES

    def parse_listing(self, response: Response) -> Iterator[Any]:
        try:
            yield from self._parse_listing(response)
        except ARCHIVE_ERRORS as exc:
            raise CloseSpider(self._archive_failed(exc)) from exc

    def _archive_failed(self, exc: BaseException) -> str:
        """The archive cannot be read or written from the spider: stop, and say why once."""
        original = getattr(exc, "orig", None)
        message = f"cannot use the archive: {str(original or exc).splitlines()[0]}"
        self.logger.error("%s: %s; stopping the crawl", self.profile.id, message)
        self.crawler.portal_archive_error = message  # type: ignore[attr-defined]
        return "archive_error"

    def _parse_listing(self, response: Response) -> Iterator[Any]:
        response = self._live(response)
        section = response.meta["section"]
        page_no = response.meta.get("listing_page", 1)
        self.crawler.stats.inc_value("portal/listing_pages")
        html = decode_html(response.body, _headers(response))
        listing = analyse_listing(html, response.url, profile=self.profile, to_live=self.live_url)
        if self._adopt_declared_origin(listing.declared_url, response.url):
            response = response.replace(url=self.live_url(response.url))
            listing = analyse_listing(
                html, response.url, profile=self.profile, to_live=self.live_url
            )
        if page_no == 1:
            self.crawler.stats.set_value(
                f"portal/first_page_links/{section}", len(listing.article_urls)
            )
            if not listing.article_urls:
                self.crawler.stats.set_value(f"portal/empty_listing/{section}", response.url)
        signature = _signature(listing.article_urls)
        if signature and not self._claim_listing_signature(section, signature):
            # The same entries again (page 1 via "?page=1", "Last" = page N, or a
            # pager that never ends): nothing new here, and nothing to follow.
            self.crawler.stats.inc_value("portal/listing_repeats")
            return
        walked = self._count_listing_page(section)

        # Not archived yet (or archived, then removed, and listed again).
        unarchived = [u for u in listing.article_urls if self._is_new(u)]
        wanted = listing.article_urls if self.full else unarchived
        fetch = [u for u in wanted if self._claim_article(u)]
        if self.archive is not None and unarchived:
            self.archive.frontier_add(
                self.profile.id, self._run_id(), [(u, section) for u in unarchived]
            )
        for url in fetch:
            yield self._article_request(url, section)

        if not listing.article_urls:
            return
        if not self.full and not unarchived and section in self.walked_sections:
            # Every entry of this page is archived: the rest of the listing is older.
            self.crawler.stats.inc_value("portal/listing_stops")
            return
        if walked >= self.max_listing_pages:
            self.logger.warning(
                "Stopping pagination of %s at %d listing pages", section, self.max_listing_pages
            )
            self.crawler.stats.set_value("portal/pagination_stopped", self.max_listing_pages)
            return
        yield from self._follow_pages(html, response, listing, section, page_no)

    def _follow_pages(
        self, html: str, response: Response, listing: ListingPage, section: str, page_no: int
    ) -> Iterator[Request]:
        if self.full:
            links = [*listing.page_urls, *listing.postbacks]
        else:
            # Incremental: one page after the other, so the walk can stop early.
            following = listing.next_page(page_no)
            links = [following] if following is not None else []
        meta = {"section": section, "listing_page": page_no + 1}
        for link in links:
            if isinstance(link, str):
                if self._claim_listing_page(("GET", link)):
                    yield Request(
                        link, callback=self.parse_listing, errback=self.on_error, meta=meta
                    )
                continue
            target, argument = link
            if not self._claim_listing_page(
                ("POST", canonicalize_url(response.url), target, argument)
            ):
                continue
            form = postback_form(html, response.url, target, argument)
            if form is None:
                self.logger.warning("Cannot post back %s on %s: no form", target, response.url)
                continue
            action, fields = form
            yield FormRequest(
                action,
                formdata=fields,
                callback=self.parse_listing,
                errback=self.on_error,
                meta=meta,
                dont_filter=True,
            )

    def _run_id(self) -> int | None:
        return getattr(self.crawler, "portal_run_id", None)

    # -- what this crawl has already taken on -----------------------------------------
    # In memory here; a distributed crawl keeps them in Redis, shared by its workers
    # (portal_crawler.distributed.spider), so that any worker can take any page.
    def _claim_listing_page(self, key: tuple[str, ...]) -> bool:
        """True the first time a listing page (GET URL or postback) is to be requested."""
        if key in self.listing_pages_seen:
            return False
        self.listing_pages_seen.add(key)
        return True

    def _claim_article(self, url: str) -> bool:
        """True the first time an article URL is to be requested."""
        if url in self.articles_requested:
            return False
        self.articles_requested.add(url)
        return True

    def _claim_listing_signature(self, section: str, signature: bytes) -> bool:
        """True the first time a section's listing shows this set of entries."""
        if (section, signature) in self.listing_signatures:
            return False
        self.listing_signatures.add((section, signature))
        return True

    def _count_listing_page(self, section: str) -> int:
        """Count one more listing page walked in a section; the count so far."""
        self.listing_pages_walked[section] = self.listing_pages_walked.get(section, 0) + 1
        return self.listing_pages_walked[section]

    def parse_article_page(self, response: Response) -> Iterator[Any]:
        response = self._live(response)
        requested = self.live_url(response.meta.get("article_url") or response.url)
        if response.status == 304:
            yield NotModifiedItem(self.profile.id, requested)
            return
        if _redirected_away(requested, response.url):
            yield FetchFailureItem(
                self.profile.id,
                requested,
                f"redirected to {response.url}, not an article",
                response.status,
                gone=True,
                transient=False,
            )
            return
        headers = _headers(response)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        kind = _binary_kind(response.body) or (
            content_type if content_type not in HTML_TYPES else None
        )
        if kind:
            yield FetchFailureItem(
                self.profile.id,
                requested,
                f"not an HTML page ({kind})",
                response.status,
                transient=False,
            )
            return
        article = parse_article(
            response.url,
            response.body,
            headers,
            profile=self.profile,
            section=None if self.infer_section else response.meta["section"],
            rebase=self.live_url,
        )
        article.section = article.section or response.meta["section"]
        yield ArticleItem(
            portal_id=self.profile.id,
            article=article.to_dict(),
            fetched_url=response.url,
            http_status=response.status,
            headers=headers,
            raw_body=response.body,
            parser_version=PARSER_VERSION,
            requested_url=requested,
            # Where WarcCaptureMiddleware wrote this response, for the capture row.
            extra={"warc": response.meta.get("portal_warc")},
        )

    def on_error(self, failure: Failure) -> Iterator[FetchFailureItem]:
        request = failure.request  # type: ignore[attr-defined]
        url = self.live_url(request.meta.get("article_url") or request.url)
        status = None
        if failure.check(HttpError):
            status = failure.value.response.status
            reason = f"HTTP {status}"
        else:
            reason = f"{failure.type.__name__}: {failure.getErrorMessage()}"
        self.logger.warning("Failed %s: %s", url, reason)
        if "listing_page" in request.meta:
            # A listing that cannot be read is drift (a moved section), not a lost article.
            section = request.meta["section"]
            self.crawler.stats.set_value(f"portal/listing_failed/{section}", f"{url} ({reason})")
        gone = status in GONE_STATUSES
        # 4xx answers and requests we chose not to send (robots.txt, offsite)
        # will not go away by themselves; 5xx and network errors may.
        declined = status is None and bool(failure.check(IgnoreRequest))
        permanent = gone or declined or (status is not None and 400 <= status < 500)
        yield FetchFailureItem(
            self.profile.id, url, reason, status, gone=gone, transient=not permanent
        )


# Signatures of files portals serve under the wrong Content-Type.
MAGIC = (
    (b"%PDF-", "PDF document"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"PK\x03\x04", "ZIP archive or Office document"),
    (b"\xd0\xcf\x11\xe0", "Office document"),
    (b"Rar!", "RAR archive"),
)


def _signature(urls: list[str]) -> bytes:
    """A listing page's entries as a digest: a long walk keeps 20 bytes per page, not its URLs."""
    if not urls:
        return b""
    return hashlib.sha1("\n".join(sorted(set(urls))).encode(), usedforsecurity=False).digest()


def _binary_kind(body: bytes) -> str | None:
    head = body[:8]
    return next((kind for magic, kind in MAGIC if head.startswith(magic)), None)


def _redirected_away(requested: str, final: str) -> bool:
    """Did an article URL end up on the home page or a parent listing?"""
    if requested == final:
        return False
    asked, got = urlsplit(requested).path, urlsplit(final).path
    return (
        got in ("", "/")
        or asked.startswith(got.rstrip("/") + "/")
        or bool(HOME_PATH_RE.search(got))
    )


def _headers(response: Response) -> dict[str, str]:
    return {
        key.decode("latin-1").lower(): b", ".join(values).decode("latin-1")
        for key, values in response.headers.items()
    }
