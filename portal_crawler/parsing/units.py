"""Linearise an article region into units: text blocks and images, in reading order.

A text unit is what a browser shows as one paragraph: a block element without
block children, or a run of inline content between the blocks of a mixed
container. An image splits the text around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from portal_crawler.parsing.dom import BLOCK_TAGS, alignment
from portal_crawler.parsing.text import normalize_text

_BOLD_STYLE = re.compile(r"font-weight:(bold|[6-9]00)")
_ITALIC_STYLE = re.compile(r"font-style:italic")


@dataclass(slots=True)
class Link:
    href: str
    text: str
    onclick: str
    el: etree._Element


@dataclass(slots=True)
class Unit:
    kind: str  # "text" or "image"
    el: etree._Element  # the block (text) or the <img>
    zone: str = "body"  # "head" (title..container), "body", "tail" (after the container)
    text: str = ""
    bold: bool = False
    italic: bool = False
    link_chars: int = 0
    links: list[Link] = field(default_factory=list)
    # The memo of `alignment` shared by a page's text units (None for images): a unit's
    # alignment is looked up when first asked, as few units are.
    align_cache: dict[etree._Element, str | None] | None = field(default=None, repr=False)

    @property
    def align(self) -> str | None:
        """The text-align in force on a text unit's block."""
        if self.align_cache is None:
            return None
        return alignment(self.el, cache=self.align_cache)

    @property
    def link_ratio(self) -> float:
        return self.link_chars / len(self.text) if self.text else 0.0

    @property
    def words(self) -> int:
        """len(text.split()), counted without splitting: unit text is normalised."""
        return self.text.count(" ") + 1 if self.text else 0


@dataclass(slots=True)
class _Piece:
    text: str
    bold: bool
    italic: bool
    link: etree._Element | None
    brk: bool = False


class _Collector:
    """Collects the inline pieces of one paragraph and turns them into units."""

    def __init__(
        self,
        block: etree._Element,
        zone: str,
        out: list[Unit],
        align_cache: dict[etree._Element, str | None] | None = None,
    ) -> None:
        self.block = block
        self.align_cache = align_cache
        self.zone = zone
        self.out = out
        self.pieces: list[_Piece] = []
        self.breaks = False  # some piece is a <br>

    def add(self, text: str | None, bold: bool, italic: bool, link: etree._Element | None) -> None:
        if text:
            self.pieces.append(_Piece(text, bold, italic, link))

    def add_break(self, bold: bool, italic: bool, link: etree._Element | None) -> None:
        self.pieces.append(_Piece("\n", bold, italic, link, brk=True))
        self.breaks = True

    def flush(self) -> None:
        pieces, self.pieces = self.pieces, []
        if not pieces:
            return
        if not self.breaks:
            self._emit(pieces)
            return
        self.breaks = False
        for group in _paragraphs(pieces):
            self._emit(group)

    def _emit(self, pieces: list[_Piece]) -> None:
        text = normalize_text("".join([p.text for p in pieces]))
        if not text:
            return
        visible = [p for p in pieces if not p.text.isspace()]  # pieces are never empty
        links: dict[etree._Element, list[str]] = {}
        link_chars = 0
        for p in visible:
            if p.link is not None:
                links.setdefault(p.link, []).append(p.text)
                link_chars += len(normalize_text(p.text)) + 1
        self.out.append(
            Unit(
                kind="text",
                el=self.block,
                zone=self.zone,
                text=text,
                bold=all([p.bold for p in visible]),
                italic=all([p.italic for p in visible]),
                link_chars=min(link_chars, len(text)),
                links=[
                    Link(
                        href=a.get("href") or "",
                        text=normalize_text("".join(parts)),
                        onclick=a.get("onclick") or "",
                        el=a,
                    )
                    for a, parts in links.items()
                ]
                if links
                else [],
                align_cache=self.align_cache,
            )
        )


_LINE_START = re.compile(r"^\s*[-–—•+*“\"(\[\d]|^\s*[^\W\d_]", re.U)


def _paragraphs(pieces: list[_Piece]) -> list[list[_Piece]]:
    """Split a block's pieces at line breaks that separate paragraphs.

    A blank line (two <br>) always does; a single <br> does when the line before
    ends a sentence and the next starts one, as on CMSs that write paragraphs
    as lines; a <br> inside a sentence is a hard wrap.
    """
    lines: list[list[_Piece]] = [[]]
    breaks: list[int] = []
    run = 0
    line_has_text = False  # the current line shows something besides white space
    for piece in pieces:
        if piece.brk:
            run += 1
            continue
        if run and line_has_text:
            lines.append([])
            breaks.append(run)
            line_has_text = False
        run = 0
        lines[-1].append(piece)
        line_has_text = line_has_text or not piece.text.isspace()
    groups: list[list[_Piece]] = [lines[0]]
    # Only the last visible character of a group matters (does it end a sentence?): kept
    # as we go, so that a block of a hundred thousand hard-wrapped lines stays linear.
    last = _last_visible(lines[0])
    for count, line in zip(breaks, lines[1:], strict=True):
        after = "".join(p.text for p in line)
        starts = _LINE_START.match(after)
        capital = starts is not None and not after.strip()[:1].islower()
        if count >= 2 or (last in _SENTENCE_END_CHARS and capital):
            groups.append(line)
            last = _last_visible(line)
        else:
            groups[-1].extend([_Piece(" ", False, False, None), *line])
            last = _last_visible(line) or last
    return groups


# The characters after which a line ends a sentence (_SENTENCE_END as a set).
_SENTENCE_END_CHARS = frozenset('.!?:;…)]”"»')


def _last_visible(line: list[_Piece]) -> str:
    for piece in reversed(line):
        stripped = piece.text.rstrip()
        if stripped:
            return stripped[-1]
    return ""


_BOLD_TAGS = frozenset({"b", "strong", "h1", "h2", "h3", "h4", "h5", "h6", "th"})
_ITALIC_TAGS = frozenset({"i", "em", "cite"})


def _emphasis(el: etree._Element, tag: str, bold: bool, italic: bool) -> tuple[bool, bool]:
    """(bold, italic) inside an element, given those outside it."""
    bold = bold or tag in _BOLD_TAGS
    italic = italic or tag in _ITALIC_TAGS
    if not (bold and italic):
        style = el.get("style")
        if style:
            style = style.lower().replace(" ", "")
            bold = bold or _BOLD_STYLE.search(style) is not None
            italic = italic or _ITALIC_STYLE.search(style) is not None
    return bold, italic


class Linearizer:
    """Walks a region in document order, tracking the zone (head/body/tail)."""

    def __init__(
        self,
        blocky: set[etree._Element],
        *,
        title: etree._Element | None,
        container: etree._Element,
        skip: set[etree._Element],
    ) -> None:
        self.blocky = blocky  # the elements with a block descendant
        self.title = title
        self.container = container
        self.skip = skip  # elements left out with their subtrees
        self.out: list[Unit] = []
        self.align_cache: dict[etree._Element, str | None] = {}
        self.zone = "pre" if title is not None else "head"
        self.in_container = False

    def run(self, region: etree._Element) -> list[Unit]:
        self._walk(region)
        return [u for u in self.out if u.zone != "pre"]

    def _walk(self, el: etree._Element) -> None:
        tag = el.tag
        if not isinstance(tag, str):
            return
        if el is self.title:
            # A headline inside the body container starts the body right away.
            self.zone = "body" if self.in_container else "head"
            return
        if el in self.skip:
            return
        entering = el is self.container
        if entering:
            self.in_container = True
            self.zone = "body" if self.zone != "pre" else "pre"
        if tag == "img":
            self.out.append(Unit(kind="image", el=el, zone=self.zone))
        elif tag in ("br", "hr"):
            pass
        elif el not in self.blocky:
            col = _Collector(el, self.zone, self.out, self.align_cache)
            self._inline(el, col, False, False, None, top=True)
            col.flush()
        else:
            col = _Collector(el, self.zone, self.out, self.align_cache)
            col.add(el.text, False, False, None)
            blocky, skip = self.blocky, self.skip
            for child in el:
                ctag = child.tag
                if not isinstance(ctag, str):
                    col.add(child.tail, False, False, None)
                    continue
                if (
                    ctag in BLOCK_TAGS
                    or child in blocky
                    or child is self.title
                    or child is self.container
                    or child in skip
                ):
                    col.flush()
                    self._walk(child)
                    col = _Collector(el, self.zone, self.out, self.align_cache)
                else:
                    self._inline(child, col, False, False, None)
                col.add(child.tail, False, False, None)
            col.flush()
        if entering:
            self.in_container = False
            self.zone = "tail" if self.zone == "body" else self.zone

    def _inline(
        self,
        el: etree._Element,
        col: _Collector,
        bold: bool,
        italic: bool,
        link: etree._Element | None,
        *,
        top: bool = False,
    ) -> None:
        """Add an inline subtree's text to the collector; images split the paragraph."""
        tag = el.tag
        if not isinstance(tag, str) or (not top and el in self.skip):
            return
        if tag == "img":
            col.flush()
            self.out.append(Unit(kind="image", el=el, zone=self.zone))
            return
        if tag == "br":
            col.add_break(bold, italic, link)
            return
        bold, italic = _emphasis(el, tag, bold, italic)
        if tag == "a" and el.get("href") is not None:
            link = el
        col.add(el.text, bold, italic, link)
        for child in el:
            self._inline(child, col, bold, italic, link)
            col.add(child.tail, bold, italic, link)
