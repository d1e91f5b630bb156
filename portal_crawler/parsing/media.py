"""Images and attachments: real image URLs behind lazy loading, downloadable files."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, urljoin, urlsplit

from lxml import etree

from portal_crawler.parsing.text import fold_diacritics, normalize_text

_LAZY_ATTRS = (
    "data-original",
    "data-src",
    "data-lazy-src",
    "data-lazy",
    "data-echo",
    "data-url",
    "data-full",
    "data-orig-file",
    "lazy-src",
    "original",
)
_PLACEHOLDER = re.compile(
    r"^data:|blank\.|spacer|placeholder|loading|lazy|grey\.gif|gray\.gif|pixel\.|1x1|transparent",
    re.I,
)
# Theme graphics rather than article photos.
_ICON = re.compile(
    r"(^|/)(icons?|emoticons?|smilies|_layouts|siteimages|special)/|icon[-_.]|[-_]icon\.|"
    r"\.svg(\?|$)|/(print|email|mail|facebook|zalo|twitter|rss|clock|share)[-_.\w]*\.(png|gif)|"
    r"(^|/)(post-clock|ic_|btn[-_])",
    re.I,
)
FILE_EXTENSIONS = [
    "pdf",
    "doc",
    "docx",
    "xls",
    "xlsx",
    "ppt",
    "pptx",
    "odt",
    "ods",
    "odp",
    "rtf",
    "zip",
    "rar",
    "7z",
    "tar",
    "gz",
    "txt",
    "csv",
    "xml",
    "signed",
]
_FILE_EXT_RE = re.compile(
    r"\.(" + "|".join(FILE_EXTENSIONS) + r")(?=$|[/?#;])",
    re.I,
)
_SCRIPT_URL = re.compile(r"""['"]([^'"]+\.(?:""" + "|".join(FILE_EXTENSIONS) + r"""))['"]""", re.I)
_ATTACH_LABEL = re.compile(
    r"^\s*(file|tap tin|tep tin|tai lieu|tep|van ban|tai ve|download|xem|chi tiet)?"
    r"\s*(dinh kem|dinh kem theo|tai ve|download)?\s*(\(\w+\))?\s*[:：]\s*",
    re.I,
)


def image_src(img: etree._Element, base: str, rebase: Callable[[str], str] | None) -> str | None:
    """The absolute URL of the real picture of an <img>, or None for a theme graphic."""
    attrs = dict(img.items())  # one call into lxml rather than one per attribute
    src = (attrs.get("src") or "").strip()
    real = None
    for attr in _LAZY_ATTRS:
        value = (attrs.get(attr) or "").strip()
        if value and not value.startswith("data:"):
            real = value
            break
    if real is None:
        if not src or _PLACEHOLDER.search(src.rsplit("/", 1)[-1]) or src.startswith("data:"):
            srcset = attrs.get("data-srcset") or attrs.get("srcset") or ""
            first = srcset.split(",")[0].strip().split(" ")[0] if srcset else ""
            if not first:
                return None
            real = first
        else:
            real = src
    if _ICON.search(real) or _tiny(attrs):
        return None
    return absolute_url(real, base, rebase)


_STYLE_SIZE = {prop: re.compile(rf"(?:^|;){prop}:(\d+)px") for prop in ("width", "height")}


def _tiny(attrs: dict[str, str]) -> bool:
    for attr in ("width", "height"):
        value = (attrs.get(attr) or "").strip().lower().removesuffix("px")
        if value.isdigit() and int(value) < 48:
            return True
    style = (attrs.get("style") or "").lower().replace(" ", "")
    if not style:
        return False
    for pattern in _STYLE_SIZE.values():
        m = pattern.search(style)
        if m and int(m.group(1)) < 48:
            return True
    return False


def absolute_url(href: str, base: str, rebase: Callable[[str], str] | None) -> str:
    href = normalize_text(href).replace(" ", "%20")
    try:
        url = _join(base, href)
    except ValueError:  # a malformed host ("http://[x"): kept as written
        return quote(href, safe=":/?#[]@!$&'()*+,;=%~")
    # Raw spaces and non-ASCII in paths are written percent-encoded, as browsers send them.
    url = quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    if rebase is not None:
        url = rebase(url)
    return url


def _join(base: str, href: str) -> str:
    """urljoin(base, href), without its general machinery for the commonest link: a
    root-relative path without query, fragment, parameters or dot segments."""
    if (
        href[:1] == "/"
        and href[1:2] != "/"
        and "?" not in href
        and "#" not in href
        and ";" not in href
        and "/." not in href
    ):
        parts = urlsplit(base)  # raises ValueError where urljoin would
        if parts.scheme in ("http", "https"):
            return f"{parts.scheme}://{parts.netloc}{href}"
    return urljoin(base, href)


# Download handlers that hide the file name: DNN's LinkClick.aspx?fileticket=…,
# EasyDNNnews' DocumentDownload.ashx?…&documentid=N, "/download.php?id=N", Joomla's
# /component/attachments/download/N.
_DOWNLOAD_HANDLER = re.compile(
    r"(download|getfile|attachment|dinhkem|tai-?ve)[\w-]*\.(ashx|aspx|php|jsp|do)$"
    r"|/(attachments?|files?)/download/\d+/?$",
    re.I,
)


def is_file_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[x"
        return False
    if _FILE_EXT_RE.search(parts.path) or _DOWNLOAD_HANDLER.search(parts.path):
        return True
    if "fileticket=" in parts.query.lower():
        return True
    return bool(
        re.search(r"(download|getfile|downloadfile|attachment|dinhkem)", parts.path, re.I)
        and _FILE_EXT_RE.search(parts.query)
    )


def script_file_url(script: str) -> str | None:
    """A file path passed to a download script (onclick="downloadFile(1, '/upload/x.pdf')")."""
    match = _SCRIPT_URL.search(script or "")
    return match.group(1) if match else None


def attachment_name(text: str, title: str | None, url: str) -> str:
    name = normalize_text(text)
    folded = fold_diacritics(name)
    match = _ATTACH_LABEL.match(folded)
    if match and match.end() > 0 and match.group(0).strip():
        # Cut the same number of characters from the original (folding keeps lengths
        # for Vietnamese letters but may not for others: recompute on failure).
        cut = match.end()
        if len(folded) == len(name):
            name = name[cut:].strip()
    if not name:
        name = normalize_text(title or "")
    if not name:
        try:
            name = urlsplit(url).path.rsplit("/", 1)[-1]
        except ValueError:  # "http://[x"
            name = url
    return name
