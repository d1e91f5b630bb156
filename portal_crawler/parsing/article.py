"""The Article record: exactly the keys of the gold format (shared/portals/FORMAT.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GOLD_KEYS = (
    "url",
    "section",
    "title",
    "published",
    "lead",
    "body",
    "images",
    "credit",
    "attachments",
)


@dataclass
class Image:
    src: str
    caption: str | None = None


@dataclass
class Attachment:
    url: str
    name: str


@dataclass
class Credit:
    raw: str
    text_by: list[str] | None = None
    photo_by: list[str] | None = None
    source: list[str] | None = None


@dataclass
class Article:
    url: str
    section: str | None = None
    title: str | None = None
    # ISO 8601 with the portal's offset ("2020-08-03T10:40:00+07:00"),
    # or the date alone ("2020-08-03") when the page shows no time.
    published: str | None = None
    lead: str | None = None
    body: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    credit: Credit | None = None
    attachments: list[Attachment] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The gold-format JSON object, keys in gold order (what dataclasses.asdict gives,
        without its generic deep copy, which costs as much as parsing a small page)."""
        credit = self.credit
        return {
            "url": self.url,
            "section": self.section,
            "title": self.title,
            "published": self.published,
            "lead": self.lead,
            "body": list(self.body),
            "images": [{"src": i.src, "caption": i.caption} for i in self.images],
            "credit": None
            if credit is None
            else {
                "raw": credit.raw,
                "text_by": _copy(credit.text_by),
                "photo_by": _copy(credit.photo_by),
                "source": _copy(credit.source),
            },
            "attachments": [{"url": a.url, "name": a.name} for a in self.attachments],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        credit = data.get("credit")
        return cls(
            url=data["url"],
            section=data.get("section"),
            title=data.get("title"),
            published=data.get("published"),
            lead=data.get("lead"),
            body=list(data.get("body") or []),
            images=[Image(**img) for img in data.get("images") or []],
            credit=Credit(**credit) if credit else None,
            attachments=[Attachment(**att) for att in data.get("attachments") or []],
        )


def _copy(names: list[str] | None) -> list[str] | None:
    return None if names is None else list(names)


def missing_fields(article: Article) -> list[str]:
    """Why an article may not be stored as a success: its missing essentials."""
    problems = []
    if not article.title:
        problems.append("no title")
    if not article.body:
        problems.append("no body")
    if not article.published:
        problems.append("no publication date")
    return problems
