"""The portal spider: a section's listing, its pagination, its articles.

It works in the portal's live URLs throughout; MirrorMiddleware swaps in a
mirror origin on the way out, ``live_url`` maps responses back. Articles are
only ever followed from listing pages, never from article pages, so other
sections, sidebars and print views stay out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import FormRequest, Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from portal_crawler.items import ArticleItem, FetchFailureItem
from portal_crawler.listing import HOME_PATH_RE, analyse_listing
from portal_crawler.parsing import PARSER_VERSION, parse_article
from portal_crawler.parsing.decode import decode_html
from portal_crawler.profiles import Profile, Section, generic_profile, get_profile
from portal_crawler.urls import canonicalize_url, host_of

HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _netloc_with_port(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{(parts.hostname or '').lower()}:{port}"


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
        max_listing_pages: Any = 1000,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if bool(portal) == bool(url):
            raise ValueError("give exactly one of -a portal=ID or -a url=LISTING_URL")
        self.profile: Profile = get_profile(portal) if portal else generic_profile(url, section)
        self.sections: list[Section] = self._choose_sections(section, _truthy(all_sections))
        self.live_origin = _origin(self.profile.base_url)
        self.mirror_origin = _origin(mirror.rstrip("/")) if mirror else None
        self.max_listing_pages = int(max_listing_pages)
        self.allowed_netlocs = {
            f"{host}:{port}" for host in self.profile.hosts for port in (80, 443)
        } | {_netloc_with_port(self.profile.base_url)}
        if self.mirror_origin:
            self.allowed_netlocs.add(_netloc_with_port(self.mirror_origin))
        self.listing_pages_seen: set[tuple[str, ...]] = set()
        self.listing_signatures: set[frozenset[str]] = set()
        self.articles_requested: set[str] = set()
        self.origin_checked = False

    def _choose_sections(self, name: str | None, everything: bool) -> list[Section]:
        if everything:
            return list(self.profile.sections)
        if name and self.profile.family != "generic":
            return [self.profile.section(name)]
        return self.profile.default_section_list()

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
        self.allowed_netlocs |= {
            f"{host}:{port}" for host in self.profile.hosts for port in (80, 443)
        } | {_netloc_with_port(self.live_origin)}
        self.logger.info("Listing declares itself at %s: recording URLs there", self.live_origin)
        return True

    def _live(self, response: Response) -> Response:
        return response.replace(url=self.live_url(response.url))

    # -- crawl ----------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Request]:
        for section in self.sections:
            key = ("GET", canonicalize_url(section.url))
            self.listing_pages_seen.add(key)
            yield Request(
                section.url,
                callback=self.parse_listing,
                errback=self.on_error,
                meta={"section": section.name, "listing_page": 1},
            )

    def parse_listing(self, response: Response) -> Iterator[Any]:
        response = self._live(response)
        section = response.meta["section"]
        self.crawler.stats.inc_value("portal/listing_pages")
        html = decode_html(response.body, _headers(response))
        listing = analyse_listing(html, response.url, profile=self.profile, to_live=self.live_url)
        if self._adopt_declared_origin(listing.declared_url, response.url):
            response = response.replace(url=self.live_url(response.url))
            listing = analyse_listing(
                html, response.url, profile=self.profile, to_live=self.live_url
            )
        signature = frozenset(listing.article_urls)
        if signature and signature in self.listing_signatures:
            # The same entries again (page 1 via "?page=1", "Last" = page N, or a
            # pager that never ends): nothing new here, and nothing to follow.
            self.crawler.stats.inc_value("portal/listing_repeats")
            return
        self.listing_signatures.add(signature)
        for url in listing.article_urls:
            if url in self.articles_requested:
                continue
            self.articles_requested.add(url)
            yield Request(
                url,
                callback=self.parse_article_page,
                errback=self.on_error,
                meta={"section": section},
            )
        if not listing.article_urls:
            return
        page_no = response.meta.get("listing_page", 1)
        if len(self.listing_pages_seen) >= self.max_listing_pages:
            self.logger.warning(
                "Stopping pagination at %d listing pages", len(self.listing_pages_seen)
            )
            self.crawler.stats.set_value("portal/pagination_stopped", "max_listing_pages")
            return
        meta = {"section": section, "listing_page": page_no + 1}
        for url in listing.page_urls:
            key = ("GET", url)
            if key not in self.listing_pages_seen:
                self.listing_pages_seen.add(key)
                yield Request(url, callback=self.parse_listing, errback=self.on_error, meta=meta)
        for target, argument in listing.postbacks:
            key = ("POST", canonicalize_url(response.url), target, argument)
            if key in self.listing_pages_seen:
                continue
            self.listing_pages_seen.add(key)
            try:
                yield FormRequest.from_response(
                    response,
                    formxpath="//form[.//input[@name='__VIEWSTATE']]",
                    formdata={"__EVENTTARGET": target, "__EVENTARGUMENT": argument},
                    dont_click=True,
                    callback=self.parse_listing,
                    errback=self.on_error,
                    meta=meta,
                    dont_filter=True,
                )
            except ValueError as exc:  # no ASP.NET form on the page
                self.logger.warning("Cannot post back %s on %s: %s", target, response.url, exc)

    def parse_article_page(self, response: Response) -> Iterator[Any]:
        response = self._live(response)
        requested = response.meta.get("redirect_urls", [response.url])[0]
        if _redirected_away(self.live_url(requested), response.url):
            yield FetchFailureItem(
                self.profile.id,
                self.live_url(requested),
                f"redirected to {response.url}, not an article",
                response.status,
            )
            return
        content_type = _headers(response).get("content-type", "").split(";")[0].strip().lower()
        if content_type not in HTML_TYPES:
            yield FetchFailureItem(
                self.profile.id, response.url, f"not an HTML page ({content_type})", response.status
            )
            return
        article = parse_article(
            response.url,
            response.body,
            _headers(response),
            profile=self.profile,
            section=response.meta["section"],
            rebase=self.live_url,
        )
        yield ArticleItem(
            portal_id=self.profile.id,
            article=article.to_dict(),
            fetched_url=response.url,
            http_status=response.status,
            headers=_headers(response),
            raw_body=response.body,
            parser_version=PARSER_VERSION,
        )

    def on_error(self, failure: Failure) -> Iterator[FetchFailureItem]:
        request = failure.request  # type: ignore[attr-defined]
        url = self.live_url(request.url)
        status = None
        if failure.check(HttpError):
            status = failure.value.response.status
            reason = f"HTTP {status}"
        else:
            reason = f"{failure.type.__name__}: {failure.getErrorMessage()}"
        self.logger.warning("Failed %s: %s", url, reason)
        yield FetchFailureItem(self.profile.id, url, reason, status)


def _redirected_away(requested: str, final: str) -> bool:
    """Did an article URL end up on the home page or a parent listing?"""
    if requested == final:
        return False
    asked, got = urlsplit(requested).path, urlsplit(final).path
    return got in ("", "/") or asked.startswith(got.rstrip("/") + "/") or bool(
        HOME_PATH_RE.search(got)
    )


def _headers(response: Response) -> dict[str, str]:
    return {
        key.decode("latin-1").lower(): b", ".join(values).decode("latin-1")
        for key, values in response.headers.items()
    }
