"""DOM helpers for the extractor: loading, pruning, element text and attributes
(per-element statistics: scan.py)."""

from __future__ import annotations

import re
import threading
from collections import Counter, deque

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
_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")


def _parser(utf8: bool = False) -> etree.HTMLParser:
    # lxml parsers must not be shared between threads. huge_tree lifts libxml2's nesting
    # limit of 256 (beyond which it silently drops the rest of the page) to 2048, and
    # its 10 MB limit on one text node; `flatten_deep` then bounds the depth we walk.
    name = "utf8_parser" if utf8 else "parser"
    parser = getattr(_LOCAL, name, None)
    if parser is None:
        parser = etree.HTMLParser(huge_tree=True, encoding="utf-8" if utf8 else None)
        setattr(_LOCAL, name, parser)
    return parser


_LOCAL = threading.local()
_XML_DECLARATION = re.compile(r"\s*<\?xml[^>]*\?>")


def load_tree(html_text: str, utf8: bytes | None = None) -> etree._Element | None:
    """Parse HTML text into a tree; None when there is nothing to parse.

    `utf8`, when given, is exactly html_text in UTF-8 (see decode.decode_page): libxml2
    parses it as it is, which is cheaper than the text it would first convert to UTF-8.
    Plain lxml elements (not lxml.html's): the extractor needs no HtmlElement methods,
    and its class lookup costs a Python call per element.
    """
    if not html_text or html_text.isspace():
        return None
    # lxml refuses str input that carries an XML encoding declaration.
    match = _XML_DECLARATION.match(html_text)
    if match:
        html_text = html_text[match.end() :]
        utf8 = None
    parser = _parser(utf8 is not None)
    root = _parse_html(html_text if utf8 is None else utf8, parser)
    if any("Excessive depth" in entry.message for entry in parser.error_log):
        # libxml2 stops at 2048 levels and drops the rest of the page: parse again without
        # the opening tags nested that deep (a nesting bomb before the article).
        shallow = _parse_html(_shallow_markup(html_text), _parser())
        root = shallow if shallow is not None else root
    if root is None:
        return None
    flatten_deep(root)
    return root


def _parse_html(html_text: str | bytes, parser: etree.HTMLParser) -> etree._Element | None:
    try:
        return etree.fromstring(html_text, parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


# [^<>]* (not [^>]*) keeps the scan linear on text full of unclosed "<".
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)[^<>]*>")
_VOID_TAGS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_SHALLOW_DEPTH = 1000


def _shallow_markup(html_text: str) -> str:
    """The markup without a nesting bomb: beyond _SHALLOW_DEPTH open elements, the tags
    that built the bomb (the names opened just before) are dropped with their end tags.

    Counts open and end tags as written, ignoring HTML's implied end tags: good enough to
    defuse a bomb while keeping the markup around it (an article after it keeps its
    headings and paragraphs).
    """
    out: list[str] = []
    depth = pos = 0
    recent: deque[str] = deque(maxlen=50)
    bomb: set[str] = set()
    dropped: Counter[str] = Counter()  # open tags dropped, by name, not yet closed
    for match in _TAG.finditer(html_text):
        closing, name = match.group(1), match.group(2).lower()
        if name in _VOID_TAGS or match.group(0).endswith("/>"):
            continue
        if closing:
            drop = dropped[name] > 0
            if drop:
                dropped[name] -= 1
            else:
                depth = max(0, depth - 1)
        else:
            if depth >= _SHALLOW_DEPTH and not bomb:
                bomb = set(recent)
            drop = depth >= _SHALLOW_DEPTH and (name in bomb or depth >= _SHALLOW_DEPTH + 500)
            if drop:
                dropped[name] += 1
            else:
                depth += 1
                recent.append(name)
        if drop:
            out.append(html_text[pos : match.start()])
            pos = match.end()
    out.append(html_text[pos:])
    return "".join(out)


def text_of(el: etree._Element) -> str:
    """The text inside an element (its tail excluded), like lxml.html's text_content()."""
    return "".join(el.itertext())


# Deeper than this, wrappers are unwrapped (their content kept) so that no walk of the
# tree goes deeper than MAX_DEPTH + _KEEP_HEIGHT + 1 levels: real pages nest 20-60 deep.
MAX_DEPTH = 200
_KEEP_HEIGHT = 20
# An element below MAX_DEPTH (the root at depth 0): one cheap C-level test per page.
_TOO_DEEP = etree.XPath("(" + "/*" * (MAX_DEPTH + 2) + ")[1]")


def flatten_deep(root: etree._Element) -> int:
    """Unwrap elements nested beyond MAX_DEPTH that hold deep subtrees; how many were.

    A nesting bomb (thousands of unclosed <div>s) would otherwise exhaust Python's
    recursion limit in the walks; the text and small subtrees (paragraphs) are kept.
    """
    if not _TOO_DEEP(root):
        return 0
    depth: dict[etree._Element, int] = {}
    elements = []
    for el in root.iter():
        parent = el.getparent()
        depth[el] = depth[parent] + 1 if parent is not None else 0
        elements.append(el)
    height: dict[etree._Element, int] = {}
    for el in reversed(elements):
        height[el] = max((height[c] + 1 for c in el), default=0)
    unwrapped = 0
    for el in elements:  # top-down: each element moves at most once
        if depth[el] > MAX_DEPTH and height[el] > _KEEP_HEIGHT:
            _unwrap(el)
            unwrapped += 1
    return unwrapped


def _unwrap(el: etree._Element) -> None:
    """Replace an element by its content (text, children, tail) in its parent."""
    parent = el.getparent()
    if parent is None:
        return
    text, tail = el.text, el.tail
    el.text = el.tail = None
    previous = el.getprevious()
    if text:
        if previous is not None:
            _append_tail(previous, text)
        else:
            _append_text(parent, text)
    last = previous
    for child in list(el):
        el.addprevious(child)
        last = child
    if tail:
        if last is not None:
            _append_tail(last, tail)
        else:
            _append_text(parent, tail)
    parent.remove(el)


def class_tokens(el: etree._Element) -> list[str]:
    """Lower-case words of an element's class and id attributes."""
    return name_tokens(el.get("class"), el.get("id"))


def name_tokens(cls: str | None, ident: str | None) -> list[str]:
    """Lower-case words of a class and an id attribute value."""
    if not cls and not ident:
        return []
    raw = f"{cls or ''} {ident or ''}".lower()
    if raw.isascii():  # the usual case: split in C, bytes translating faster than str
        return raw.encode().translate(_NOT_WORD).decode().split()
    return [t for t in _TOKEN_SPLIT.split(raw) if t]


# Every byte but a-z and 0-9 to a space (what _TOKEN_SPLIT splits at).
_NOT_WORD = bytes(b if 0x61 <= b <= 0x7A or 0x30 <= b <= 0x39 else 0x20 for b in range(256))


def class_text(el: etree._Element) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}".lower()


# What lxml refuses to store in a tree although its parser produced it from character
# references such as "&#1;".
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _append_text(el: etree._Element, text: str) -> None:
    value = (el.text or "") + text
    try:
        el.text = value
    except ValueError:
        el.text = _NOT_XML.sub("", value)


def _append_tail(el: etree._Element, text: str) -> None:
    value = (el.tail or "") + text
    try:
        el.tail = value
    except ValueError:
        el.tail = _NOT_XML.sub("", value)


def drop(el: etree._Element) -> None:
    """Remove an element but keep its tail text in place."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        previous = el.getprevious()
        if previous is not None:
            _append_tail(previous, tail)
        else:
            _append_text(parent, tail)
    parent.remove(el)


def strip_junk(root: etree._Element, hidden: list[etree._Element]) -> None:
    """Remove scripts, styles, form controls, comments and the hidden elements (found by
    `scan.scan_attributes`, in document order)."""
    # In C, keeping each removed element's tail text in place.
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    etree.strip_elements(root, *JUNK_TAGS, with_tail=False)
    for el in hidden:
        # Not the root; one inside an element already removed (or stripped above) is
        # removed from that detached subtree, which changes nothing.
        if el.getparent() is not None:
            drop(el)


def local_tag(el: etree._Element) -> str:
    tag = el.tag
    # The HTML parser lower-cases tag names; Word's namespaced tags (<o:p>) stay
    # distinct from HTML ones: <o:p> is inline.
    return tag if isinstance(tag, str) else ""


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
