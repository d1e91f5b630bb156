"""DOM helpers for the extractor: loading, pruning and cheap per-element statistics."""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.html
from lxml import etree

# Elements that start a new line of text in a browser.
BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "td",
        "th",
        "ul",
        "caption",
    ]
)
# Never content: dropped before anything else looks at the tree.
JUNK_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "canvas",
    "video",
    "audio",
    "input",
    "select",
    "option",
    "button",
    "textarea",
    "link",
    "meta",
    "map",
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_HIDDEN_CLASSES = frozenset({"hidden", "hide", "d-none", "sr-only", "visually-hidden", "invisible"})
_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")
# Words that may hide an element; is_hidden decides (most classes say nothing of it).
_HIDE_WORDS = ("hid", "none", "sr-only", "invisible")


def load_tree(html_text: str) -> lxml.html.HtmlElement | None:
    """Parse HTML text into a tree; None when there is nothing to parse."""
    if not html_text or not html_text.strip():
        return None
    # lxml refuses str input that carries an XML encoding declaration.
    html_text = re.sub(r"^\s*<\?xml[^>]*\?>", "", html_text)
    try:
        return lxml.html.document_fromstring(html_text)
    except (etree.ParserError, ValueError):
        return None


def class_tokens(el: etree._Element) -> list[str]:
    """Lower-case words of an element's class and id attributes."""
    cls, ident = el.get("class"), el.get("id")
    if not cls and not ident:
        return []
    raw = f"{cls or ''} {ident or ''}".lower()
    return [t for t in _TOKEN_SPLIT.split(raw) if t]


def class_text(el: etree._Element) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}".lower()


def is_hidden(el: etree._Element) -> bool:
    if not el.attrib:
        return False
    style = el.get("style")
    if style and _HIDDEN_STYLE.search(style):
        return True
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    cls = (el.get("class") or "").lower().split()
    return any(c in _HIDDEN_CLASSES for c in cls)


def drop(el: etree._Element) -> None:
    """Remove an element but keep its tail text in place."""
    parent = el.getparent()
    if parent is None:
        return
    el.drop_tree() if isinstance(el, lxml.html.HtmlElement) else parent.remove(el)


def strip_junk(root: lxml.html.HtmlElement) -> None:
    """Remove scripts, styles, form controls, comments and hidden elements."""
    # In C, keeping each removed element's tail text in place.
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    etree.strip_elements(root, *JUNK_TAGS, with_tail=False)
    for el in root.xpath("//*[@style or @class or @hidden or @aria-hidden]"):
        marks = f"{el.get('style') or ''} {el.get('class') or ''}".lower()
        maybe = any(word in marks for word in _HIDE_WORDS) or el.get("hidden") is not None
        maybe = maybe or el.get("aria-hidden") is not None
        if maybe and is_hidden(el) and el.getparent() is not None:
            drop(el)


def local_tag(el: etree._Element) -> str:
    tag = el.tag
    # The HTML parser lower-cases tag names; Word's namespaced tags (<o:p>) stay
    # distinct from HTML ones: <o:p> is inline.
    return tag if isinstance(tag, str) else ""


@dataclass
class Stats:
    """Text statistics of an element's subtree, computed in one pass."""

    chars: int = 0  # visible characters (white space runs count once)
    link_chars: int = 0  # of which inside <a href>
    has_block: bool = False  # some descendant is a block element
    images: int = 0


def _len(text: str | None) -> int:
    if not text:
        return 0
    return len(" ".join(text.split()))


def compute_stats(root: etree._Element) -> dict[etree._Element, Stats]:
    """Per-element statistics, children before parents (no quadratic walks)."""
    stats: dict[etree._Element, Stats] = {}
    get = stats.get
    for el in reversed(list(root.iter(etree.Element))):
        text = el.text
        st = Stats(chars=_len(text) if text else 0)
        for child in el:
            child_stats = get(child)
            if child_stats is not None:
                st.chars += child_stats.chars
                st.link_chars += child_stats.link_chars
                st.images += child_stats.images
                if child_stats.has_block or child.tag in BLOCK_TAGS:
                    st.has_block = True
            tail = child.tail
            if tail:
                st.chars += _len(tail)
        tag = el.tag
        if tag == "a" and el.get("href"):
            st.link_chars = st.chars
        elif tag == "img":
            st.images += 1
        stats[el] = st
    return stats


def doc_order(root: etree._Element) -> dict[etree._Element, int]:
    return {el: i for i, el in enumerate(root.iter())}


def last_descendant_index(el: etree._Element, order: dict[etree._Element, int]) -> int:
    last = el
    while len(last):
        last = last[-1]
    return order.get(last, order.get(el, 0))


def style_of(el: etree._Element) -> str:
    return (el.get("style") or "").lower().replace(" ", "")


_TEXT_ALIGN = re.compile(r"text-align:(left|right|center|justify)")
_RIGHT_CLASS = re.compile(r"\b(text right|right|text align right|pull right)\b")
_CENTER_CLASS = re.compile(r"\b(text center|center)\b")


def _own_alignment(node: etree._Element) -> str | None:
    if not node.attrib:
        return "center" if node.tag == "center" else None
    m = _TEXT_ALIGN.search(style_of(node))
    if m:
        return m.group(1)
    align = (node.get("align") or "").lower()
    if align in ("left", "right", "center", "justify"):
        return align
    cls = " ".join(class_tokens(node))
    if _RIGHT_CLASS.search(cls):
        return "right"
    if _CENTER_CLASS.search(cls) or node.tag == "center":
        return "center"
    return None


def alignment(
    el: etree._Element,
    stop: etree._Element | None = None,
    cache: dict[etree._Element, str | None] | None = None,
) -> str | None:
    """The text-align in force on an element (searching up to `stop`).

    `cache` memoises whole-ancestry answers (only used without `stop`): the blocks of
    one article share most of their ancestors.
    """
    if cache is not None and stop is None:
        if el in cache:
            return cache[el]
        found = _own_alignment(el)
        if found is None:
            parent = el.getparent()
            found = alignment(parent, None, cache) if parent is not None else None
        cache[el] = found
        return found
    node: etree._Element | None = el
    while node is not None:
        found = _own_alignment(node)
        if found:
            return found
        if node is stop:
            break
        node = node.getparent()
    return None
