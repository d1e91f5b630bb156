"""Build small portal snapshots (FORMAT.md) on disk for tests of one behaviour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HTML = {"Content-Type": "text/html; charset=utf-8"}


def article_page(title: str, date: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title}</title></head><body><div class='menu'>"
        f"<a href='/'>Trang chủ</a></div><div class='article'><h1>{title}</h1>"
        f"<span class='date'>{date}</span><div class='content'>{body}</div></div></body></html>"
    )


def listing_page(entries: list[tuple[str, str]], pager: str = "") -> str:
    items = "".join(
        f"<div class='item'><a href='{href}'>{title}</a><p>Tóm tắt của bài viết {title}, "
        f"đủ dài để là một đoạn giới thiệu.</p></div>"
        for href, title in entries
    )
    return f"<html><body><div class='news-list'>{items}{pager}</div></body></html>"


def make_snapshot(
    root: Path,
    responses: list[dict[str, Any]],
    *,
    base_url: str = "https://xa.example.gov.vn",
    section_url: str = "/tin-tuc",
) -> Path:
    """responses: dicts with path, status, optional headers, and text (the body)."""
    (root / "pages").mkdir(parents=True, exist_ok=True)
    lines = []
    for index, response in enumerate(responses):
        line = {
            "method": response.get("method", "GET"),
            "path": response["path"],
            "status": response.get("status", 200),
            "headers": response.get("headers", HTML),
        }
        for key in ("form", "times", "then"):
            if key in response:
                line[key] = response[key]
        if "text" in response:
            name = f"pages/p{index}.html"
            (root / name).write_bytes(
                response["text"].encode() if isinstance(response["text"], str) else response["text"]
            )
            line["body"] = name
        lines.append(json.dumps(line, ensure_ascii=False))
    (root / "responses.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    site = {
        "id": root.name,
        "name": "Cổng thông tin điện tử xã Thử Nghiệm",
        "base_url": base_url,
        "cms": "test",
        "sections": [{"name": "Hoạt động địa phương", "url": section_url}],
    }
    (root / "site.json").write_text(json.dumps(site, ensure_ascii=False), encoding="utf-8")
    return root
