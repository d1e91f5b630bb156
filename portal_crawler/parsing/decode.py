"""Decode an HTML response body to text, deciding the encoding from evidence in the bytes.

Government portals often declare a charset that is wrong (an IIS default of ISO-8859-1 on a
UTF-8 page, a stale windows-1258 meta tag after a migration to Unicode), so the declared
labels are only consulted when the bytes themselves are not valid UTF-8.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

_BOMS = (
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# What browsers actually use for these labels (WHATWG Encoding Standard).
_LABEL_ALIASES = {
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "windows-1252": "cp1252",
    "x-cp1252": "cp1252",
    "windows-1258": "cp1258",
    "x-cp1258": "cp1258",
    "iso-8859-9": "cp1254",
    "x-sjis": "shift_jis",
    "gb2312": "gbk",
    "x-user-defined": "cp1252",
    "unicode-1-1-utf-8": "utf-8",
}

_PRESCAN_BYTES = 4096
_META_CHARSET = re.compile(rb"<meta[^>]+?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.I)

# windows-1258 writes tone marks as separate combining characters after the vowel.
_CP1258_TONE_BYTES = frozenset(b"\xcc\xec\xd2\xde\xf2")
_CP1258_VOWEL_BYTES = frozenset(b"aeiouyAEIOUY\xe2\xea\xf4\xe3\xf5\xfd\xc2\xca\xd4\xc3\xd5\xdd")


# C0 controls other than tab, line feed and carriage return; the noncharacters U+FFFE
# and U+FFFF (a byte-swapped BOM).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Codecs that decode bytes below 0x80 as ASCII and never yield C0 controls otherwise (UTF-8
# decoding falls back to windows-1252 only for bytes of 0x80 and above).
_ASCII_COMPATIBLE = frozenset({"utf-8", "cp1252", "cp1258"})
_C0_BYTES = tuple(bytes([b]) for b in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)))
_CONTROL_MAP = dict.fromkeys([*range(0x09), *range(0x0E, 0x20), 0xFFFE, 0xFFFF]) | {
    0x0B: " ",
    0x0C: " ",
}


def codec_for_label(label: str | None) -> str | None:
    """The Python codec name for a charset label, or None when Python does not know it."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    key = _LABEL_ALIASES.get(key, key)
    try:
        return codecs.lookup(key).name
    except LookupError:
        return None


def _header_value(headers: Mapping[Any, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        if str(key).lower() != name:
            continue
        if isinstance(value, list | tuple):
            value = value[-1] if value else None
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        return None if value is None else str(value)
    return None


def _bom_codec(body: bytes) -> tuple[str, int] | None:
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, len(bom)
    return None


def _utf16_without_bom(body: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when NUL bytes sit at every other position, as in ASCII text."""
    sample = body[:_PRESCAN_BYTES]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.6 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.6 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _mostly_utf8(body: bytes) -> bool:
    """True when the non-ASCII bytes are mostly well-formed UTF-8 sequences (a UTF-8 page
    with a few stray single-byte characters pasted in)."""
    good = bad = 0
    i, n = 0, len(body)
    while i < n:
        b = body[i]
        if b < 0x80:
            i += 1
            continue
        length = 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if b <= 0xF4 else 0
        if length and b >= 0xC2:
            try:
                body[i : i + length].decode("utf-8")
                good += 1
                i += length
                continue
            except UnicodeDecodeError:
                pass
        bad += 1
        i += 1
    return good > 0 and good >= 3 * bad


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    chunk = exc.object[exc.start : exc.end]
    return chunk.decode("cp1252", errors="replace"), exc.end


codecs.register_error("portal_cp1252_fallback", _cp1252_fallback)


def _declared_codec(label: str | None) -> str | None:
    codec = codec_for_label(label)
    # The bytes are already known not to be UTF-8, and a meta tag that is readable as
    # ASCII cannot really be UTF-16/32: such declarations are wrong, so ignore them.
    if codec is None or codec.startswith("utf"):
        return None
    return codec


def _meta_label(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:_PRESCAN_BYTES])
    return match.group(1).decode("ascii", "replace") if match else None


def _header_label(headers: Mapping[Any, Any] | None) -> str | None:
    content_type = _header_value(headers, "content-type")
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def _guess_single_byte(body: bytes) -> str:
    """windows-1258 when tone marks follow vowels as combining bytes, else windows-1252."""
    cp1258 = cp1252 = 0
    for prev, cur in zip(body, body[1:], strict=False):
        if cur in _CP1258_TONE_BYTES:
            if prev in _CP1258_VOWEL_BYTES:
                cp1258 += 1
            else:
                cp1252 += 1
        elif cur in (0xD0, 0xF0):  # "Đ"/"đ" in windows-1258, rare "Ð"/"ð" in windows-1252
            cp1258 += 1
    return "cp1258" if cp1258 > cp1252 else "cp1252"


def detect_encoding(body: bytes, headers: Mapping[Any, Any] | None = None) -> str:
    """The Python codec `decode_html` would use for `body`."""
    bom = _bom_codec(body)
    if bom:
        return bom[0]
    return _sniff(body, headers)[0]


def _sniff(body: bytes, headers: Mapping[Any, Any] | None) -> tuple[str, str | None]:
    """The codec of a body without a byte order mark and, when it is plain UTF-8, the text
    (decoded once here rather than again by the caller)."""
    utf16 = _utf16_without_bom(body)
    if utf16:
        return utf16, None
    try:
        return "utf-8", body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(body):
            return "utf-8", None
    if _mostly_utf8(body):
        return "utf-8", None
    codec = (
        _declared_codec(_meta_label(body))
        or _declared_codec(_header_label(headers))
        or _guess_single_byte(body)
    )
    return codec, None


def _decode_utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(body):
            # A body cut off inside a character: drop the partial character.
            return body[: exc.start].decode("utf-8", errors="portal_cp1252_fallback")
    return body.decode("utf-8", errors="portal_cp1252_fallback")


def _decode_other(body: bytes, codec: str) -> str:
    try:
        return body.decode(codec, errors="replace")
    except (LookupError, UnicodeError):
        return body.decode("utf-8", errors="replace")


def decode_html(body: bytes, headers: Mapping[Any, Any] | None = None) -> str:
    """The text of an HTML body as NFC, never raising, whatever the bytes.

    Order of evidence: a byte order mark; valid UTF-8 (even when the page or server says
    otherwise); the <meta> charset; the HTTP Content-Type charset; a windows-1258 versus
    windows-1252 guess. NUL bytes and the other characters that XML forbids (C0 controls,
    U+FFFE, U+FFFF) are removed, vertical tab and form feed become spaces: no browser
    shows them, and lxml refuses to store them in a tree.
    """
    return decode_page(body, headers)[0]


def decode_page(body: bytes, headers: Mapping[Any, Any] | None = None) -> tuple[str, bytes | None]:
    """decode_html's text, and the body itself when it is that text's exact UTF-8 (valid
    UTF-8 without a byte order mark, a character to remove or one to normalise): the
    parser then reads the bytes as they are, sparing libxml2 a conversion of the text."""
    if not body:
        return "", None
    body = bytes(body)
    bom = _bom_codec(body)
    exact = False
    if bom:
        codec, skip = bom
        text = body[skip:].decode(codec, errors="replace")
    else:
        codec, text = _sniff(body, headers)
        if text is None:
            text = _decode_utf8(body) if codec == "utf-8" else _decode_other(body, codec)
        else:
            exact = True
    if _has_controls(body, text, codec):
        text = text.translate(_CONTROL_MAP)
        exact = False
    # windows-1258 yields base letters followed by combining tone marks.
    normal = unicodedata.normalize("NFC", text)
    return normal, body if exact and normal is text else None


def _has_controls(body: bytes, text: str, codec: str) -> bool:
    """Whether `text` (decoded from `body`) holds a character of _CONTROLS; may say yes
    wrongly (translating is then a no-op), never no wrongly."""
    if codec in _ASCII_COMPATIBLE:
        # These codecs decode exactly the bytes 0x00-0x1F to C0 controls, and a memchr
        # per byte value is far cheaper than a regex over the text.
        return any(byte in body for byte in _C0_BYTES) or "\ufffe" in text or "\uffff" in text
    return _CONTROLS.search(text) is not None
