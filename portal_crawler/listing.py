"""Reading a section's listing page: which links are its articles, which its pages.

A pure function of the page (no Scrapy), so the spider, tests and benchmarks
share it. Generic rules first; a profile's ``[listing]`` selectors narrow them.

How the generic rules find the listing among menus and sidebars ("Tin mới",
"Tin xem nhiều" link articles of every section): every article link has an
*entry* — its largest ancestor that links to no other article. Entries of a
real listing carry a summary, a thumbnail or a date besides the title; sidebar
entries are a bare title. The listing is the group of sibling entries with
the richest entries, widened to neighbouring groups that are as rich (a
"featured" first entry often sits in a wrapper of its own).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape as html_unescape
from urllib.parse import parse_qsl, urljoin, urlsplit

import lxml.html
from lxml import etree

from portal_crawler.parsing.text import normalize_text
from portal_crawler.profiles import Profile
from portal_crawler.urls import canonicalize_url, host_of, is_http_url

POSTBACK_RE = re.compile(r"__doPostBack\(\s*['\"]([^'\"]*)['\"]\s*,\s*['\"]([^'\"]*)['\"]")
NEXT_WORDS = {"tiếp", "tiếp theo", "sau", "trang sau", "kế", "kế tiếp", "next", "»", "›", ">", ">>"}
# Every word a pager link may show instead of a page number.
PAGE_WORDS = NEXT_WORDS | {
    "cuối",
    "trang cuối",
    "last",
    "trước",
    "trang trước",
    "prev",
    "previous",
    "«",
    "‹",
    "<",
    "<<",
    "đầu",
    "trang đầu",
    "first",
    "...",
    "…",
}
PAGER_CLASS_RE = re.compile(r"pag(e|er|ing|ination)|phan-?trang|phantrang|lfr-pagination", re.I)
PAGE_PARAM_RE = re.compile(
    r"(^|_)(page|pageindex|pagenumber|pagenum|pageno|trang|p|cur|start|pg)$", re.I
)
PAGE_PATH_RE = re.compile(r"/(page|trang|p)[-_/]?\d+(/|\.html?)?$", re.I)
NON_ARTICLE_EXT_RE = re.compile(
    r"\.(jpe?g|png|gif|webp|svg|bmp|ico|pdf|docx?|xlsx?|pptx?|zip|rar|7z|mp3|mp4|avi|css|js|xml|rss)$",
    re.I,
)
PRINT_RE = re.compile(
    r"(^|[/?&=_-])(print|in-bai|inbai|printview|sendmail|email)([/?&=_.-]|$)", re.I
)
NEGATIVE_RE = re.compile(
    r"side|sidebar|aside|right|left|menu|nav|footer|header|banner|widget|"
    r"most|xem-?nhieu|tin-?moi|hot|lienket|lien-?ket|related|other|tin-?khac|col-?md-?3|column-1",
    re.I,
)
POSITIVE_RE = re.compile(r"main|content|center|list|listing|category|news-?list|column-2", re.I)
HOME_PATH_RE = re.compile(r"/(default|index|home|trang-?chu|homepage)(\.\w+)?/?$", re.I)
RICH_ENTRY_CHARS = 40


@dataclass
class ListingPage:
    """What one listing page offers: its articles and the ways to its other pages."""

    article_urls: list[str] = field(default_factory=list)
    page_urls: list[str] = field(default_factory=list)
    postbacks: list[tuple[str, str]] = field(default_factory=list)  # (__EVENTTARGET, arg)
    # The page's own idea of its address (<link rel=canonical> or og:url), absolute.
    declared_url: str | None = None
    # What each pagination link says: a page number ("2") or a word ("Tiếp", "»"),
    # keyed by page URL or by postback (target, argument).
    page_labels: dict[str | tuple[str, str], str] = field(default_factory=dict)

    def next_page(self, current: int) -> str | tuple[str, str] | None:
        """The link to page `current + 1`: by its number, else a "next" word."""
        links = [*self.page_urls, *self.postbacks]
        for link in links:
            if self.page_labels.get(link, "").strip() == str(current + 1):
                return link
        for link in links:
            if self.page_labels.get(link, "").casefold().strip() in NEXT_WORDS:
                return link
        return None


def _class_id(el: etree._Element) -> str:
    return f"{el.get('class', '')} {el.get('id', '')}"


def _is_page_url(url: str, text: str) -> bool:
    parts = urlsplit(url)
    if PAGE_PATH_RE.search(parts.path):
        return True
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if PAGE_PARAM_RE.search(key) and value.isdigit():
            return True
    return False


def _in_pager(anchor: etree._Element) -> bool:
    for depth, el in enumerate(anchor.iterancestors()):
        if depth > 4:
            return False
        if PAGER_CLASS_RE.search(_class_id(el)):
            return True
    return False


# Text for screen readers only: Drupal's pager writes
# <a href="?page=1"><span class="visually-hidden">Trang</span>2</a>, a reader sees "2".
_SCREEN_READER_ONLY = frozenset(
    {"visually-hidden", "visuallyhidden", "sr-only", "screen-reader-text", "element-invisible"}
)


def _link_text(anchor: etree._Element) -> str:
    """What a reader sees of a link; its whole text when all of it is for screen readers
    (an icon-only "next" link is known by its hidden words)."""
    return normalize_text(_seen_text(anchor)) or normalize_text(anchor.text_content())


def _seen_text(anchor: etree._Element) -> str:
    parts = [anchor.text or ""]
    # Elements still to visit, and the tails due after them (an explicit stack: no
    # recursion limit on a hostile page's nesting).
    todo: list[etree._Element | str] = list(reversed(anchor))
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        if item.tail:
            todo.append(item.tail)
        if isinstance(item.tag, str) and not _for_screen_readers(item):
            parts.append(item.text or "")
            todo.extend(reversed(item))
    return "".join(parts)


def _for_screen_readers(el: etree._Element) -> bool:
    return not _SCREEN_READER_ONLY.isdisjoint((el.get("class") or "").lower().split())


def _looks_like_page_link(anchor: etree._Element, text: str) -> bool:
    folded = text.casefold().strip()
    return folded.isdigit() or folded in PAGE_WORDS or _in_pager(anchor)


def analyse_listing(
    html: str,
    url: str,
    *,
    profile: Profile,
    to_live: Callable[[str], str] = lambda u: u,
) -> ListingPage:
    """Article links and pagination of a listing page at live URL ``url``."""
    page = ListingPage()
    try:
        doc = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return page
    etree.strip_elements(doc, "script", "style", "noscript", with_tail=False)
    page.declared_url = _declared_url(doc, url)
    hosts = profile.hosts
    base_port = _port(profile.base_url)
    current = canonicalize_url(url)
    current_path = urlsplit(current).path
    section_urls = {canonicalize_url(s.url) for s in profile.sections}

    candidates: list[tuple[etree._Element, str]] = []
    seen_pages: set[str] = set()
    for anchor in doc.iter("a"):
        href = (anchor.get("href") or "").strip()
        text = _link_text(anchor)
        match = POSTBACK_RE.search(href) or POSTBACK_RE.search(anchor.get("onclick") or "")
        if match:
            if _looks_like_page_link(anchor, text):
                target = (match.group(1), match.group(2))
                if target not in page.postbacks:
                    page.postbacks.append(target)
                    page.page_labels[target] = text
            continue
        if not href or href.startswith("#"):
            continue
        absolute = to_live(urljoin(url, href))
        if not is_http_url(absolute) or not _same_site(absolute, hosts, base_port):
            continue
        canonical = canonicalize_url(absolute)
        if _looks_like_page_link(anchor, text) and _is_page_url(canonical, text):
            if canonical != current and canonical not in seen_pages:
                seen_pages.add(canonical)
                page.page_urls.append(canonical)
                page.page_labels[canonical] = text
            continue
        if canonical == current or canonical in section_urls:
            continue
        path = urlsplit(canonical).path
        if NON_ARTICLE_EXT_RE.search(path) or PRINT_RE.search(canonical):
            continue
        if path in ("", "/") or HOME_PATH_RE.search(path):
            continue
        if current_path.startswith(path.rstrip("/") + "/"):
            continue  # a parent category of this listing (breadcrumb), not an article
        candidates.append((anchor, canonical))

    rules = profile.listing
    if rules.article_url:
        pattern = re.compile(rules.article_url)
        candidates = [(a, u) for a, u in candidates if pattern.search(_path_query(u))]
    if rules.items:
        containers = doc.cssselect(rules.items)
        inside = {id(a) for c in containers for a in c.iter("a")}
        chosen = [u for a, u in candidates if id(a) in inside]
    else:
        chosen = _main_listing(candidates)
    page.article_urls = list(dict.fromkeys(chosen))
    return page


def _port(url: str) -> int:
    parts = urlsplit(url)
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return -1


def _same_site(url: str, hosts: frozenset[str], base_port: int) -> bool:
    """On one of the portal's hosts, and on its port (or the scheme's default)."""
    return host_of(url) in hosts and _port(url) in (base_port, 80, 443)


def _declared_url(doc: etree._Element, url: str) -> str | None:
    for xpath in (
        "//link[contains(concat(' ', normalize-space(@rel), ' '), ' canonical ')]/@href",
        "//meta[@property='og:url']/@content",
    ):
        for value in doc.xpath(xpath):
            value = html_unescape(str(value)).strip()
            if value:
                absolute = urljoin(url, value)
                if is_http_url(absolute):
                    return absolute
    return None


def _path_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def _main_listing(candidates: list[tuple[etree._Element, str]]) -> list[str]:
    """The article URLs of the richest group of sibling entries (see module doc)."""
    if not candidates:
        return []
    urls_under: dict[etree._Element, set[str]] = {}
    for anchor, url in candidates:
        urls_under.setdefault(anchor, set()).add(url)
        for el in anchor.iterancestors():
            urls_under.setdefault(el, set()).add(url)

    # An entry per place a URL is listed (the same article may also sit in a sidebar).
    entries: dict[etree._Element, str] = {}
    for anchor, url in candidates:
        entry = anchor
        parent = entry.getparent()
        while parent is not None and len(urls_under[parent]) == 1:
            entry = parent
            parent = entry.getparent()
        entries[entry] = url

    def richness(entry: etree._Element) -> float:
        links = sum(len(normalize_text(a.text_content())) for a in entry.iter("a"))
        text = len(normalize_text(entry.text_content())) - links
        has_img = bool(entry.xpath(".//img"))
        if text >= RICH_ENTRY_CHARS or (has_img and text >= 10):
            return 1.0
        return 0.5 if has_img else 0.1

    rich = {entry: richness(entry) for entry in entries}
    groups: dict[etree._Element, list[etree._Element]] = {}
    for entry in entries:
        parent = entry.getparent()
        if parent is not None:
            groups.setdefault(parent, []).append(entry)

    def weight(el: etree._Element) -> float:
        factor = 1.0
        for depth, node in enumerate([el, *el.iterancestors()]):
            cls = _class_id(node)
            if NEGATIVE_RE.search(cls) and not POSITIVE_RE.search(cls):
                factor *= 0.5 if depth < 6 else 0.8
            elif POSITIVE_RE.search(cls) and depth < 6:
                factor *= 1.2
        return factor

    if not groups:  # one entry that fills the whole page
        return list(dict.fromkeys(u for _, u in candidates))
    best = max(groups, key=lambda el: sum(rich[e] for e in groups[el]) * weight(el))
    region = best
    chosen = {entries[e] for e in groups[best]}
    # Widen to entries that sit directly beside the listing (a "featured" first
    # entry in a wrapper of its own); another group of entries (a sidebar box)
    # is not the listing.
    while True:
        parent = region.getparent()
        if parent is None:
            break
        extra = urls_under[parent] - chosen
        if not extra:
            region = parent
            continue
        beside = [e for e in groups.get(parent, []) if entries[e] in extra]
        if {entries[e] for e in beside} == extra and all(rich[e] >= 0.5 for e in beside):
            chosen |= extra
            region = parent
            continue
        break
    order = [u for _, u in candidates]
    return [u for u in dict.fromkeys(order) if u in chosen]
