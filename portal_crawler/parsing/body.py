"""Sort an article's units into lead, body paragraphs, images with captions, credit, files."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from portal_crawler.parsing.article import Attachment, Credit, Image
from portal_crawler.parsing.credit import parse_credit
from portal_crawler.parsing.dates import parse_date_text
from portal_crawler.parsing.dom import class_text, local_tag, text_of
from portal_crawler.parsing.media import (
    absolute_url,
    attachment_name,
    image_src,
    is_file_url,
    script_file_url,
)
from portal_crawler.parsing.text import fold_diacritics, normalize_text
from portal_crawler.parsing.units import Unit

_LEAD_CLASS = re.compile(
    r"sapo|summary|lead|hometext|description|desc-news|intro|teaser|chapeau|excerpt|abstract|"
    r"tomtat|tom-tat|trichyeu|trich-yeu|mota|mo-ta|news-summary|short-content|shortdesc"
)
_CAPTION_CLASS = re.compile(
    r"caption|image[-_]?desc|img[-_]?desc|img[-_]?title|image[-_]?title|chu-?thich|"
    r"photo[-_]?desc|legend|mota-anh|note-image|figcaption|pic[-_]?desc"
)
_AUTHOR_CLASS = re.compile(r"author|tacgia|tac-gia|byline|by-line|nguoi-?viet|signature")
_WIDGET_TEXT = re.compile(
    r"^(luot xem|so lan xem|da xem|xem voi co chu|co chu|in trang|in bai|ban in|gui email|"
    r"gui bai|chia se|tweet|ve dau trang|len dau trang|tro ve|quay lai|tu khoa|tags?|"
    r"danh gia|binh luan|xem them|tuong phan|tin lien quan|bai lien quan|tin khac|cac tin khac|"
    r"a-? ?a\+?$|a a$)"
)
_DATE_WORDS = 20
_DATE_CLASS = re.compile(r"date|time|ngay|publish|posted|meta|info|thoi-?gian")


@dataclass
class Parts:
    published: str | None = None
    lead: str | None = None
    body: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    credit: Credit | None = None
    attachments: list[Attachment] = field(default_factory=list)


def _classes_up(el: etree._Element, stop: etree._Element | None, depth: int = 4) -> str:
    parts = []
    node: etree._Element | None = el
    for _ in range(depth):
        if node is None:
            break
        parts.append(class_text(node))
        if node is stop:
            break
        node = node.getparent()
    return " ".join(parts)


def _is_widget(unit: Unit) -> bool:
    if unit.words > 12:
        return False
    folded = fold_diacritics(unit.text)
    return bool(_WIDGET_TEXT.match(folded))


def _is_noise(unit: Unit) -> bool:
    return unit.link_ratio >= 0.5 or _is_widget(unit)


class Assembler:
    def __init__(
        self,
        units: list[Unit],
        *,
        region: etree._Element,
        base: str,
        rebase: Callable[[str], str] | None,
        utc_offset: str,
        title: str | None,
    ) -> None:
        self.units = units
        self.region = region
        self.base = base
        self.rebase = rebase
        self.utc_offset = utc_offset
        self.title = title
        self.used: set[int] = set()
        self.parts = Parts()
        self._by_element: dict[etree._Element, list[int]] | None = None
        self._table_images: dict[etree._Element, int] = {}
        self._text_unit_counts: dict[etree._Element, int] = {}

    # -- dates -----------------------------------------------------------------------
    def find_date(self) -> str | None:
        """The first date shown after the headline, before the body (or at its start)."""
        body_seen = 0
        for i, unit in enumerate(self.units):
            if unit.kind != "text":
                continue
            if unit.zone == "tail":
                break
            if unit.zone == "body":
                body_seen += 1
                if body_seen > 3:
                    break
            if not self._date_like(unit):
                if unit.zone == "body" and unit.words > _DATE_WORDS:
                    break
                continue
            found = parse_date_text(unit.text, self.utc_offset)
            if found:
                self.used.add(i)
                return found
        return None

    def _date_like(self, unit: Unit) -> bool:
        """A short line that may be a date line, not a sentence that mentions a date."""
        words = unit.words
        if words <= 10:
            return True
        if unit.zone == "body" or words > _DATE_WORDS:
            return False
        return bool(_DATE_CLASS.search(_classes_up(unit.el, self.region, 3)))

    def tail_date(self) -> str | None:
        for i, unit in enumerate(self.units):
            if unit.kind == "text" and unit.zone == "tail" and unit.words <= 12:
                found = parse_date_text(unit.text, self.utc_offset)
                if found:
                    self.used.add(i)
                    return found
        return None

    # -- attachments ------------------------------------------------------------------
    def collect_attachments(self) -> None:
        seen: set[str] = set()
        for i, unit in enumerate(self.units):
            if unit.kind != "text" or unit.zone == "pre" or not unit.links:
                continue
            found = False
            for link in unit.links:
                url = self._file_url(link.href, link.onclick, link.el)
                if url is None:
                    continue
                found = True
                if url in seen:
                    continue
                seen.add(url)
                name = attachment_name(link.text, link.el.get("title"), url)
                self.parts.attachments.append(Attachment(url=url, name=name))
            if found and self._only_links(unit):
                self.used.add(i)

    def _file_url(self, href: str, onclick: str, el: etree._Element) -> str | None:
        href = (href or "").strip()
        if href and not href.lower().startswith(("javascript:", "#", "mailto:")):
            url = absolute_url(href, self.base, self.rebase)
            if is_file_url(url) or el.get("download") is not None:
                return url
        script = script_file_url(onclick) or script_file_url(href)
        if script:
            return absolute_url(script, self.base, self.rebase)
        return None

    @staticmethod
    def _only_links(unit: Unit) -> bool:
        if len(unit.links) > 200:
            return _only_links_in_order(unit)
        rest = unit.text
        for link in unit.links:
            if link.text:
                rest = rest.replace(link.text, " ")
        rest = attachment_name(rest, None, "x") if ":" in rest else rest
        words = [w for w in rest.split() if any(c.isalnum() for c in w)]
        return len(words) <= 3

    # -- lead, images, captions ----------------------------------------------------------
    def find_lead_in_head(self) -> None:
        for i, unit in enumerate(self.units):
            if unit.zone != "head" or unit.kind != "text" or i in self.used:
                continue
            if _is_noise(unit):
                self.used.add(i)
                continue
            hinted = self._lead_named(unit, 3)
            if (hinted or unit.words >= 8) and self.parts.lead is None:
                self.parts.lead = unit.text
                self.used.add(i)
                continue
            if not hinted and unit.words >= 8:
                continue  # prose the container missed: keep it as body
            self.used.add(i)

    def find_bold_lead(self) -> None:
        if self.parts.lead is not None:
            return
        for i, unit in enumerate(self.units):
            if unit.zone != "body" or i in self.used:
                continue
            if unit.kind == "image":
                continue
            if _is_widget(unit):
                continue  # a print/share bar between the date line and the lead
            if _is_noise(unit) or self._caption_for(i) is not None:
                return
            hinted = self._lead_named(unit, 2)
            if (
                hinted
                and unit.el is not self.region
                or (unit.bold and unit.words >= 5 and parse_credit(unit.text) is None)
            ):
                self.parts.lead = unit.text
                self.used.add(i)
            return

    def _caption_for(self, i: int) -> str | None:
        """Whether unit i is the caption of the image just before it."""
        if i == 0:
            return None
        prev = self.units[i - 1]
        unit = self.units[i]
        if prev.kind != "image" or unit.kind != "text":
            return None
        return unit.text if self._caption_like(prev, unit) else None

    def _caption_like(self, image: Unit, unit: Unit) -> bool:
        words = unit.words
        if words > 80 or parse_credit(unit.text) is not None:
            return False
        classes = _classes_up(unit.el, self.region, 3)
        caption_named = bool(_CAPTION_CLASS.search(classes))
        if not caption_named and self._lead_named(unit, 3):
            return False
        if caption_named:
            return True
        if _share_table(image.el, unit.el, self._table_images):
            return True
        if unit.italic or unit.align == "center":
            return words <= 60
        # A short plain line straight under a picture reads as its caption, unless it is
        # justified like running text (editors justify paragraphs, not captions).
        if unit.align == "justify":
            return False
        return words <= 30 and not unit.bold and not unit.text.endswith(":")

    def collect_images(self) -> None:
        for i, unit in enumerate(self.units):
            if unit.kind != "image" or unit.zone not in ("head", "body"):
                continue
            src = image_src(unit.el, self.base, self.rebase)
            if src is None:
                continue
            caption = self._figure_caption(unit.el)
            j = i + 1
            if caption is None and j < len(self.units) and j not in self.used:
                nxt = self.units[j]
                if nxt.kind == "text" and self._caption_like(unit, nxt):
                    caption = nxt.text
                    self.used.add(j)
            self.parts.images.append(Image(src=src, caption=caption))

    def _figure_caption(self, img: etree._Element) -> str | None:
        node = img.getparent()
        for _ in range(4):
            if node is None:
                return None
            if local_tag(node) == "figure":
                for cap in node.iter("figcaption"):
                    text = normalize_text(text_of(cap))
                    units_of = self._units_by_element()
                    for el in cap.iter():
                        self.used.update(units_of.get(el, ()))
                    return text or None
                return None
            node = node.getparent()
        return None

    def _lead_named(self, unit: Unit, depth: int) -> bool:
        """Whether a summary-like class names this paragraph or a box holding only it.

        The nearest such name up to `depth` ancestors (within the region) decides. A box of
        several paragraphs is the body, whatever its name: a field type such as "text with
        summary" names the whole body after the optional summary it may also carry.
        """
        node: etree._Element | None = unit.el
        for _ in range(depth):
            if node is None:
                break
            if _LEAD_CLASS.search(class_text(node)):
                return self._text_units_in(node) <= 1
            if node is self.region:
                break
            node = node.getparent()
        return False

    def _text_units_in(self, el: etree._Element) -> int:
        counts = self._text_unit_counts
        if el not in counts:
            units_of = self._units_by_element()
            units = self.units
            counts[el] = sum(
                units[k].kind == "text" for node in el.iter() for k in units_of.get(node, ())
            )
        return counts[el]

    def _units_by_element(self) -> dict[etree._Element, list[int]]:
        if self._by_element is None:
            self._by_element = {}
            for k, unit in enumerate(self.units):
                self._by_element.setdefault(unit.el, []).append(k)
        return self._by_element

    # -- credit and body -------------------------------------------------------------
    def find_credit(self) -> None:
        body_idx = [
            i
            for i, u in enumerate(self.units)
            if u.kind == "text" and u.zone == "body" and i not in self.used
        ]
        while body_idx and _is_noise(self.units[body_idx[-1]]):
            body_idx.pop()
        if body_idx:
            last = self.units[body_idx[-1]]
            credit = self._credit_of(last)
            if credit is not None:
                self.parts.credit = credit
                self.used.add(body_idx[-1])
                return
        for i, unit in enumerate(self.units):
            if unit.kind != "text" or unit.zone != "tail" or i in self.used:
                continue
            if unit.words > 25 or unit.link_ratio >= 0.5:
                continue
            credit = parse_credit(unit.text)
            if credit is not None:
                self.parts.credit = credit
                self.used.add(i)
                return

    @staticmethod
    def _credit_of(unit: Unit) -> Credit | None:
        if unit.words > 25:
            return None
        credit = parse_credit(unit.text)
        if credit is None:
            return None
        signal = unit.align == "right" or unit.bold or unit.italic or ":" in unit.text
        return credit if signal else None

    def collect_body(self) -> None:
        for i, unit in enumerate(self.units):
            if unit.kind != "text" or i in self.used or unit.zone not in ("head", "body"):
                continue
            if _is_noise(unit):
                continue
            if self.title and unit.text == self.title:
                continue
            self.parts.body.append(unit.text)


def _only_links_in_order(unit: Unit) -> bool:
    """_only_links for a line of very many links, in linear time: each link's text is cut
    where it follows the previous one."""
    kept: list[str] = []
    pos = 0
    for link in unit.links:
        if not link.text:
            continue
        found = unit.text.find(link.text, pos)
        if found < 0:
            continue
        kept.append(unit.text[pos:found])
        pos = found + len(link.text)
    kept.append(unit.text[pos:])
    rest = " ".join(kept)
    rest = attachment_name(rest, None, "x") if ":" in rest else rest
    words = [w for w in rest.split() if any(c.isalnum() for c in w)]
    return len(words) <= 3


def author_box(
    region: etree._Element,
    container: etree._Element,
    order: dict[etree._Element, int],
    dropped: set[etree._Element],
) -> Credit | None:
    """A by-line in an author element near the article (after its body)."""
    start = order.get(container, 0)
    scope: etree._Element = region
    for _ in range(3):
        parent = scope.getparent()
        if parent is None or local_tag(parent) in ("body", "html", "form"):
            break
        scope = parent
    for el in scope.iter():
        if not isinstance(el.tag, str) or order.get(el, 0) <= start or el in dropped:
            continue
        if not _AUTHOR_CLASS.search(class_text(el)) or el.get("itemprop") == "author":
            continue
        text = normalize_text(text_of(el))
        if not text or len(text.split()) > 15:
            continue
        credit = parse_credit(text)
        if credit is None and len(text.split()) <= 6 and not any(c.isdigit() for c in text):
            credit = Credit(raw=text, text_by=[text])
        if credit is not None:
            return credit
    return None


def _share_table(a: etree._Element, b: etree._Element, counts: dict[etree._Element, int]) -> bool:
    """Whether two elements sit in the same small table (an image-and-caption table)."""
    table = None
    node = a.getparent()
    for _ in range(6):
        if node is None:
            return False
        if local_tag(node) == "table":
            table = node
            break
        node = node.getparent()
    if table is None or not _is_descendant(b, table):
        return False
    if table not in counts:  # counted once per table: a gallery table has many images
        counts[table] = sum(1 for _ in table.iter("img"))
    return counts[table] == 1


def _is_descendant(el: etree._Element, ancestor: etree._Element) -> bool:
    node: etree._Element | None = el
    while node is not None:
        if node is ancestor:
            return True
        node = node.getparent()
    return False


def assemble(
    units: list[Unit],
    *,
    region: etree._Element,
    base: str,
    rebase: Callable[[str], str] | None,
    utc_offset: str,
    title: str | None,
    meta_date: str | None,
    pre_date: str | None = None,
) -> Parts:
    asm = Assembler(
        units, region=region, base=base, rebase=rebase, utc_offset=utc_offset, title=title
    )
    asm.parts.published = asm.find_date() or meta_date or pre_date or asm.tail_date()
    asm.collect_attachments()
    asm.collect_images()
    asm.find_lead_in_head()
    asm.find_bold_lead()
    asm.find_credit()
    asm.collect_body()
    return asm.parts
