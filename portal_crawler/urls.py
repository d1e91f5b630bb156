"""URL helpers shared by the spider, the pipelines and the parser."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that track a visit or remember where it came from, never which
# content is shown. Compared lower-cased.
_DROP_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "zarsrc",
        "zlsrc",
        "_hsenc",
        "_hsmi",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "mkt_tok",
        # Where to go back to: SharePoint "Source", Liferay "redirect", ASP.NET "ReturnUrl".
        "source",
        "redirect",
        "backurl",
        "returnurl",
        "return_url",
        # Session identifiers.
        "jsessionid",
        "phpsessid",
        "sessionid",
        "aspsessionid",
        "cfid",
        "cftoken",
        # jQuery cache buster.
        "_",
    }
)
# Namespaced Liferay portlet parameters such as "_101_INSTANCE_Xk4Pb_redirect".
_DROP_SUFFIXES = ("_redirect", "_backurl")

_SESSION_PATH_PARAM = re.compile(r";jsessionid=[^/?#;]*", re.I)
# ASP.NET cookieless sessions put the id in the path: /(S(abc123xyz))/default.aspx
_ASPNET_SESSION_SEGMENT = re.compile(r"/\((?:[A-Z]\([A-Za-z0-9_-]*\))+\)(?=/|$)")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")

# Characters left as they are: RFC 3986 reserved and unreserved ones, and "%" (escapes are
# normalised, never decoded, so "%2F" stays distinct from "/").
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = "/?:@!$'()*+,;=-._~%[]|"


def _encode(text: str, safe: str) -> str:
    text = _BAD_PERCENT.sub("%25", text)
    text = quote(text, safe=safe, encoding="utf-8", errors="strict")
    return _PERCENT.sub(lambda m: m.group(0).upper(), text)


def _remove_dot_segments(path: str) -> str:
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") or not path.startswith("/") else "/" + result


def _param_name(token: str) -> str:
    return unquote(token.split("=", 1)[0]).strip().lower()


def _keep_param(token: str) -> bool:
    name = _param_name(token)
    if not name:
        return False
    if name.startswith("utm_") or name in _DROP_PARAMS:
        return False
    return not name.endswith(_DROP_SUFFIXES)


def _netloc(scheme: str, netloc: str) -> str:
    userinfo, _, hostport = netloc.rpartition("@")
    host, port = hostport, ""
    if hostport.startswith("["):  # IPv6 literal
        end = hostport.find("]")
        host, port = hostport[: end + 1], hostport[end + 2 :]
    elif ":" in hostport:
        host, port = hostport.rsplit(":", 1)
    host = host.lower().rstrip(".")
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        host = host.encode("idna").decode("ascii")
    if port.isdigit() and int(port) == _DEFAULT_PORTS.get(scheme):
        port = ""
    result = f"{host}:{port}" if port else host
    return f"{userinfo}@{result}" if userinfo else result


def canonicalize_url(url: str) -> str:
    """The URL under which a page is stored and deduplicated.

    Lower-cases scheme and host, drops the default port, the fragment, session ids and
    tracking or "return to" query parameters, and writes spaces and non-ASCII characters
    percent-encoded. Parameters that select content keep their order.
    """
    url = (url or "").strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        netloc = _netloc(scheme, parts.netloc) if parts.netloc else ""
    except (ValueError, UnicodeError):
        return url
    # Browsers read a backslash in an http path as a slash.
    path = _SESSION_PATH_PARAM.sub("", parts.path.replace("\\", "/"))
    path = _ASPNET_SESSION_SEGMENT.sub("", path)
    path = _encode(_remove_dot_segments(path), _PATH_SAFE)
    if netloc and not path:
        path = "/"
    tokens = [t for t in parts.query.split("&") if t and _keep_param(t)]
    query = "&".join(_encode(t, _QUERY_SAFE) for t in tokens)
    return urlunsplit((scheme, netloc, path, query, ""))


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host; False for javascript:, mailto: ..."""
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def host_of(url: str) -> str:
    """The lower-case host of `url`, without port ("" when there is none)."""
    try:
        host = urlsplit((url or "").strip()).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".")


def _bare_host(host: str) -> str:
    host = host.strip()
    if "://" in host:
        return host_of(host)
    return host_of("//" + host)


def same_host(url: str, hosts: Iterable[str]) -> bool:
    """True when `url` is on one of `hosts` (bare host names or origins)."""
    host = host_of(url)
    return bool(host) and any(host == _bare_host(h) for h in hosts)


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return scheme, parts.hostname.rstrip("."), port


def rebase_url(url: str, from_origin: str, to_origin: str) -> str:
    """`url` moved from one origin to another when it is on `from_origin`, else unchanged.

    Maps a replay server's "http://127.0.0.1:PORT/..." to the live portal's base URL and
    back. Only scheme, host and port of `from_origin`/`to_origin` count.
    """
    source = _origin(from_origin)
    if source is None or _origin(url) != source:
        return url
    parts = urlsplit(url.strip())
    target = urlsplit(to_origin.strip())
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))


def host_and_port(url: str) -> str:
    """ "host:port" with the scheme's default port filled in: how the offsite rules compare."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    except ValueError:  # a port that is not a number
        port = -1
    return f"{(parts.hostname or '').lower()}:{port}"
