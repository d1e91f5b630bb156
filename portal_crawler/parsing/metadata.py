"""Page-level metadata: canonical URL, meta titles and dates, section."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from urllib.parse import urljoin, urlsplit

from lxml import etree

from portal_crawler.parsing.dates import parse_meta_datetime
from portal_crawler.parsing.dom import text_of
from portal_crawler.parsing.scan import Attributes
from portal_crawler.parsing.text import fold_diacritics, normalize_text
from portal_crawler.urls import canonicalize_url, host_of

_META_DATE_KEYS = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "dc.date.issued",
    "dc.date",
    "date",
)


def base_href(root: etree._Element, url: str) -> str:
    for el in root.iter("base"):
        href = (el.get("href") or "").strip()
        if href:
            try:
                return urljoin(url, href)
            except ValueError:  # "http://[bad" and the like: ignore the tag
                return url
    return url


def meta_titles(root: etree._Element, attrs: Attributes) -> tuple[list[str], list[str]]:
    """(og/twitter titles, <title> texts) of the page."""
    og = [normalize_text(v) for v in attrs.meta_content("og:title", "twitter:title")]
    titles = [normalize_text(text_of(el)) for el in root.iter("title")]
    return [t for t in og if t], [t for t in titles if t]


def site_names(attrs: Attributes) -> list[str]:
    return [normalize_text(v) for v in attrs.meta_content("og:site_name", "application-name")]


def meta_published(root: etree._Element, attrs: Attributes, utc_offset: str) -> str | None:
    """A machine-readable publication date, validated; None when absent or malformed."""
    for value in attrs.meta_content(*_META_DATE_KEYS):
        parsed = parse_meta_datetime(value, utc_offset)
        if parsed:
            return parsed
    # itemprop="datePublished" and <time datetime pubdate>
    for el in attrs.dated:
        value = el.get("content") or el.get("datetime") or text_of(el)
        parsed = parse_meta_datetime(value.strip(), utc_offset)
        if parsed:
            return parsed
    for el in root.iter("script"):
        if (el.get("type") or "").lower() != "application/ld+json":
            continue
        for value in _ld_values(el.text or "", "datePublished"):
            parsed = parse_meta_datetime(value, utc_offset)
            if parsed:
                return parsed
    return None


def _ld_values(text: str, key: str) -> Iterable[str]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # malformed, or nested too deep
        return []
    found: list[str] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if k == key and isinstance(v, str):
                    found.append(v)
                elif isinstance(v, dict | list):
                    stack.append(v)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def canonical_url(
    root: etree._Element,
    url: str,
    *,
    section_paths: Iterable[str] = (),
    rebase: Callable[[str], str] | None = None,
) -> str:
    """The page's canonical URL when it names this article on the same host, else `url`."""
    chosen = url
    for el in root.iter("link"):
        rel = (el.get("rel") or "").lower().split()
        href = (el.get("href") or "").strip()
        if "canonical" not in rel or not href:
            continue
        try:
            absolute = urljoin(url, href)
        except ValueError:
            break
        if rebase is not None:
            absolute = rebase(absolute)
        if _names_article(absolute, url, section_paths):
            chosen = absolute
        break
    return canonicalize_url(chosen)


def _names_article(candidate: str, url: str, section_paths: Iterable[str]) -> bool:
    try:
        return _same_article(candidate, url, section_paths)
    except ValueError:  # a malformed URL ("http://[x") names nothing
        return False


def _same_article(candidate: str, url: str, section_paths: Iterable[str]) -> bool:
    if not candidate.lower().startswith(("http://", "https://")):
        return False
    if host_of(candidate) != host_of(url):
        return False
    path = urlsplit(candidate).path.rstrip("/")
    if not path and not urlsplit(candidate).query:
        return False  # the home page
    own_path = urlsplit(url).path.rstrip("/")
    if own_path != path and own_path.startswith(path + "/") and not urlsplit(candidate).query:
        return False  # a parent listing
    return all(path.lower() != s.rstrip("/").lower() for s in section_paths)


_HOME_WORDS = {"trang chu", "home", "trang nhat", "chi tiet tin", "chi tiet", "chi tiet tin tuc"}


def breadcrumb_section(attrs: Attributes) -> str | None:
    """The last meaningful breadcrumb link, or og/article:section."""
    values = attrs.meta_content("article:section", "og:section")
    if values:
        return normalize_text(values[0]) or None
    for el, (cls, ident) in attrs.names.items():
        marker = f"{cls or ''} {ident or ''}".lower()
        if "breadcrumb" not in marker and "duong-dan" not in marker:
            continue
        names = [normalize_text(text_of(a)) for a in el.iter("a")]
        names = [n for n in names if n and fold_diacritics(n) not in _HOME_WORDS]
        if names:
            return names[-1]
    return None
