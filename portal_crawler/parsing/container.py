"""Find the article on a page: boilerplate to ignore, the body container, the title."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from lxml import etree

from portal_crawler.parsing.dom import BLOCK_TAGS, Stats, class_tokens, local_tag, text_of
from portal_crawler.parsing.text import fold_diacritics, normalize_text

# Class/id words of page furniture: an element carrying one is not article content
# (unless it holds most of the page's prose, see `boilerplate`).
_NEGATIVE = re.compile(
    r"^(sidebar|side|menu|menus|nav|navbar|navigation|breadcrumbs?|footer|header|topbar|banner|"
    r"banners|advert|ads|quangcao|share|sharing|social|bookmarks?|print|tools?|toolbar|"
    r"tags?|keywords?|tukhoa|comments?|binhluan|rating|vote|pager|pagination|paging|"
    r"related|relate|other|others|orther|tinkhac|lienquan|tinlienquan|samecategory|"
    r"mostview|mostviewed|xemnhieu|hotnews|latest|newest|tinmoi|widget|module|portlet-boundary|"
    r"search|login|logo|marquee|weather|counter|visitor|thongke|lienket|weblink|links|"
    r"fb|facebook|zalo|twitter|gotop|backtop|back|font|fontsize|contrast|tuongphan|"
    r"sendmail|email|subscribe|popup|modal|cookie)$"
)
# Substrings that mark furniture inside compound class words ("ortherArticle", "tinlienquan").
_NEGATIVE_PART = re.compile(
    r"sidebar|breadcrumb|related|orther|other-?news|othernews|tinkhac|tin-khac|lienquan|"
    r"lien-quan|xemnhieu|xem-nhieu|mostview|socialbookmark|share|comment|pagination|"
    r"navbar|tinmoi|tin-moi|footer|header|menu"
)
# Words of article wrappers: never treat those as furniture.
_POSITIVE = re.compile(
    r"^(article|articles|content|contents|detail|details|entry|post|story|body|main|chitiet|"
    r"noidung|newsdetail|news|text|bodytext|articletext|articlebody|rtestate|richhtmlfield)"
)

_TITLE_HINT = re.compile(r"title|headline|tieude|tieu-de|heading")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4"})
_TITLE_WORDS = re.compile("title|headline|tieu|heading", re.I).search
_TITLE_CANDIDATES = etree.XPath(
    "//*[self::h1 or self::h2 or self::h3 or self::h4 or @class or @id or @itemprop]"
)
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


# The token regexes above, run once on the joined tokens ("header-title-news").
_NEGATIVE_JOINED = re.compile(r"(?:^|-)" + _NEGATIVE.pattern[1:-1] + r"(?:-|$)")
_POSITIVE_JOINED = re.compile(r"(?:^|-)" + _POSITIVE.pattern[1:])
_HEADLINE_TOKEN = re.compile(r"(?:^|-)(?:title|headline|tieude)(?:-|$)")
_SECTIONING = ("nav", "aside", "footer", "header")


def is_furniture(el: etree._Element) -> bool:
    tag = el.tag
    tokens = class_tokens(el)
    if not tokens:
        return tag in _SECTIONING
    joined = "-".join(tokens)
    if _POSITIVE_JOINED.search(joined):
        return False
    if _HEADLINE_TOKEN.search(joined):
        return False  # "header-title" is a headline, not a page header
    if tag in ("nav", "aside", "footer"):
        return True
    return bool(_NEGATIVE_JOINED.search(joined) or _NEGATIVE_PART.search(joined))


_NAMED_OR_SECTIONING = etree.XPath(
    "//*[@class or @id or self::nav or self::aside or self::footer or self::header]"
)


def boilerplate(
    root: etree._Element, stats: dict[etree._Element, Stats], extra: list[etree._Element]
) -> set[etree._Element]:
    """Elements to ignore: furniture by name, unless it holds most of the prose."""
    body_stats = stats.get(root)
    total_prose = (body_stats.chars - body_stats.link_chars) if body_stats else 0
    dropped: set[etree._Element] = set(extra)
    # Templates repeat class names: decide each (tag kind, class, id) once per page.
    verdicts: dict[tuple[str, str | None, str | None], bool] = {}
    # Furniture is named by a class or id, or is a <nav>/<aside>/<footer>/<header>.
    for el in _NAMED_OR_SECTIONING(root):
        tag = el.tag
        if tag in ("html", "body", "form") or el in dropped:
            continue
        key = (tag if tag in _SECTIONING else "", el.get("class"), el.get("id"))
        furniture = verdicts.get(key)
        if furniture is None:
            furniture = verdicts[key] = is_furniture(el)
        if not furniture:
            continue
        st = stats.get(el)
        prose = (st.chars - st.link_chars) if st else 0
        # A wrapper misnamed "header-article" or a page-wide "module" holds the article.
        if total_prose and prose > 0.4 * total_prose and prose > 400:
            continue
        if _article_header(el, st):
            continue
        dropped.add(el)
    return dropped


def _article_header(el: etree._Element, st: Stats | None) -> bool:
    """A "page-header" / <header> that holds a headline, not the site's menu and logo."""
    tokens = class_tokens(el)
    if local_tag(el) != "header" and "header" not in tokens:
        return False
    if st is None or st.chars == 0 or st.link_chars > 0.3 * st.chars or st.chars > 600:
        return False
    return any(local_tag(h) in ("h1", "h2", "h3") for h in el.iter())


def _inside(el: etree._Element, group: set[etree._Element]) -> bool:
    node: etree._Element | None = el
    while node is not None:
        if node in group:
            return True
        node = node.getparent()
    return False


_PARA_TAGS = frozenset({"p", "div", "td", "li", "blockquote", "pre", "dd", "section", "article"})


def find_container(
    root: etree._Element,
    stats: dict[etree._Element, Stats],
    dropped: set[etree._Element],
) -> etree._Element | None:
    """The element holding the article's prose (readability-style scoring)."""
    scores: dict[etree._Element, float] = {}
    skip_cache: dict[etree._Element, bool] = {}

    def skipped(el: etree._Element) -> bool:
        # Iterative (pages can nest hundreds deep): climb to a known answer, then fill in.
        path = []
        node: etree._Element | None = el
        result = False
        while node is not None:
            known = skip_cache.get(node)
            if known is not None:
                result = known
                break
            if node in dropped:
                result = True
                skip_cache[node] = True
                break
            path.append(node)
            node = node.getparent()
        for visited in path:
            skip_cache[visited] = result
        return result

    for el in root.iter(*_PARA_TAGS):
        st = stats.get(el)
        if st is None:
            continue
        text_len = _leafish_text(el) if st.has_block else st.chars - st.link_chars
        if text_len < 25 or skipped(el):
            continue
        score = 1.0 + min(text_len / 100, 3.0) + _commas(el)
        parent = el.getparent()
        weight = 1.0
        for _ in range(3):
            if parent is None or local_tag(parent) in ("body", "html"):
                break
            scores[parent] = scores.get(parent, 0.0) + score * weight
            parent = parent.getparent()
            weight /= 2
    best: etree._Element | None = None
    best_score = 0.0
    for el, score in scores.items():
        st = stats[el]
        density = st.link_chars / st.chars if st.chars else 1.0
        adjusted = score * (1 - density)
        if adjusted > best_score:
            best, best_score = el, adjusted
    return best


def _leafish_text(el: etree._Element) -> int:
    """Length of text directly inside a mixed block (not in its block children)."""
    total = len((el.text or "").strip())
    for child in el:
        if isinstance(child.tag, str) and local_tag(child) not in BLOCK_TAGS:
            total += len(" ".join(child.itertext()).strip())
        total += len((child.tail or "").strip())
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
    folded = fold_diacritics(text).strip()
    if not folded:
        return True
    if any(fold_diacritics(name) == folded for name in site_names if name):
        return True
    if folded in _FURNITURE_TITLES or folded in ("trang chu", "home", "tin tuc - su kien"):
        return True
    words = len(folded.split())
    if words <= 14 and re.match(r"(cong thong tin|trang thong tin|website|portal)", folded):
        return True
    # "UBND huyện X" as a <title> suffix; a headline starting with "UBND" is longer.
    return words <= 6 and bool(re.match(r"(ubnd|uy ban nhan dan)\b", folded))


_PAGE_NUMBER = re.compile(r"\b(trang|page)\s*\d+\s*$")


def plausible_title(text: str, section_names: list[str] | tuple[str, ...] = ()) -> bool:
    """False for what heads a listing or the site rather than an article."""
    if not text or _is_site_name(text, list(section_names)):
        return False
    return not _PAGE_NUMBER.search(fold_diacritics(text))


def similarity(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    fa, fb = fold_diacritics(a), fold_diacritics(b)
    if fa == fb:
        return 1.0
    if fa in fb or fb in fa:
        return min(len(fa), len(fb)) / max(len(fa), len(fb))
    return SequenceMatcher(None, fa, fb, autojunk=False).ratio()


def find_title(
    root: etree._Element,
    stats: dict[etree._Element, Stats],
    dropped: set[etree._Element],
    order: dict[etree._Element, int],
    container: etree._Element | None,
    meta_titles: list[str],
    section_names: list[str] | None = None,
) -> etree._Element | None:
    """The headline element: heading-like, near and before the body, like the <title>."""
    container_start = order.get(container, len(order)) if container is not None else len(order)
    best: etree._Element | None = None
    best_score = 0.0
    for el in _TITLE_CANDIDATES(root):
        tag = el.tag
        if tag not in _HEADINGS and el.get("itemprop") != "headline":
            # A cheap superset of the _TITLE_HINT test below.
            cls, ident = el.get("class"), el.get("id")
            if not ((cls and _TITLE_WORDS(cls)) or (ident and _TITLE_WORDS(ident))):
                continue
        tokens = class_tokens(el)
        cls = "-".join(tokens)
        is_heading = tag in ("h1", "h2", "h3", "h4")
        hinted = bool(_TITLE_HINT.search(cls)) or el.get("itemprop") == "headline"
        if not (is_heading or hinted):
            continue
        st = stats.get(el)
        if st is None or st.chars < 8 or st.chars > 400:
            continue
        if st.has_block and not is_heading:
            continue
        if st.link_chars > 0.5 * st.chars or _inside(el, dropped):
            continue
        text = normalize_text(text_of(el))
        folded = fold_diacritics(text).strip(" :")
        if (
            folded in _FURNITURE_TITLES
            or len(text.split()) < 3
            or not plausible_title(text, section_names or ())
        ):
            continue
        score = {"h1": 3.0, "h2": 2.5, "h3": 2.0, "h4": 1.0}.get(tag, 1.0)
        if hinted:
            score += 2.0
        if _TITLE_BAD.search(cls):
            score -= 2.0
        best_sim = max((similarity(text, t) for t in meta_titles), default=0.0)
        score += 6.0 * best_sim
        pos = order.get(el, 0)
        if container is not None:
            if pos <= container_start:
                # Close before the body is where a headline sits.
                gap = container_start - pos
                score += 4.0 if gap < 60 else 2.0 if gap < 200 else 0.0
            elif pos <= container_start + 40:
                score += 1.0
            else:
                score -= 4.0
        if score > best_score:
            best, best_score = el, score
    return best if best_score >= 4.0 else None
