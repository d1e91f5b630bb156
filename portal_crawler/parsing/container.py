"""Find the article on a page: boilerplate to ignore, the body container, the title."""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

from lxml import etree

from portal_crawler.parsing.dom import (
    BLOCK_TAGS,
    class_tokens,
    name_tokens,
    text_of,
)
from portal_crawler.parsing.scan import Index
from portal_crawler.parsing.text import fold_diacritics, normalize_text

# Class/id words of page furniture: an element carrying one is not article content
# (unless it holds most of the page's prose, see `boilerplate`). Whole words (tokens of
# class and id, see dom.name_tokens), plus one two-word name, Liferay's "portlet-boundary".
_NEGATIVE_LIST = (
    "sidebar side menu menus nav navbar navigation breadcrumb breadcrumbs footer header "
    "topbar banner banners advert ads quangcao share sharing social bookmark bookmarks "
    "print tool tools toolbar tag tags keyword keywords tukhoa comment comments binhluan "
    "rating vote pager pagination paging related relate other others orther tinkhac "
    "lienquan tinlienquan samecategory mostview mostviewed xemnhieu hotnews latest newest "
    "tinmoi widget module search login logo marquee weather counter visitor thongke "
    "lienket weblink links fb facebook zalo twitter gotop backtop back font fontsize "
    "contrast tuongphan sendmail email subscribe popup modal cookie"
)
_NEGATIVE_WORDS = frozenset(_NEGATIVE_LIST.split())
# Substrings that mark furniture inside compound class words ("ortherArticle", "tinlienquan").
_NEGATIVE_PART = re.compile(
    r"sidebar|breadcrumb|related|orther|other-?news|othernews|tinkhac|tin-khac|lienquan|"
    r"lien-quan|xemnhieu|xem-nhieu|mostview|socialbookmark|share|comment|pagination|"
    r"navbar|tinmoi|tin-moi|footer|header|menu"
)
# Beginnings of the words of article wrappers: never treat those as furniture.
_POSITIVE_PREFIXES = (
    "article",
    "articles",
    "content",
    "contents",
    "detail",
    "details",
    "entry",
    "post",
    "story",
    "body",
    "main",
    "chitiet",
    "noidung",
    "newsdetail",
    "news",
    "text",
    "bodytext",
    "articletext",
    "articlebody",
    "rtestate",
    "richhtmlfield",
)
_HEADLINE_WORDS = frozenset({"title", "headline", "tieude"})

_TITLE_HINT = re.compile(r"title|headline|tieude|tieu-de|heading")
_TITLE_BAD = re.compile(r"module|portlet-title|box|sidebar|other|site|logo|brand|menu|cate")
_FURNITURE_TITLES = {
    "tin moi",
    "tin xem nhieu",
    "cac tin khac",
    "tin khac",
    "tin lien quan",
    "lien ket website",
    "thong ke truy cap",
    "tin tieu diem",
    "tin noi bat",
    "chi tiet tin tuc",
    "chi tiet tin",
    "chi tiet",
    "tin tuc",
    "cac tin da dua",
    "van ban moi",
    "thu vien anh",
    "file dinh kem",
    "tep dinh kem",
    "tap tin dinh kem",
    "tai lieu dinh kem",
    "van ban lien quan",
    "binh luan",
    "y kien ban doc",
}


_SECTIONING = ("nav", "aside", "footer", "header")


@lru_cache(maxsize=4096)
def _verdict(tag: str, cls: str | None, ident: str | None) -> tuple[bool, bool]:
    """(furniture by name, named like a header) for an element's tag ("" for any but
    _SECTIONING's), class and id.

    Cached across pages: the pages of a portal share their template's class and id names
    (SharePoint and Liferay ids included), and deciding one costs more than the rest of
    the element's handling.
    """
    tokens = name_tokens(cls, ident)
    header = tag == "header" or "header" in tokens
    if not tokens:
        return tag in _SECTIONING, header
    if any(t.startswith(_POSITIVE_PREFIXES) for t in tokens):
        return False, header
    if not _HEADLINE_WORDS.isdisjoint(tokens):
        return False, header  # "header-title" is a headline, not a page header
    if tag in ("nav", "aside", "footer"):
        return True, header
    if not _NEGATIVE_WORDS.isdisjoint(tokens):
        return True, header
    joined = "-".join(tokens)
    if "portlet" in tokens and "-portlet-boundary-" in f"-{joined}-":
        return True, header
    return bool(_NEGATIVE_PART.search(joined)), header


def boilerplate(
    index: Index, extra: list[etree._Element], root: etree._Element
) -> set[etree._Element]:
    """Elements to ignore: furniture by name, unless it holds most of the prose."""
    chars, link_chars = index.chars, index.link_chars
    at = index.order.get(root)
    total_prose = (chars[at] - link_chars[at]) if at is not None else 0
    dropped: set[etree._Element] = set(extra)
    # Furniture is named by a class or id, or is a <nav>/<aside>/<footer>/<header>.
    for i, el, tag, cls, ident in index.named:
        if tag in ("html", "body", "form") or el in dropped:
            continue
        furniture, header = _verdict(tag if tag in _SECTIONING else "", cls, ident)
        if not furniture:
            continue
        prose = chars[i] - link_chars[i]
        # A wrapper misnamed "header-article" or a page-wide "module" holds the article.
        if total_prose and prose > 0.4 * total_prose and prose > 400:
            continue
        if header and _article_header(el, chars[i], link_chars[i]):
            continue
        dropped.add(el)
    return dropped


def _article_header(el: etree._Element, chars: int, link_chars: int) -> bool:
    """A "page-header" / <header> that holds a headline, not the site's menu and logo."""
    if chars == 0 or link_chars > 0.3 * chars or chars > 600:
        return False
    return next(el.iter("h1", "h2", "h3"), None) is not None


def _inside(el: etree._Element, group: set[etree._Element]) -> bool:
    node: etree._Element | None = el
    while node is not None:
        if node in group:
            return True
        node = node.getparent()
    return False


def find_container(index: Index, dropped: set[etree._Element]) -> etree._Element | None:
    """The element holding the article's prose (readability-style scoring)."""
    elements, tags, parents = index.elements, index.tags, index.parents
    chars, link_chars, has_block = index.chars, index.link_chars, index.has_block
    # Whether each element is inside a dropped one: parents come first in document order.
    skipped = [False] * len(elements)
    for el in dropped:
        i = index.order.get(el)
        if i is not None:
            skipped[i] = True
    for i in range(1, len(elements)):
        if skipped[parents[i]]:
            skipped[i] = True
    scores: dict[int, float] = {}
    for i in index.paras:
        el = elements[i]
        text_len = _leafish_text(el) if has_block[i] else chars[i] - link_chars[i]
        if text_len < 25 or skipped[i]:
            continue
        score = 1.0 + min(text_len / 100, 3.0) + _commas(el)
        parent = parents[i]
        weight = 1.0
        for _ in range(3):
            if parent < 0 or tags[parent] in ("body", "html"):
                break
            scores[parent] = scores.get(parent, 0.0) + score * weight
            parent = parents[parent]
            weight /= 2
    best: etree._Element | None = None
    best_score = 0.0
    for i, score in scores.items():
        density = link_chars[i] / chars[i] if chars[i] else 1.0
        adjusted = score * (1 - density)
        if adjusted > best_score:
            best, best_score = elements[i], adjusted
    return best


def _leafish_text(el: etree._Element) -> int:
    """Length of text directly inside a mixed block (not in its block children)."""
    total = len((el.text or "").strip())
    for child in el:
        tag = child.tag
        if isinstance(tag, str) and tag not in BLOCK_TAGS:
            total += len(" ".join(child.itertext()).strip())
        tail = child.tail
        if tail:
            total += len(tail.strip())
    return total


def _commas(el: etree._Element) -> float:
    text = el.text or ""
    return min(text.count(",") * 0.2, 1.0)


def clean_site_title(title: str, site_names: list[str]) -> str:
    """A <title> without the portal's name or a page label ("Chi tiết tin") around it."""
    text = normalize_text(title)
    for sep in (" | ", " - ", " – ", " — ", " :: ", " » "):
        parts = text.split(sep)
        while len(parts) > 1 and _is_site_name(parts[-1], site_names):
            parts.pop()
        while len(parts) > 1 and _is_site_name(parts[0], site_names):
            parts.pop(0)
        text = sep.join(parts)
    return text


def _is_site_name(text: str, site_names: list[str]) -> bool:
    return _site_name(fold_diacritics(text).strip(), [fold_diacritics(n) for n in site_names if n])


_SITE_WORDS = re.compile(r"(cong thong tin|trang thong tin|website|portal)")
_AUTHORITY = re.compile(r"(ubnd|uy ban nhan dan)\b")


def _site_name(folded: str, folded_names: list[str]) -> bool:
    """_is_site_name on folded text (stripped) and folded names."""
    if not folded:
        return True
    if folded in folded_names:
        return True
    if folded in _FURNITURE_TITLES or folded in ("trang chu", "home", "tin tuc - su kien"):
        return True
    words = len(folded.split())
    if words <= 14 and _SITE_WORDS.match(folded):
        return True
    # "UBND huyện X" as a <title> suffix; a headline starting with "UBND" is longer.
    return words <= 6 and bool(_AUTHORITY.match(folded))


_PAGE_NUMBER = re.compile(r"\b(trang|page)\s*\d+\s*$")


def plausible_title(text: str, section_names: list[str] | tuple[str, ...] = ()) -> bool:
    """False for what heads a listing or the site rather than an article."""
    if not text:
        return False
    return _plausible(fold_diacritics(text), [fold_diacritics(n) for n in section_names if n])


def _plausible(folded: str, folded_names: list[str]) -> bool:
    """plausible_title on the folded (non-empty) text and folded names."""
    return not _site_name(folded.strip(), folded_names) and not _PAGE_NUMBER.search(folded)


def _similarity(fa: str, fb: str) -> float:
    """How alike two folded texts are, from 0 to 1."""
    if fa == fb:
        return 1.0
    if fa in fb or fb in fa:
        return min(len(fa), len(fb)) / max(len(fa), len(fb))
    return SequenceMatcher(None, fa, fb, autojunk=False).ratio()


def _similarity_bound(fa: str, fb: str) -> float:
    """An upper bound of _similarity, cheaply: the exact value when that is cheap, else
    difflib's real_quick_ratio (as many matches as the shorter text has characters)."""
    if fa == fb:
        return 1.0
    if fa in fb or fb in fa:
        return min(len(fa), len(fb)) / max(len(fa), len(fb))
    return 2.0 * min(len(fa), len(fb)) / (len(fa) + len(fb))


def _place(pos: int, container: etree._Element | None, container_start: int) -> float:
    """The score for where a headline candidate sits relative to the body container."""
    if container is None:
        return 0.0
    if pos <= container_start:
        # Close before the body is where a headline sits.
        gap = container_start - pos
        return 4.0 if gap < 60 else 2.0 if gap < 200 else 0.0
    if pos <= container_start + 40:
        return 1.0
    return -4.0


def find_title(
    index: Index,
    dropped: set[etree._Element],
    container: etree._Element | None,
    meta_titles: list[str],
    section_names: list[str] | None = None,
) -> etree._Element | None:
    """The headline element: heading-like, near and before the body, like the <title>."""
    stats, order = index.stats, index.order
    container_start = order.get(container, len(order)) if container is not None else len(order)
    folded_names = [fold_diacritics(n) for n in section_names or () if n]
    # An empty title is like no title (similarity 0).
    folded_metas = [fold_diacritics(t) for t in meta_titles if t]
    best: etree._Element | None = None
    best_score = 0.0
    # Headings, itemprop="headline" and a cheap superset of the _TITLE_HINT test below.
    for el in index.titles:
        tag = el.tag
        tokens = class_tokens(el)
        cls = "-".join(tokens)
        is_heading = tag in ("h1", "h2", "h3", "h4")
        hinted = bool(_TITLE_HINT.search(cls)) or el.get("itemprop") == "headline"
        if not (is_heading or hinted):
            continue
        st = stats(el)
        if st is None or st.chars < 8 or st.chars > 400:
            continue
        if st.has_block and not is_heading:
            continue
        if st.link_chars > 0.5 * st.chars or _inside(el, dropped):
            continue
        text = normalize_text(text_of(el))
        folded_text = fold_diacritics(text)
        folded = folded_text.strip(" :")
        if (
            folded in _FURNITURE_TITLES
            or len(text.split()) < 3
            or not _plausible(folded_text, folded_names)
        ):
            continue
        score = {"h1": 3.0, "h2": 2.5, "h3": 2.0, "h4": 1.0}.get(tag, 1.0)
        if hinted:
            score += 2.0
        if _TITLE_BAD.search(cls):
            score -= 2.0
        place = _place(order.get(el, 0), container, container_start)
        if best is not None:
            # Skip the costly similarity when even its upper bound cannot win (float
            # rounding is monotonic, so the bound's score bounds the exact score).
            bound = max((_similarity_bound(folded_text, t) for t in folded_metas), default=0.0)
            if score + 6.0 * bound + place <= best_score:
                continue
        best_sim = max((_similarity(folded_text, t) for t in folded_metas), default=0.0)
        score += 6.0 * best_sim
        score += place
        if score > best_score:
            best, best_score = el, score
    return best if best_score >= 4.0 else None
