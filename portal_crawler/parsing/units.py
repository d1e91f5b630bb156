"""Linearise an article region into units: text blocks and images, in reading order.

A text unit is what a browser shows as one paragraph: a block element without
block children, or a run of inline content between the blocks of a mixed
container. An image splits the text around it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from portal_crawler.parsing.dom import BLOCK_TAGS, Stats, alignment, local_tag, style_of
from portal_crawler.parsing.text import normalize_text

_BOLD_STYLE = re.compile(r"font-weight:(bold|[6-9]00)")
_ITALIC_STYLE = re.compile(r"font-style:italic")


@dataclass
class Link:
    href: str
    text: str
    onclick: str
    el: etree._Element


@dataclass
class Unit:
    kind: str  # "text" or "image"
    el: etree._Element  # the block (text) or the <img>
    zone: str = "body"  # "head" (title..container), "body", "tail" (after the container)
    text: str = ""
    bold: bool = False
    italic: bool = False
    link_chars: int = 0
    links: list[Link] = field(default_factory=list)
    align: str | None = None

    @property
    def link_ratio(self) -> float:
        return self.link_chars / len(self.text) if self.text else 0.0


@dataclass
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

    def add(self, text: str | None, bold: bool, italic: bool, link: etree._Element | None) -> None:
        if text:
            self.pieces.append(_Piece(text, bold, italic, link))

    def flush(self) -> None:
        pieces, self.pieces = self.pieces, []
        for group in _paragraphs(pieces):
            self._emit(group)

    def _emit(self, pieces: list[_Piece]) -> None:
        text = normalize_text("".join(p.text for p in pieces))
        if not text:
            return
        visible = [p for p in pieces if p.text.strip()]
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
                bold=all(p.bold for p in visible),
                italic=all(p.italic for p in visible),
                link_chars=min(link_chars, len(text)),
                links=[
                    Link(
                        href=a.get("href") or "",
                        text=normalize_text("".join(parts)),
                        onclick=a.get("onclick") or "",
                        el=a,
                    )
                    for a, parts in links.items()
                ],
                align=alignment(self.block, cache=self.align_cache),
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


def _is_bold(el: etree._Element, tag: str) -> bool:
    return tag in ("b", "strong", "h1", "h2", "h3", "h4", "h5", "h6", "th") or bool(
        _BOLD_STYLE.search(style_of(el))
    )


def _is_italic(el: etree._Element, tag: str) -> bool:
    return tag in ("i", "em", "cite") or bool(_ITALIC_STYLE.search(style_of(el)))


class Linearizer:
    """Walks a region in document order, tracking the zone (head/body/tail)."""

    def __init__(
        self,
        stats: dict[etree._Element, Stats],
        *,
        title: etree._Element | None,
        container: etree._Element,
        skip: Callable[[etree._Element], bool],
    ) -> None:
        self.stats = stats
        self.title = title
        self.container = container
        self.skip = skip
        self.out: list[Unit] = []
        self.align_cache: dict[etree._Element, str | None] = {}
        self.zone = "pre" if title is not None else "head"
        self.in_container = False

    def run(self, region: etree._Element) -> list[Unit]:
        self._walk(region)
        return [u for u in self.out if u.zone != "pre"]

    def _has_block(self, el: etree._Element) -> bool:
        st = self.stats.get(el)
        return bool(st and st.has_block)

    def _walk(self, el: etree._Element) -> None:
        if not isinstance(el.tag, str):
            return
        if el is self.title:
            # A headline inside the body container starts the body right away.
            self.zone = "body" if self.in_container else "head"
            return
        if self.skip(el):
            return
        entering = el is self.container
        if entering:
            self.in_container = True
            self.zone = "body" if self.zone != "pre" else "pre"
        tag = local_tag(el)
        if tag == "img":
            self.out.append(Unit(kind="image", el=el, zone=self._zone()))
        elif tag in ("br", "hr"):
            pass
        elif not self._has_block(el):
            col = _Collector(el, self._zone(), self.out, self.align_cache)
            self._inline(el, col, False, False, None, top=True)
            col.flush()
        else:
            col = _Collector(el, self._zone(), self.out, self.align_cache)
            col.add(el.text, False, False, None)
            for child in el:
                if not isinstance(child.tag, str):
                    col.add(child.tail, False, False, None)
                    continue
                ctag = local_tag(child)
                if (
                    ctag in BLOCK_TAGS
                    or self._has_block(child)
                    or child is self.title
                    or child is self.container
                    or self.skip(child)
                ):
                    col.flush()
                    self._walk(child)
                    col = _Collector(el, self._zone(), self.out, self.align_cache)
                else:
                    self._inline(child, col, False, False, None)
                col.add(child.tail, False, False, None)
            col.flush()
        if entering:
            self.in_container = False
            self.zone = "tail" if self.zone == "body" else self.zone

    def _zone(self) -> str:
        return self.zone

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
        if not isinstance(el.tag, str) or (not top and self.skip(el)):
            return
        tag = local_tag(el)
        if tag == "img":
            col.flush()
            self.out.append(Unit(kind="image", el=el, zone=self._zone()))
            return
        if tag == "br":
            col.pieces.append(_Piece("\n", bold, italic, link, brk=True))
            return
        bold = bold or _is_bold(el, tag)
        italic = italic or _is_italic(el, tag)
        if tag == "a" and el.get("href") is not None:
            link = el
        col.add(el.text, bold, italic, link)
        for child in el:
            self._inline(child, col, bold, italic, link)
            col.add(child.tail, bold, italic, link)
