"""Text normalisation shared by the parser: NFC, white space folding, Vietnamese folding."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

# Removed rather than turned into a space: characters that render as nothing (so that a
# word split by a zero-width space or a soft hyphen reads as the browser shows it), and C0/C1
# control characters other than white space (broken copy-paste).
_REMOVED = re.compile("[\u00ad\u200b\u200c\u2060\ufeff\u180e\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
# Vietnamese pages typed with Latin-1 fonts/keyboards use the Icelandic eth for "đ".
_ETH_TO_DYET = {ord("\u00d0"): "\u0110", ord("\u00f0"): "\u0111"}


def normalize_text(s: str) -> str:
    """NFC text with every run of white space folded to one space, and trimmed.

    Non-breaking and other Unicode spaces count as white space (str.split's notion: NBSP,
    U+2000-U+200A, U+2028/9, U+202F, U+205F, U+3000); zero-width characters and soft
    hyphens are removed; "Ð"/"ð" written for the Vietnamese "Đ"/"đ" are corrected.
    Curly quotes and dashes are kept as written.
    """
    if not s:
        return ""
    folded = s.strip()
    # Clean text (printable, so no white space but single ASCII spaces, and no removed
    # character: all are controls or format characters) is folded once stripped; other
    # text is folded first, which gives the same result when nothing is to be removed
    # (white space neither composes nor reorders under NFC). Either way, that nothing is
    # to be removed is then cheap to tell: folding took away no removed white space.
    if not (folded.isprintable() and "  " not in folded):
        folded = " ".join(folded.split())
    if folded.isprintable() and not _has_removed_space(s):
        if folded.isascii():
            return folded
        s = unicodedata.normalize("NFC", folded)
        if "\u00d0" in s or "\u00f0" in s:
            s = s.translate(_ETH_TO_DYET)
        return s
    s = unicodedata.normalize("NFC", _REMOVED.sub("", s))
    if "\u00d0" in s or "\u00f0" in s:
        s = s.translate(_ETH_TO_DYET)
    return " ".join(s.split())


def _has_removed_space(s: str) -> bool:
    return "\x1c" in s or "\x1d" in s or "\x1e" in s or "\x1f" in s


@cache
def _fold_char(ch: str) -> str:
    if ch < "\x80":
        return ch
    if ch in "đĐðÐ":
        return "d"
    base = unicodedata.normalize("NFD", ch)
    return "".join(c for c in base if not unicodedata.combining(c))


def fold_diacritics(s: str) -> str:
    """Vietnamese search key: no tone or vowel marks, "đ" as "d", case folded.

    "Tin và ảnh" and "TIN VA ANH" give the same key.
    """
    s = unicodedata.normalize("NFC", s)
    if s.isascii():
        return s.casefold()
    return "".join(map(_fold_char, s)).casefold()


@cache
def _fold_lower(ch: str) -> str:
    return _fold_char(ch).lower()


def fold_with_offsets(s: str) -> tuple[str, list[int]]:
    """Folded `s` (lower case, no marks) and, for each folded character, its index in `s`.

    Lets a regex run on the folded text and report positions in the original.
    """
    if s.isascii():
        return s.lower(), list(range(len(s)))
    parts = list(map(_fold_lower, s))
    folded = "".join(parts)
    if len(folded) == len(s) and "" not in parts:  # one character for each
        return folded, list(range(len(s)))
    offsets = [i for i, part in enumerate(parts) for _ in part]
    return folded, offsets
