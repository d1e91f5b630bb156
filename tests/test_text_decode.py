"""normalize_text / fold_diacritics and decode_html's evidence-based choice of encoding."""

from __future__ import annotations

import codecs
import unicodedata

import pytest

from portal_crawler.parsing.decode import decode_html, detect_encoding
from portal_crawler.parsing.text import fold_diacritics, fold_with_offsets, normalize_text

VI = "Xã Tân Thành tổ chức hội nghị “Dân vận khéo” – Đảng ủy, vì hòa bình; Ứng phó lũ"
NFD_VI = unicodedata.normalize("NFD", VI)
_TONES = "\u0300\u0301\u0303\u0309\u0323"


def encode_cp1258(text: str) -> bytes:
    """windows-1258 as Vietnamese pages use it: base letter, then a combining tone byte."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        nfd = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in nfd if c not in _TONES))
        out += base.encode("cp1258") + "".join(c for c in nfd if c in _TONES).encode("cp1258")
    return bytes(out)


# --- normalize_text ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Hội\u00a0nghị \u00a0 tổng kết \r\n\t", "Hội nghị tổng kết"),
        ("a\u2007b\u202fc\u3000d", "a b c d"),
        ("Hội\u200b nghị", "Hội nghị"),
        ("nghị\u200bquyết", "nghịquyết"),
        ("ZW\u200cNJ and BOM\ufeff", "ZWNJ and BOM"),
        ("phát\u00adtriển", "pháttriển"),
        ("Ðảng ủy xã ðã họp", "Đảng ủy xã đã họp"),
        (NFD_VI, VI),
        ("“Dân vận khéo” – ‘x’ — y", "“Dân vận khéo” – ‘x’ — y"),
        ("bell\x07 and nul\x00", "bell and nul"),
        ("", ""),
        ("\u00a0 \u00a0", ""),
        # The fast path for clean text (printable, single spaces) must agree with folding.
        ("Que\u0302\u0301 hu\u031bo\u031bng", "Quế hương"),
        ("a\x1cb \x1fc", "ab c"),  # separators are removed, not read as spaces
        ("  a  b  ", "a b"),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


def test_normalize_text_output_is_nfc():
    assert unicodedata.is_normalized("NFC", normalize_text("Quô\u0301c Vương"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tin và ảnh", "tin va anh"),
        ("TIN VÀ ẢNH", "tin va anh"),
        ("Tin va\u0300 a\u0309nh", "tin va anh"),
        ("Đắk Lắk", "dak lak"),
        ("Ðảng", "dang"),
        ("Nguồn tin", "nguon tin"),
        ("Ứng phó", "ung pho"),
    ],
)
def test_fold_diacritics(raw, expected):
    assert fold_diacritics(raw) == expected


def test_fold_with_offsets_maps_back_to_the_original():
    text = "Ngu\u00f4\u0300n: Báo"
    folded, offsets = fold_with_offsets(text)
    assert folded == "nguon: bao"
    assert text[offsets[folded.index("bao")] :] == "Báo"


def test_fold_with_offsets_when_a_character_folds_to_several_or_none():
    # A Hangul syllable decomposes into jamo; a lone combining mark folds to nothing.
    folded, offsets = fold_with_offsets("A\u1100\uac01\u0301b")
    assert folded == "a\u1100\u1100\u1161\u11a8b"
    assert offsets == [0, 1, 2, 2, 2, 4]


# --- decode_html ------------------------------------------------------------------


def html(text: str) -> str:
    return f"<html><head><title>t</title></head><body><p>{text}</p></body></html>"


def test_utf8_with_correct_header():
    body = html(VI).encode("utf-8")
    assert decode_html(body, {"Content-Type": "text/html; charset=utf-8"}) == html(VI)


@pytest.mark.parametrize("label", ["iso-8859-1", "ISO-8859-1", "windows-1252", "windows-1258"])
def test_utf8_bytes_win_over_a_wrong_header(label):
    body = html(VI).encode("utf-8")
    assert decode_html(body, {"content-type": f"text/html; charset={label}"}) == html(VI)


def test_utf8_bytes_win_over_a_wrong_meta():
    page = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1258">' + VI
    assert decode_html(page.encode("utf-8")) == page


def test_header_keys_and_values_in_any_form():
    body = html(VI).encode("utf-8")
    assert decode_html(body, {b"Content-Type": [b"text/html; charset=iso-8859-1"]}) == html(VI)
    assert decode_html(body, {"CONTENT-TYPE": b"text/html"}) == html(VI)
    assert decode_html(body, None) == html(VI)


def test_windows_1258_bytes_come_out_precomposed():
    body = encode_cp1258(html(VI))
    assert b"\xcc" in body or b"\xec" in body  # really uses combining tone bytes
    for headers in ({"Content-Type": "text/html; charset=windows-1258"}, {}, None):
        text = decode_html(body, headers)
        assert text == html(VI)
        assert unicodedata.is_normalized("NFC", text)


def test_windows_1258_declared_in_meta_only():
    page = '<meta charset="windows-1258">' + html(VI)
    assert decode_html(encode_cp1258(page), {"Content-Type": "text/html"}) == page


def test_windows_1258_meta_beats_a_wrong_latin1_header():
    page = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1258">' + VI
    headers = {"Content-Type": "text/html; charset=iso-8859-1"}
    assert decode_html(encode_cp1258(page), headers) == page


def test_latin1_label_decodes_as_windows_1252():
    page = html("C&#7843;ng th\u00f4ng tin \u201cx\u201d")
    body = page.encode("cp1252")
    assert decode_html(body, {"Content-Type": "text/html; charset=iso-8859-1"}) == page


def test_undeclared_single_byte_latin_text_guesses_windows_1252():
    page = html("C&#7843;ng th\u00f4ng tin v\u00ec h\u00f2a b\u00ecnh")
    body = page.encode("cp1252")
    assert detect_encoding(body) == "cp1252"
    assert decode_html(body) == page


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_byte_order_marks(codec):
    if codec in ("utf-16-le", "utf-16-be"):
        bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
        body = bom + html(VI).encode(codec)
    else:
        body = html(VI).encode(codec)
    # A BOM outranks whatever the header says.
    assert decode_html(body, {"Content-Type": "text/html; charset=iso-8859-1"}) == html(VI)


def test_utf16_without_bom():
    assert decode_html(html(VI).encode("utf-16-le")) == html(VI)
    assert decode_html(html(VI).encode("utf-16-be")) == html(VI)


def test_decomposed_unicode_comes_out_precomposed():
    assert decode_html(html(NFD_VI).encode("utf-8")) == html(VI)


def test_truncated_final_character_is_still_utf8():
    body = html(VI).encode("utf-8") + "ế".encode()[:2]
    assert detect_encoding(body, {"Content-Type": "text/html; charset=iso-8859-1"}) == "utf-8"
    assert decode_html(body) == html(VI)


def test_mostly_utf8_with_stray_windows_1252_bytes():
    body = html(VI).encode("utf-8") + b" \x93tr\xedch d\xe2n\x94"
    assert decode_html(body) == html(VI) + " “trích dân”"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00",
        b"\x00\x00\x00\x00",
        b"\xff\xfe\xfd\xfc\x80\x81",
        bytes(range(256)),
        bytes(range(256)) * 20,
        b"\xef\xbb\xbf",
        b"\xff\xfe",
        b"\xff\xfe\x00",
        b"<meta charset=bogus-charset>\xe9",
        b"<meta charset=utf-7>+AGE-",
    ],
)
def test_never_raises_and_strips_nul(body):
    text = decode_html(body, {"Content-Type": "text/html; charset=nonsense"})
    assert isinstance(text, str)
    assert "\x00" not in text


def test_nul_bytes_are_removed():
    assert decode_html(b"<p>ab\x00c</p>") == "<p>abc</p>"
    assert decode_html(b"") == ""
