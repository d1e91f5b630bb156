"""The article parser: pure functions of (url, bytes, headers), no Scrapy."""

from __future__ import annotations

from portal_crawler.parsing.article import Article, Attachment, Credit, Image


class ParseError(ValueError):
    """A page could not be parsed at all."""


# Bump when extraction output changes, so stored articles can be re-parsed.
PARSER_VERSION = "1.0"

from portal_crawler.parsing.extract import parse_article  # noqa: E402

__all__ = [
    "PARSER_VERSION",
    "Article",
    "Attachment",
    "Credit",
    "Image",
    "ParseError",
    "parse_article",
]
