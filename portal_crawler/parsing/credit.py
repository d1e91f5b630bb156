"""By-lines ("Tin và ảnh: X", "Tin: X - Ảnh: Y", "X (Văn phòng ...)", "Nguồn: Y") as Credit.

`parse_credit` is safe to call on any candidate line: it returns None unless the whole line
reads as a by-line, so an ordinary paragraph is never taken for one.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .article import Credit
from .text import fold_with_offsets, normalize_text

MAX_CREDIT_CHARS = 120
_MAX_PERSON_WORDS = 7
_MAX_SOURCE_WORDS = 14

TEXT, PHOTO, BOTH, SOURCE = "text", "photo", "both", "source"

# Labels as folded text (lower case, no marks). Longer spellings come first so that the
# regex alternation prefers "tin va anh" to "tin".
_WRITER = r"(?:tin\s+bai|tin|bai\s+viet|bai|thong\s+tin)"
_PICTURE = r"(?:hinh\s+anh|anh|hinh)"
_LABELS: tuple[tuple[str, str, bool], ...] = (
    # (pattern, role, colon required)
    (_WRITER + r"\s*(?:,|va|&|\+|/|-|–)\s*" + _PICTURE, BOTH, False),
    (_PICTURE + r"\s*(?:,|va|&|\+|/|-|–)\s*" + _WRITER, BOTH, False),
    (r"nguon\s+tin|nguon\s+bai|nguon", SOURCE, False),
    (r"tac\s+gia|but\s+danh|nguoi\s+viet|phong\s+vien", TEXT, False),
    (r"nguon\s+anh", PHOTO, True),
    (_WRITER, TEXT, True),
    (_PICTURE, PHOTO, True),
    (r"video", PHOTO, True),
)
# All labels in one regex: its alternatives are tried in order, so the first label that
# matches wins, as when each is tried in turn (group l<k>: label k; c<k>: its colon).
_LABEL_ANY = re.compile(
    "|".join(
        rf"(?P<l{k}>(?:{pattern})(?![a-z])\s*(?P<c{k}>:)?\s*)"
        for k, (pattern, _, _) in enumerate(_LABELS)
    )
)
# "Theo Báo Lạng Sơn": a source without a colon.
_THEO = re.compile(r"theo\s*:?\s+")
_THEO_NOT_SOURCE = re.compile(
    r"(?:quyet\s+dinh|ke\s+hoach|nghi\s+quyet|nghi\s+dinh|thong\s+bao|thong\s+tu|"
    r"cong\s+van|chi\s+thi|luat|bao\s+cao|ket\s+qua|so\s+lieu|danh\s+sach|do|dong\s+chi|"
    r"ong|ba|anh|chi|chuong\s+trinh|huong\s+dan|quy\s+dinh|tinh\s+hinh|du\s+bao)(?![a-z])"
)
# Between two labelled parts: "Tin: X - Ảnh: Y", "Tin: X, ảnh: Y", "Bài: X; Ảnh: Y".
_PART_SEP = re.compile(r"\s*(?:[-–—,;|/]|\s)\s*$")
_NAME_SPLIT = re.compile(r"\s*[,;]\s*|\s+(?:và|&)\s+", re.I)
_SOURCE_SPLIT = re.compile(r"\s*;\s*")
_TRAILING = re.compile(r"[\s.,;:\-–—/]+$")
_BRACKETED_TAIL = re.compile(r"\s*[(\[][^()\[\]]*[)\]]$")
_AFFILIATED = re.compile(r"^(?P<name>[^()\[\]:]{2,50}?)\s*[(\[](?P<aff>[^()\[\]]{2,80})[)\]]$")
_ENCLOSED = re.compile(r"^[(\[](?P<inner>.*)[)\]]$")
_LONG_NUMBER = re.compile(r"\d{3,}")
_SENTENCE_BREAK = re.compile(r"[.:]\s+\w")
_SENTENCE_GOES_ON = re.compile(r"[.:]\s+[a-zà-ỹđ]")
_NUMBER_OR_SLASH = re.compile(r"\b\d+\b|/")
_END_MARK = re.compile(r"\s*\./\.$")  # "./." closing an official text
_DOMAIN = re.compile(r"^[\w.-]+\.(?:vn|com|net|org|gov|info|edu)(?:\.vn)?(?:/\S*)?$", re.I)


def _is_capitalised(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return bool(letters) and letters[0].isupper()


def _looks_like_person(name: str) -> bool:
    """A name as by-lines write it: a few capitalised words ("Lê Văn Thành", "PV", "Nhóm PV")."""
    words = name.split()
    if not words or len(words) > _MAX_PERSON_WORDS or len(name) > 60:
        return False
    if any(c in name for c in ':!?"“”') or _LONG_NUMBER.search(name):
        return False
    return all(_is_capitalised(w) or not any(c.isalpha() for c in w) for w in words)


def _looks_like_group(name: str) -> bool:
    """A writer that may be an office: "Phòng Văn hóa và Thông tin huyện"."""
    words = name.split()
    if not words or len(words) > _MAX_SOURCE_WORDS or not _is_capitalised(words[0]):
        return False
    if any(c in name for c in '!?"“”') or _SENTENCE_BREAK.search(name):
        return False
    return sum(_is_capitalised(w) for w in words) * 2 >= len(words)


def _looks_like_source(name: str) -> bool:
    if _DOMAIN.match(name) or name.lower().startswith(("http://", "https://")):
        return True
    words = name.split()
    if not words or len(words) > _MAX_SOURCE_WORDS:
        return False
    if any(c in name for c in "!?") or _SENTENCE_GOES_ON.search(name):
        return False
    return _is_capitalised(words[0]) or words[0][:1].isdigit()


def _clean(name: str) -> str:
    name = _TRAILING.sub("", name.strip())
    return name.strip(" \"'“”‘’")


def _people(text: str) -> list[str] | None:
    names = []
    for part in _NAME_SPLIT.split(text):
        name = _clean(_BRACKETED_TAIL.sub("", _clean(part)))
        if name:
            names.append(name)
    return names or None


def _sources(text: str) -> list[str] | None:
    names = []
    for part in _SOURCE_SPLIT.split(text):
        # "Báo A, Báo B" is two sources, but "Sở Văn hóa, Thể thao và Du lịch" is one name.
        pieces = [part] if " và " in part else part.split(",")
        names.extend(n for n in (_clean(p) for p in pieces) if n)
    return names or None


class _Label(NamedTuple):
    end: int  # where the names after the label start
    colon: bool
    role: str
    needs_colon: bool


def _label_at(folded: str, pos: int) -> _Label | None:
    match = _LABEL_ANY.match(folded, pos)
    if match is None:
        return None
    k = int(match.lastgroup[1:])  # type: ignore[index]
    _, role, needs_colon = _LABELS[k]
    return _Label(match.end(), match.group(f"c{k}") is not None, role, needs_colon)


def _labelled_parts(line: str) -> list[tuple[str, str]] | None:
    """[(role, names text), ...] for a line made only of labelled parts, else None."""
    folded, index = fold_with_offsets(line)
    if len(folded) != len(line):  # only NFC text has one folded char per char
        return None
    parts: list[tuple[str, int, int]] = []  # role, names start, label start
    pos = 0
    while pos < len(folded):
        found = _label_at(folded, pos)
        if found and (found.colon or not (found.needs_colon or parts)):
            parts.append((found.role, found.end, pos))
            pos = found.end
            continue
        if not parts:
            return None
        pos = _next_label_start(folded, pos)
        if pos < 0:
            break
    if not parts:
        return None
    result = []
    for i, (role, start, _) in enumerate(parts):
        end = parts[i + 1][2] if i + 1 < len(parts) else len(line)
        text = line[index[start] if start < len(index) else len(line) : end]
        if i + 1 < len(parts):
            text = _PART_SEP.sub("", text)
        result.append((role, text.strip()))
    return result


_PART_START = re.compile(r"(?:[-–—,;|/]\s*|\s)(?=[a-z])")


def _next_label_start(folded: str, pos: int) -> int:
    """Position of the next later part's label: one with a colon, after a separator."""
    for match in _PART_START.finditer(folded[pos + 1 :]):
        start = pos + 1 + match.end()
        found = _label_at(folded, start)
        if found and found.colon:
            return start
    return -1


def _credit_from_parts(raw: str, parts: list[tuple[str, str]]) -> Credit | None:
    credit = Credit(raw=raw)
    for role, text in parts:
        if role == SOURCE:
            names = _sources(text)
            if not names or not all(_looks_like_source(n) for n in names):
                return None
            credit.source = (credit.source or []) + names
            continue
        names = _people(text)
        check = _looks_like_person if role == PHOTO else _looks_like_group
        if not names or not all(check(n) for n in names):
            return None
        if role in (TEXT, BOTH):
            credit.text_by = (credit.text_by or []) + names
        if role in (PHOTO, BOTH):
            credit.photo_by = (credit.photo_by or []) + list(names)
    return credit


def _theo(raw: str, line: str) -> Credit | None:
    folded, _ = fold_with_offsets(line)
    match = _THEO.match(folded)
    if not match or len(folded) != len(line) or _THEO_NOT_SOURCE.match(folded, match.end()):
        return None
    rest = line[match.end() :]
    names = _sources(rest)
    if not names or not all(_looks_like_source(n) for n in names):
        return None
    # "Theo Kế hoạch số 12/KH-UBND ..." cites a document, not a source.
    for name in names:
        if _DOMAIN.match(name) or name.lower().startswith(("http://", "https://")):
            continue
        if len(name.split()) > 8 or "," in name or _NUMBER_OR_SLASH.search(name):
            return None
    return Credit(raw=raw, source=names)


def _affiliated(raw: str, line: str) -> Credit | None:
    match = _AFFILIATED.match(line)
    if not match:
        return None
    name = _clean(match["name"])
    if not _looks_like_person(name) or len(name.split()) > 5:
        return None
    if not _is_capitalised(match["aff"].strip()):
        return None
    return Credit(raw=raw, text_by=[name])


def parse_credit(line: str) -> Credit | None:
    """The by-line in `line`, or None when the line is not a by-line.

    Labels are matched ignoring case and diacritics ("TIN VÀ ẢNH:", "Tin va anh:");
    `raw` is the normalised line as shown.
    """
    raw = normalize_text(line or "")
    if not raw or len(raw) > MAX_CREDIT_CHARS:
        return None
    body = raw
    enclosed = _ENCLOSED.match(body)
    if enclosed:  # "(Tin và ảnh: X)", "(Theo Báo Y)"
        body = enclosed["inner"].strip()
    body = _END_MARK.sub("", body)
    parts = _labelled_parts(body)
    if parts is not None:
        return _credit_from_parts(raw, parts)
    return _theo(raw, body) or _affiliated(raw, body)
