"""The two walks over a page's elements that the extractor's searches read from.

`scan_attributes` runs on the page as parsed: hidden elements, every element's class and
id, the <meta> values and the few marked elements the metadata needs. `index_tree` runs
once the page is pruned: per-element text statistics, document order and the lists of
elements that the boilerplate, container and title searches go through. Two walks instead
of an XPath query and a Python loop per question: element visits are most of the cost of
extraction, and a `//*` query costs more than the Python loop over its result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import compress
from typing import NamedTuple

from lxml import etree

from portal_crawler.parsing.dom import BLOCK_TAGS

_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_HIDDEN_CLASSES = frozenset({"hidden", "hide", "d-none", "sr-only", "visually-hidden", "invisible"})
_SECTIONING = frozenset({"nav", "aside", "footer", "header"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4"})
_PARA_TAGS = frozenset({"p", "div", "td", "li", "blockquote", "pre", "dd", "section", "article"})

# Position, element, tag, class, id.
Named = tuple[int, etree._Element, str, str | None, str | None]


@dataclass
class Attributes:
    """What the page's attributes say, read before the page is pruned."""

    hidden: list[etree._Element] = field(default_factory=list)  # document order
    # Elements with a class or id attribute (even empty), in document order.
    names: dict[etree._Element, tuple[str | None, str | None]] = field(default_factory=dict)
    headlines: set[etree._Element] = field(default_factory=set)  # itemprop="headline"
    # itemprop="datePublished" and <time datetime pubdate>, in document order.
    dated: list[etree._Element] = field(default_factory=list)
    # (property, name or itemprop lower-cased; content) of each <meta> with a content.
    metas: list[tuple[str, str]] = field(default_factory=list)

    def meta_content(self, *keys: str) -> list[str]:
        wanted = {k.lower() for k in keys}
        return [content for key, content in self.metas if key in wanted]


def _may_hide(cls: str | None, style: str | None) -> bool:
    """A cheap superset of `_hidden`'s class and style tests: substrings, lower-cased,
    of every class word it looks for and of every match of its style regex. (No other
    character lower-cases or, under re.I, matches as an ASCII letter in them: only "İ"
    and the Kelvin sign lower-case to ASCII, and "ı", "ſ" match "i", "s" under re.I.)"""
    if cls:
        lowered = cls.lower()
        if "hid" in lowered or "none" in lowered or "sr-only" in lowered or "invisible" in lowered:
            return True
    if style:
        lowered = style.lower()
        return "none" in lowered or "dden" in lowered
    return False


def _hidden(el: etree._Element) -> bool:
    style = el.get("style")
    if style and _HIDDEN_STYLE.search(style):
        return True
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    return any(c in _HIDDEN_CLASSES for c in (el.get("class") or "").lower().split())


# The attributes `scan_attributes` reads; the others (href, src, alt ...) are skipped.
_READ = frozenset({"class", "id", "style", "itemprop", "hidden", "aria-hidden", "pubdate"})


def _document_elements(root: etree._Element) -> Iterator[etree._Element]:
    """Every element of the root's document, in document order: tag soup can leave other
    top-level elements beside the root, which a `//*` query sees, and so the searches
    that ran one (the breadcrumb, microdata dates)."""
    before = list(root.itersiblings(preceding=True))
    for top in (*reversed(before), root, *root.itersiblings()):
        yield from top.iter(etree.Element)


def scan_attributes(root: etree._Element) -> Attributes:
    """Read the attributes of every element of the document once."""
    found = Attributes()
    names, hidden, headlines, dated = found.names, found.hidden, found.headlines, found.dated
    read = _READ
    for el in _document_elements(root):
        # The names only: most values (href, src ...) are not wanted, and the wanted
        # ones are fetched by name.
        keys = el.keys()
        if not keys:
            continue
        cls = ident = style = itemprop = None
        marked = pubdate = False
        for key in keys:
            if key not in read:
                continue
            if key == "class":
                cls = el.get("class")
            elif key == "id":
                ident = el.get("id")
            elif key == "style":
                style = el.get("style")
            elif key == "itemprop":
                itemprop = el.get("itemprop")
            elif key == "pubdate":
                pubdate = True
            else:  # hidden, aria-hidden
                marked = True
        if cls is not None or ident is not None:
            names[el] = (cls, ident)
        if (marked or _may_hide(cls, style)) and _hidden(el):
            hidden.append(el)
        if itemprop is not None:
            if itemprop == "headline":
                headlines.add(el)
            elif itemprop == "datePublished":
                dated.append(el)
                continue
        if pubdate and el.tag == "time" and el.get("datetime") is not None:
            dated.append(el)
    for el in root.iter("meta"):
        content = el.get("content")
        if content:
            key = el.get("property") or el.get("name") or el.get("itemprop") or ""
            found.metas.append((key.lower(), content))
    return found


class Stats(NamedTuple):
    """Text statistics of an element's subtree."""

    chars: int  # visible characters (white space runs count once)
    link_chars: int  # of which inside <a href>
    has_block: bool  # some descendant is a block element


@dataclass
class Index:
    """A pruned page's elements: statistics, document order and search candidates.

    The statistics are lists by document position (`order`), not a Stats object per
    element: most elements are never asked for theirs.
    """

    elements: list[etree._Element]  # document order
    order: dict[etree._Element, int]
    tags: list[str]  # "" for a comment or processing instruction
    parents: list[int]  # -1 for the root
    chars: list[int]  # visible characters of the subtree (white space runs count once)
    link_chars: list[int]  # of which inside <a href>
    has_block: list[bool]  # some descendant is a block element
    blocky: set[etree._Element]  # the elements with has_block
    named: list[Named]  # a class or id, or a <nav>/<aside>/<footer>/<header>
    titles: list[etree._Element]  # headings and elements named like headlines
    paras: list[int]  # positions of paragraph-like blocks, for the container search

    def stats(self, el: etree._Element) -> Stats | None:
        i = self.order.get(el)
        if i is None:
            return None
        return Stats(self.chars[i], self.link_chars[i], self.has_block[i])


def folded_length(text: str) -> int:
    """len(" ".join(text.split())), without splitting text that has no white space to
    fold: printable text holds no white space but the ASCII space."""
    stripped = text.strip()
    if stripped.isprintable() and "  " not in stripped:
        return len(stripped)
    return len(" ".join(stripped.split()))


def _title_words(value: str | None) -> bool:
    """A cheap superset of the headline words `find_title` looks for in a class or id."""
    if not value:
        return False
    lowered = value.lower()
    return "title" in lowered or "headline" in lowered or "tieu" in lowered or "heading" in lowered


def index_tree(root: etree._Element, attrs: Attributes) -> Index:
    """Text statistics of every element's subtree and the candidate lists, in two loops:
    down the document for the texts, back up it to add each subtree into its parent."""
    elements = list(root.iter())
    count = len(elements)
    order: dict[etree._Element, int] = {}
    chars = [0] * count  # own text and children's tails, then the whole subtree's
    parents = [-1] * count
    tags: list[str] = [""] * count
    named: list[Named] = []
    titles: list[etree._Element] = []
    paras: list[int] = []
    names, headlines = attrs.names, attrs.headlines
    for i, el in enumerate(elements):
        order[el] = i
        parent = el.getparent()
        if parent is not None:
            p = parents[i] = order[parent]
            tail = el.tail
            if tail and not tail.isspace():  # most texts between tags are blank
                chars[p] += folded_length(tail)
        tag = el.tag
        if not isinstance(tag, str):
            continue  # a comment or processing instruction: its tail only counts
        tags[i] = tag
        text = el.text
        if text and not text.isspace():
            chars[i] += folded_length(text)
        name = names.get(el)
        if name is not None:
            cls, ident = name
            named.append((i, el, tag, cls, ident))
            if tag in _HEADINGS or _title_words(cls) or _title_words(ident) or el in headlines:
                titles.append(el)
        else:
            if tag in _SECTIONING:
                named.append((i, el, tag, None, None))
            if tag in _HEADINGS or el in headlines:
                titles.append(el)
        if tag in _PARA_TAGS:
            paras.append(i)
    link_chars = [0] * count
    has_block = [False] * count
    blocks = BLOCK_TAGS
    for i in range(count - 1, 0, -1):  # the root has no parent to add to
        tag = tags[i]
        if not tag:
            continue
        if tag == "a" and elements[i].get("href"):
            link_chars[i] = chars[i]
        p = parents[i]
        chars[p] += chars[i]
        if link_chars[i]:
            link_chars[p] += link_chars[i]
        if has_block[i] or tag in blocks:
            has_block[p] = True
    if tags[0] == "a" and elements[0].get("href"):
        link_chars[0] = chars[0]
    blocky = set(compress(elements, has_block))
    return Index(
        elements, order, tags, parents, chars, link_chars, has_block, blocky, named, titles, paras
    )
