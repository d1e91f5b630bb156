"""parse_article: one article page's bytes to an Article (generic logic + profile hints)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from lxml import etree
from lxml.cssselect import CSSSelector

from portal_crawler.parsing.article import Article, Attachment
from portal_crawler.parsing.body import Parts, assemble, author_box
from portal_crawler.parsing.container import (
    boilerplate,
    clean_site_title,
    find_container,
    find_title,
    plausible_title,
)
from portal_crawler.parsing.credit import parse_credit
from portal_crawler.parsing.dates import parse_date_text
from portal_crawler.parsing.decode import decode_page
from portal_crawler.parsing.dom import last_descendant_index, load_tree, strip_junk, text_of
from portal_crawler.parsing.media import absolute_url, attachment_name, script_file_url
from portal_crawler.parsing.metadata import (
    base_href,
    breadcrumb_section,
    canonical_url,
    meta_published,
    meta_titles,
    site_names,
)
from portal_crawler.parsing.scan import Index, index_tree, scan_attributes
from portal_crawler.parsing.text import normalize_text
from portal_crawler.parsing.units import Linearizer
from portal_crawler.profiles import ExtractHints, Profile
from portal_crawler.urls import canonicalize_url

log = logging.getLogger(__name__)

# Longer <title>/og:title texts are not titles (an unclosed <title> swallows the page);
# ignoring them also keeps the title similarity test cheap.
_MAX_TITLE_CHARS = 1000
# Bytes of a page that are parsed: beyond, the page is cut (with a warning). Real article
# pages stay well under 2 MB even with their ASP.NET view state; this bounds the time
# (linear, a few seconds at most) and memory a hostile or broken page can take.
MAX_PARSE_BYTES = 8 * 1024 * 1024
# Elements of a page that are analysed: article pages have a few thousand; a page of
# millions (tag soup) is cut, to bound the time of the per-element passes.
MAX_ELEMENTS = 100_000
_COUNT_ELEMENTS = etree.XPath("count(//*)")


def _load(url: str, html_text: str, utf8: bytes | None) -> etree._Element | None:
    root = load_tree(html_text, utf8)
    if root is None:
        return None
    count = int(_COUNT_ELEMENTS(root))
    if count > MAX_ELEMENTS:
        keep = int(len(html_text) * MAX_ELEMENTS / count * 0.9)
        log.warning("%s: %d elements, only the first %d characters parsed", url, count, keep)
        root = load_tree(html_text[:keep])
    return root


def parse_article(
    url: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    profile: Profile | None = None,
    section: str | None = None,
    rebase: Callable[[str], str] | None = None,
) -> Article:
    """Extract an article from a page; never raises, missing parts stay empty."""
    try:
        return _parse(url, body, headers, profile=profile, section=section, rebase=rebase)
    except Exception:  # noqa: BLE001 - a broken page must not stop a crawl
        log.exception("parser failed on %s", url)
        return Article(url=_safe_canonical(url), section=section)


def _safe_canonical(url: str) -> str:
    try:
        return canonicalize_url(url)
    except Exception:  # noqa: BLE001
        return url


def _select(root: etree._Element, selector: str | None) -> list[etree._Element]:
    if not selector:
        return []
    try:
        return CSSSelector(selector)(root)
    except Exception:  # noqa: BLE001 - a bad selector in a profile is ignored
        log.warning("ignoring invalid CSS selector %r", selector)
        return []


def _common_ancestor(a: etree._Element, b: etree._Element) -> etree._Element:
    ancestors = set()
    node: etree._Element | None = a
    while node is not None:
        ancestors.add(node)
        node = node.getparent()
    node = b
    while node is not None and node not in ancestors:
        node = node.getparent()
    return node if node is not None else a.getroottree().getroot()


def _apply_hints(
    root: etree._Element,
    hints: ExtractHints,
    parts: Parts,
    *,
    utc_offset: str,
    base: str,
    rebase: Callable[[str], str] | None,
) -> None:
    """Profile selectors for what the generic logic cannot know win over its guesses."""
    found = _select(root, hints.date)
    if found:
        parts.published = parse_date_text(_text(found[0]), utc_offset) or parts.published
    found = _select(root, hints.lead)
    if found and _text(found[0]):
        parts.lead = _text(found[0])
        parts.body = [p for p in parts.body if p != parts.lead]
    found = _select(root, hints.credit)
    if found:
        raw = _text(found[-1])
        credit = parse_credit(raw) if raw else None
        if credit is not None:
            parts.credit = credit
            parts.body = [p for p in parts.body if p != raw]
    known = {a.url for a in parts.attachments}
    for box in _select(root, hints.attachments):
        for link in box.iter("a"):
            href = (link.get("href") or "").strip()
            target = script_file_url(link.get("onclick") or "") or script_file_url(href)
            if not target and (not href or href.startswith(("javascript:", "#", "mailto:"))):
                continue
            url = absolute_url(target or href, base, rebase)
            if url not in known:
                known.add(url)
                name = attachment_name(_text(link), link.get("title"), url)
                parts.attachments.append(Attachment(url=url, name=name))


def _date_before(title_el: etree._Element | None, utc_offset: str) -> str | None:
    """A date line just above the headline (some templates put it there)."""
    if title_el is None:
        return None
    sibling = title_el.getprevious()
    for _ in range(3):
        if sibling is None:
            return None
        if isinstance(sibling.tag, str):
            text = _text(sibling)
            if text and len(text.split()) <= 12:
                found = parse_date_text(text, utc_offset)
                if found:
                    return found
        sibling = sibling.getprevious()
    return None


def _lists_articles(container: etree._Element, index: Index) -> bool:
    """A listing page: several headings inside the "body" that each link to a story."""
    linked_headings = 0
    for heading in container.iter("h2", "h3", "h4", "h5"):
        st = index.stats(heading)
        if st is None or not st.chars or st.link_chars < 0.8 * st.chars:
            continue
        if len(normalize_text(text_of(heading)).split()) >= 4:
            linked_headings += 1
            if linked_headings >= 3:
                return True
    return False


def _text(el: etree._Element) -> str:
    return normalize_text(text_of(el))


def _parse(
    url: str,
    body: bytes,
    headers: Mapping[str, str] | None,
    *,
    profile: Profile | None,
    section: str | None,
    rebase: Callable[[str], str] | None,
) -> Article:
    hints = profile.extract if profile is not None else ExtractHints()
    utc_offset = profile.utc_offset if profile is not None else "+07:00"
    if body and len(body) > MAX_PARSE_BYTES:
        log.warning(
            "%s: page of %d bytes, only the first %d parsed", url, len(body), MAX_PARSE_BYTES
        )
        body = body[:MAX_PARSE_BYTES]
    root = _load(url, *decode_page(body, headers)) if body else None
    if root is None:
        return Article(url=_safe_canonical(url), section=section)

    section_paths = [urlsplit(s.url).path for s in profile.sections] if profile else []
    article_url = canonical_url(root, url, section_paths=section_paths, rebase=rebase)
    base = base_href(root, url)
    if rebase is not None:
        base = rebase(base)
    attrs = scan_attributes(root)
    og_titles, doc_titles = meta_titles(root, attrs)
    names = site_names(attrs) + ([profile.name] if profile is not None else [])
    clean_titles = [
        clean_site_title(t, names) for t in og_titles + doc_titles if len(t) <= _MAX_TITLE_CHARS
    ]
    meta_date = meta_published(root, attrs, utc_offset)
    if section is None:
        section = breadcrumb_section(attrs)

    strip_junk(root, attrs.hidden)
    index = index_tree(root, attrs)
    order = index.order
    extra_drop = [el for sel in hints.drop for el in _select(root, sel)]
    dropped = boilerplate(index, extra_drop, root)

    hinted_container = _select(root, hints.container) or _select(root, hints.body)
    container = hinted_container[0] if hinted_container else None
    if container is None:
        container = find_container(index, dropped)
    section_names = [s.name for s in profile.sections] if profile is not None else []
    hinted_title = _select(root, hints.title)
    title_el = hinted_title[0] if hinted_title else None
    if title_el is None:
        title_el = find_title(index, dropped, container, clean_titles, section_names + names)
    title = normalize_text(text_of(title_el)) if title_el is not None else None
    if not title:
        # Without a headline element, a <title> naming the site or a listing is no title.
        fallback = [
            t
            for t in clean_titles
            if len(t.split()) >= 4 and plausible_title(t, section_names + names)
        ]
        title = fallback[0] if fallback else None

    if container is None or _lists_articles(container, index):
        return Article(url=article_url, section=section, title=title)
    region = container if title_el is None else _common_ancestor(title_el, container)
    if title_el is not None and order.get(title_el, 0) > last_descendant_index(container, order):
        # A "title" after the body is not this article's headline.
        region, title_el = container, None
    units = Linearizer(index.blocky, title=title_el, container=container, skip=dropped).run(region)
    parts = assemble(
        units,
        region=region,
        base=base,
        rebase=rebase,
        utc_offset=utc_offset,
        title=title,
        meta_date=meta_date,
        pre_date=_date_before(title_el, utc_offset),
    )
    if parts.credit is None:
        parts.credit = author_box(region, container, order, dropped)
    _apply_hints(root, hints, parts, utc_offset=utc_offset, base=base, rebase=rebase)
    return Article(
        url=article_url,
        section=section,
        title=title,
        published=parts.published,
        lead=parts.lead,
        body=parts.body,
        images=parts.images,
        credit=parts.credit,
        attachments=parts.attachments,
    )
