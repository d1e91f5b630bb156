"""Portal profiles: per-portal knowledge as data.

A profile is a TOML file under ``portals/``; it names a CMS ``family`` whose
defaults (``families/<family>.toml``) it inherits, so that a new portal of a
known product takes a few lines. Tables ``[listing]`` and ``[extract]`` are
merged key by key, the portal's value winning over the family's.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

DEFAULT_SECTION = "Hoạt động địa phương"


class ProfileError(ValueError):
    """A profile file is malformed or a profile/section does not exist."""


@dataclass(frozen=True)
class Section:
    name: str
    url: str  # absolute URL on the live portal


@dataclass(frozen=True)
class ListingRules:
    """How to walk a section's listing."""

    # "auto" finds plain links and ASP.NET postbacks; "link" or "postback" force one.
    pagination: str = "auto"
    # CSS selector of the element(s) holding the listing's entries; article
    # links outside it (sidebars, menus) are ignored. None: found generically.
    items: str | None = None
    # Regular expression an article URL (path + query) matches. None: generic.
    article_url: str | None = None
    # CSS selector of the pager. None: found generically.
    pager: str | None = None


@dataclass(frozen=True)
class ExtractHints:
    """CSS selectors that help the generic extractor; each may be None."""

    container: str | None = None
    title: str | None = None
    date: str | None = None
    lead: str | None = None
    body: str | None = None
    credit: str | None = None
    attachments: str | None = None
    # Elements removed before extraction (widgets, related lists).
    drop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    id: str
    name: str
    base_url: str
    family: str = "generic"
    province: str | None = None
    sections: tuple[Section, ...] = ()
    default_sections: tuple[str, ...] = (DEFAULT_SECTION,)
    listing: ListingRules = field(default_factory=ListingRules)
    extract: ExtractHints = field(default_factory=ExtractHints)
    # Politeness: seconds between requests to the portal and parallel requests.
    download_delay: float = 1.0
    concurrency: int = 2
    # Hosts besides base_url's that belong to the portal (www., asset hosts).
    extra_hosts: tuple[str, ...] = ()
    utc_offset: str = "+07:00"

    @property
    def hosts(self) -> frozenset[str]:
        host = (urlsplit(self.base_url).hostname or "").lower()
        hosts = {host, *self.extra_hosts}
        hosts.add(host[4:] if host.startswith("www.") else "www." + host)
        return frozenset(h.lower() for h in hosts if h)

    def section(self, name: str) -> Section:
        for section in self.sections:
            if section.name.casefold() == name.casefold():
                return section
        known = ", ".join(s.name for s in self.sections) or "none"
        raise ProfileError(f"portal {self.id!r} has no section {name!r} (known: {known})")

    def default_section_list(self) -> list[Section]:
        return [self.section(name) for name in self.default_sections]


PROFILE_DIRS_ENV = "PORTAL_ARCHIVE_PROFILES"
PORTAL_KEYS = {
    "id",
    "name",
    "base_url",
    "family",
    "province",
    "sections",
    "default_sections",
    "listing",
    "extract",
    "download_delay",
    "concurrency",
    "extra_hosts",
    "utc_offset",
}
FAMILY_KEYS = (PORTAL_KEYS - {"id", "base_url", "sections", "province"}) | {"name"}
LISTING_KEYS = {f.name for f in fields(ListingRules)}
EXTRACT_KEYS = {f.name for f in fields(ExtractHints)}


def _parse_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: not valid TOML: {exc}") from exc


def user_profile_dirs() -> list[Path]:
    """Folders of the user's own profiles ($PORTAL_ARCHIVE_PROFILES, os.pathsep-separated)."""
    value = os.environ.get(PROFILE_DIRS_ENV, "")
    return [Path(part).expanduser() for part in value.split(os.pathsep) if part.strip()]


@cache
def family_defaults(family: str) -> dict[str, Any]:
    """A CMS family's defaults: the user's families/<family>.toml first, then ours."""
    if family == "generic":
        return {}
    for folder in user_profile_dirs():
        candidate = folder / "families" / f"{family}.toml"
        if candidate.is_file():
            data = _parse_toml(candidate.read_text(encoding="utf-8"), str(candidate))
            _check_keys(data, FAMILY_KEYS, str(candidate))
            return data
    shipped = resources.files(__name__ + ".families").joinpath(f"{family}.toml")
    if not shipped.is_file():
        known = sorted(
            e.name[:-5]
            for e in resources.files(__name__ + ".families").iterdir()
            if e.name.endswith(".toml")
        )
        raise ProfileError(f"unknown CMS family {family!r} (known: generic, {', '.join(known)})")
    data = _parse_toml(shipped.read_text(encoding="utf-8"), f"families/{family}.toml")
    _check_keys(data, FAMILY_KEYS, f"families/{family}.toml")
    return data


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ProfileError(
            f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )


def _require(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise ProfileError(f"{where}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        raise ProfileError(f"{where}: key {key!r} must be a {kind.__name__}, not {value!r}")
    return value


def _check_rules(listing: dict[str, Any], extract: dict[str, Any], where: str) -> None:
    from cssselect import SelectorError
    from cssselect import parse as parse_css

    _check_keys(listing, LISTING_KEYS, f"{where} [listing]")
    _check_keys(extract, EXTRACT_KEYS, f"{where} [extract]")
    if listing.get("pagination", "auto") not in ("auto", "link", "postback"):
        raise ProfileError(f"{where} [listing]: pagination must be auto, link or postback")
    if listing.get("article_url"):
        try:
            re.compile(listing["article_url"])
        except re.error as exc:
            raise ProfileError(f"{where} [listing]: article_url is not a regex: {exc}") from exc
    selectors = [("listing", k, v) for k, v in listing.items() if k in ("items", "pager")]
    selectors += [("extract", k, v) for k, v in extract.items() if k != "drop"]
    selectors += [("extract", "drop", v) for v in extract.get("drop", ())]
    for table, key, value in selectors:
        if value is None:
            continue
        try:
            parse_css(value)
        except (SelectorError, TypeError) as exc:
            raise ProfileError(
                f"{where} [{table}]: {key} is not a CSS selector: {value!r}"
            ) from exc


def profile_from_dict(data: dict[str, Any], where: str | None = None) -> Profile:
    """Build a Profile from a portal table, merged over its family's defaults.

    Every problem is a ProfileError naming the file (``where``) and the key.
    """
    where = where or f"profile {data.get('id', '?')!r}"
    _check_keys(data, PORTAL_KEYS, where)
    portal_id = _require(data, "id", str, where)
    name = _require(data, "name", str, where)
    base_url = _require(data, "base_url", str, where).rstrip("/")
    if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).hostname:
        raise ProfileError(f"{where}: base_url must be an http(s) URL, not {base_url!r}")
    family = data.get("family", "generic")
    try:
        defaults = family_defaults(family)
    except ProfileError as exc:
        raise ProfileError(f"{where}: {exc}") from exc
    listing = {**defaults.get("listing", {}), **data.get("listing", {})}
    extract = {**defaults.get("extract", {}), **data.get("extract", {})}
    _check_rules(listing, extract, where)
    extract["drop"] = tuple(extract.get("drop", ()))
    merged = {**{k: v for k, v in defaults.items() if k not in ("listing", "extract")}, **data}
    sections = []
    for index, section in enumerate(merged.get("sections", ())):
        at = f"{where} [[sections]] #{index + 1}"
        if not isinstance(section, dict):
            raise ProfileError(f"{at}: must be a table with name and url")
        _check_keys(section, {"name", "url"}, at)
        url = urljoin(base_url + "/", _require(section, "url", str, at))
        sections.append(Section(name=_require(section, "name", str, at), url=url))
    names = [s.name for s in sections]
    if "default_sections" in merged:
        defaults_named = tuple(merged["default_sections"])
        missing = [n for n in defaults_named if n not in names]
        if missing:
            raise ProfileError(f"{where}: default section {missing[0]!r} is not among its sections")
    else:
        # "Hoạt động địa phương" when the portal has it, else its first section.
        defaults_named = (
            (DEFAULT_SECTION,) if DEFAULT_SECTION in names or not names else (names[0],)
        )
    try:
        return Profile(
            id=portal_id,
            name=name,
            base_url=base_url,
            family=family,
            province=merged.get("province"),
            sections=tuple(sections),
            default_sections=defaults_named,
            listing=ListingRules(**listing),
            extract=ExtractHints(**extract),
            download_delay=float(merged.get("download_delay", 1.0)),
            concurrency=int(merged.get("concurrency", 2)),
            extra_hosts=tuple(merged.get("extra_hosts", ())),
            utc_offset=merged.get("utc_offset", "+07:00"),
        )
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"{where}: {exc}") from exc


def _profile_files() -> list[tuple[str, str]]:
    """(where, text) of every profile: shipped ones, then the user's (which win)."""
    files = []
    shipped = resources.files(__name__ + ".portals")
    for entry in sorted(shipped.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            files.append((f"portals/{entry.name}", entry.read_text(encoding="utf-8")))
    for folder in user_profile_dirs():
        if not folder.is_dir():
            raise ProfileError(f"{PROFILE_DIRS_ENV}: {folder} is not a folder")
        for path in sorted(folder.glob("*.toml")):
            files.append((str(path), path.read_text(encoding="utf-8")))
    return files


@cache
def load_profiles() -> dict[str, Profile]:
    """Every profile, by id: the shipped ones and those in $PORTAL_ARCHIVE_PROFILES."""
    profiles = {}
    for where, text in _profile_files():
        profile = profile_from_dict(_parse_toml(text, where), where)
        profiles[profile.id] = profile
    return profiles


def reload_profiles() -> None:
    """Forget cached profiles (after $PORTAL_ARCHIVE_PROFILES changed)."""
    load_profiles.cache_clear()
    family_defaults.cache_clear()


def get_profile(portal_id: str) -> Profile:
    profiles = load_profiles()
    if portal_id not in profiles:
        raise ProfileError(
            f"unknown portal {portal_id!r}; `portal-archive portals` lists the known ones"
        )
    return profiles[portal_id]


def profile_for_url(url: str) -> Profile | None:
    """The profile whose portal serves this URL's host, if any (None for a malformed URL)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    for profile in load_profiles().values():
        if host in profile.hosts:
            return profile
    return None


def generic_profile(listing_url: str, section: str | None = None) -> Profile:
    """A profile for a portal nobody described: one listing, all generic."""
    parts = urlsplit(listing_url)
    base = f"{parts.scheme}://{parts.netloc}"
    name = section or "Listing"
    return Profile(
        id=(parts.hostname or "unknown").lower(),
        name=parts.hostname or base,
        base_url=base,
        sections=(Section(name=name, url=listing_url),),
        default_sections=(name,),
    )
