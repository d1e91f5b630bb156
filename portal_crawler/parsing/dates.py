"""Vietnamese publication dates, as ISO 8601 strings in the portal's UTC offset.

A date with a time gives "2020-08-03T10:40:00+07:00" (seconds only when shown, else
":00"); a date alone gives "2020-08-03". Numeric dates are read day first, as Vietnamese
pages write them; month-first readings are never tried.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

from .text import fold_with_offsets

MIN_YEAR, MAX_YEAR = 1990, 2100

# All patterns run on folded text: lower case, no tone marks, "đ" as "d".
_NOT_AFTER_NUMBER = r"(?<![\d/.\-])"
_NOT_BEFORE_NUMBER = r"(?!\d|[/.\-]\d)"
_DMY = re.compile(
    _NOT_AFTER_NUMBER
    + r"(?P<d>\d{1,2})(?P<sep>[/.\-])(?P<m>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})"
    + _NOT_BEFORE_NUMBER
)
_YMD = re.compile(
    _NOT_AFTER_NUMBER
    + r"(?P<y>\d{4})(?P<sep>[/.\-])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
    + r"(?![\d]|[/.\-]\d)"
)
_WORDS = re.compile(
    r"(?<!\d)(?P<d>\d{1,2})\s+thang\s+(?P<m>\d{1,2})\s*(?:,|/|nam)?\s*(?P<y>\d{4})(?!\d)"
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MON = r"(?P<mon>" + "|".join(_MONTHS) + r")[a-z]*\.?"
_EN_MDY = re.compile(r"\b" + _MON + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})(?!\d)")
_EN_DMY = re.compile(
    r"(?<!\d)(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+" + _MON + r",?\s+(?P<y>\d{4})(?!\d)"
)
# Month names in words, as WordPress and other PHP CMSs localise them ("Tháng Năm 12, 2024",
# "12 Tháng Mười Hai, 2023"); longest spellings first.
_VI_MONTHS = {
    "muoi mot": 11,
    "muoi hai": 12,
    "gieng": 1,
    "mot": 1,
    "hai": 2,
    "ba": 3,
    "tu": 4,
    "nam": 5,
    "sau": 6,
    "bay": 7,
    "tam": 8,
    "chin": 9,
    "muoi": 10,
}
_VI_MON = r"thang\s+(?P<vmon>" + "|".join(m.replace(" ", r"\s+") for m in _VI_MONTHS) + r")"
_VI_MDY = re.compile(r"\b" + _VI_MON + r"\s+(?P<d>\d{1,2}),?\s+(?P<y>\d{4})(?!\d)")
_VI_DMY = re.compile(r"(?<!\d)(?P<d>\d{1,2})\s+" + _VI_MON + r",?\s+(?P<y>\d{4})(?!\d)")
_DIGIT = re.compile(r"\d")
_DATE_PATTERNS = (_DMY, _YMD, _WORDS, _EN_MDY, _EN_DMY, _VI_MDY, _VI_DMY)

_NO_DATE_AFTER = r"(?!\s*[/.\-]\s*\d)"
_TIME = re.compile(
    r"(?<![\d:.,/])(?:"
    r"(?P<h1>\d{1,2})\s*:\s*(?P<m1>\d{2})(?:\s*:\s*(?P<s1>\d{2}))?(?![\d:])"
    r"|(?P<h2>\d{1,2})\s*(?:h|g)(?P<m2>\d{2})(?:\s*(?:'|phut))?(?!\d)"
    + _NO_DATE_AFTER
    + r"|(?P<h3>\d{1,2})\s*gio\s*(?P<m3>\d{1,2})(?:\s*phut)?(?!\d)"
    + _NO_DATE_AFTER
    + r"|(?P<h4>\d{1,2})\s*(?:h|gio)(?![a-z\d])"
    r")"
    r"(?:\s*(?P<ap>sa|ch|am|pm|a\.m\.|p\.m\.|sang|chieu|toi|dem)(?![a-z]))?"
)
# After "sáng"/"chiều", a day reference means the word starts the next sentence.
_DAY_NEXT = re.compile(r"\s*(?:\d{1,2}\s*[/.\-]\s*\d|(?:ngay|nay|hom|mai|qua|cung)(?![a-z]))")
# What may stand between a date and its time: separators, "lúc", "ngày", a weekday.
_SEP = r"[\s,|;:·•*\-–—/]*"
_GAP_WORD = (
    r"(?:vao\s+luc|luc|vao|ngay|cap\s+nhat|dang|"
    r"thu\s+(?:hai|ba|tu|nam|sau|bay|[2-7])|chu\s+nhat|cn|t[2-7])"
)
_GAP = re.compile(r"^(?:t|" + _SEP + r"(?:" + _GAP_WORD + _SEP + r"){0,3})$")
_WINDOW = 40
_AM_MARKERS = ("sa", "am", "a.m.", "sang", "dem")
_PM_MARKERS = ("ch", "pm", "p.m.", "chieu", "toi")
_WORD_MARKERS = ("sang", "chieu", "toi", "dem")

_ISO_VALUE = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[Tt ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?$", re.I)


@dataclass(slots=True)
class _Found:
    start: int  # in folded text
    end: int
    day: date


@dataclass(slots=True)
class _Time:
    start: int
    end: int
    hour: int
    minute: int
    second: int


@lru_cache(maxsize=64)
def _offset(utc_offset: str) -> tuple[timezone, str]:
    """The tzinfo and the "+HH:MM" spelling of an offset such as "+07:00", "+0700", "Z"."""
    value = (utc_offset or "").strip()
    if value.upper() in ("Z", "UTC", "GMT", ""):
        return UTC, "+00:00"
    match = _OFFSET.match(value)
    if not match:
        return timezone(timedelta(hours=7)), "+07:00"
    hours, minutes = int(match["h"]), int(match["m"] or 0)
    delta = timedelta(hours=hours, minutes=minutes)
    if match["sign"] == "-":
        delta = -delta
    return timezone(delta), f"{match['sign']}{hours:02d}:{minutes:02d}"


def _make_date(year: int, month: int, day: int) -> date | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _date_from_match(match: re.Match[str]) -> date | None:
    groups = match.groupdict()
    year_text = groups["y"]
    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    if groups.get("vmon"):
        month = _VI_MONTHS[" ".join(groups["vmon"].split())]
    elif groups.get("mon"):
        month = _MONTHS.index(groups["mon"]) + 1
    else:
        month = int(groups["m"])
    return _make_date(year, month, int(groups["d"]))


def _dates_in(folded: str) -> list[_Found]:
    found: list[_Found] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(folded):
            day = _date_from_match(match)
            if day is not None:
                found.append(_Found(match.start(), match.end(), day))
    # Earliest first; of overlapping candidates keep the longest.
    found.sort(key=lambda f: (f.start, -(f.end - f.start)))
    kept: list[_Found] = []
    for item in found:
        if kept and item.start < kept[-1].end:
            continue
        kept.append(item)
    return kept


def _time_from_match(match: re.Match[str], base: int, folded: str) -> _Time | None:
    g = match.groupdict()
    hour = int(g["h1"] or g["h2"] or g["h3"] or g["h4"])
    minute = int(g["m1"] or g["m2"] or g["m3"] or 0)
    second = int(g["s1"] or 0)
    marker = g["ap"]
    # "sáng"/"chiều" after "10:40" may begin the next sentence ("... 10:40 Sáng 11/3,
    # UBND xã ..."); otherwise they qualify the time (WordPress's Vietnamese "8:30 sáng").
    next_day = _DAY_NEXT.match(folded, base + match.end())
    if marker in _WORD_MARKERS and g["h1"] is not None and next_day:
        marker = None
    # A 24-hour time ("15:00") needs no AM/PM, and one next to it is not about it.
    if marker and 1 <= hour <= 12:
        if hour == 12 and marker in _AM_MARKERS:
            hour = 0
        elif hour < 12 and marker in _PM_MARKERS:
            hour += 12
    if hour > 23 or minute > 59 or second > 59:
        return None
    return _Time(base + match.start(), base + match.end(), hour, minute, second)


def _time_after(folded: str, pos: int, limit: int) -> _Time | None:
    window = folded[pos : min(limit, pos + _WINDOW)]
    for match in _TIME.finditer(window):
        if _GAP.match(window[: match.start()]):
            return _time_from_match(match, pos, folded)
        return None
    return None


def _time_before(folded: str, pos: int, floor: int) -> _Time | None:
    start = max(floor, pos - _WINDOW)
    window = folded[start:pos]
    last = None
    for match in _TIME.finditer(window):
        last = match
    if last is None or not _GAP.match(window[last.end() :]):
        return None
    return _time_from_match(last, start, folded)


def _format(day: date, time: _Time | None, offset: str) -> str:
    if time is None:
        return day.isoformat()
    return f"{day.isoformat()}T{time.hour:02d}:{time.minute:02d}:{time.second:02d}{offset}"


def find_dates(text: str, utc_offset: str = "+07:00") -> list[tuple[int, str]]:
    """Every date in `text`, with the time written next to it, as (offset in text, ISO).

    The offset is where the date expression starts (a time written before the date
    included).
    """
    if not text:
        return []
    _, offset = _offset(utc_offset)
    folded, index = fold_with_offsets(text)
    if not _DIGIT.search(folded):
        return []  # every date pattern has a day or a year in digits
    dates = _dates_in(folded)
    results: list[tuple[int, str]] = []
    floor = 0
    for i, found in enumerate(dates):
        next_start = dates[i + 1].start if i + 1 < len(dates) else len(folded)
        time = _time_after(folded, found.end, next_start)
        start = found.start
        if time is not None:
            floor = time.end
        else:
            time = _time_before(folded, found.start, floor)
            if time is not None:
                start = time.start
            floor = found.end
        results.append((index[start], _format(found.day, time, offset)))
    return results


def parse_date_text(text: str, utc_offset: str = "+07:00") -> str | None:
    """The first date in a short text such as "(10:40 | 03/08/2020)", with its time."""
    dates = find_dates(text, utc_offset)
    return dates[0][1] if dates else None


def parse_meta_datetime(value: str, utc_offset: str = "+07:00") -> str | None:
    """A machine-readable date (meta tag, <time datetime>, JSON-LD) in the portal's offset.

    Only well-formed ISO 8601 values are accepted; anything else gives None, so that a
    CMS bug such as "2020-08-03ICT10:40:00" is ignored rather than misread.
    """
    if not isinstance(value, str):
        return None
    match = _ISO_VALUE.match(value.strip())
    if not match:
        return None
    tz, offset = _offset(utc_offset)
    day = _make_date(int(match["y"]), int(match["mo"]), int(match["d"]))
    if day is None:
        return None
    if match["h"] is None:
        return day.isoformat()
    hour, minute, second = int(match["h"]), int(match["mi"]), int(match["s"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    moment = datetime(day.year, day.month, day.day, hour, minute, second)
    if match["tz"]:
        source_tz, _ = _offset(match["tz"])
        moment = moment.replace(tzinfo=source_tz).astimezone(tz)
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        return None
    # As strftime("%Y-%m-%dT%H:%M:%S") for these four-digit years, without its cost.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{offset}"
    )
