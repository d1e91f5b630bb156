"""Portal profiles: per-portal knowledge as data.

A profile is a TOML file under ``portals/``; it names a CMS ``family`` whose
defaults (``families/<family>.toml``) it inherits, so that a new portal of a
known product takes a few lines. Tables ``[listing]`` and ``[extract]`` are
merged key by key, the portal's value winning over the family's.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
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


def _read_toml(package: str, name: str) -> dict[str, Any]:
    try:
        text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ProfileError(f"no profile file {package}/{name}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{package}/{name}: {exc}") from exc


@cache
def family_defaults(family: str) -> dict[str, Any]:
    if family == "generic":
        return {}
    return _read_toml(__name__ + ".families", f"{family}.toml")


def profile_from_dict(data: dict[str, Any]) -> Profile:
    """Build a Profile from a portal table, merged over its family's defaults."""
    try:
        family = data.get("family", "generic")
        defaults = family_defaults(family)
        base_url = data["base_url"].rstrip("/")
        listing = {**defaults.get("listing", {}), **data.get("listing", {})}
        extract = {**defaults.get("extract", {}), **data.get("extract", {})}
        extract["drop"] = tuple(extract.get("drop", ()))
        merged = {**{k: v for k, v in defaults.items() if k not in ("listing", "extract")}, **data}
        sections = tuple(
            Section(name=s["name"], url=urljoin(base_url + "/", s["url"]))
            for s in merged.get("sections", ())
        )
        return Profile(
            id=merged["id"],
            name=merged["name"],
            base_url=base_url,
            family=family,
            province=merged.get("province"),
            sections=sections,
            default_sections=tuple(merged.get("default_sections", (DEFAULT_SECTION,))),
            listing=ListingRules(**listing),
            extract=ExtractHints(**extract),
            download_delay=float(merged.get("download_delay", 1.0)),
            concurrency=int(merged.get("concurrency", 2)),
            extra_hosts=tuple(merged.get("extra_hosts", ())),
            utc_offset=merged.get("utc_offset", "+07:00"),
        )
    except (KeyError, TypeError) as exc:
        raise ProfileError(f"profile {data.get('id', '?')!r} is malformed: {exc!r}") from exc


@cache
def load_profiles() -> dict[str, Profile]:
    """Every shipped profile, by id."""
    profiles = {}
    folder = resources.files(__name__ + ".portals")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            profile = profile_from_dict(_read_toml(__name__ + ".portals", entry.name))
            profiles[profile.id] = profile
    return profiles


def get_profile(portal_id: str) -> Profile:
    profiles = load_profiles()
    if portal_id not in profiles:
        raise ProfileError(
            f"unknown portal {portal_id!r}; `portal-archive portals` lists the known ones"
        )
    return profiles[portal_id]


def profile_for_url(url: str) -> Profile | None:
    """The profile whose portal serves this URL's host, if any."""
    host = (urlsplit(url).hostname or "").lower()
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
