"""A synthetic government news portal of N articles, served over HTTP on 127.0.0.1.

    python benchmarks/synthetic_portal.py serve --articles 100000 --family nukeviet
    python benchmarks/synthetic_portal.py page --articles 1000 --article 7 > page.html

Every page is rendered on request from (seed, family, article number), so a
portal of 1,000,000 articles costs no memory and no disk, and a re-crawl sees
byte-identical pages. Article N is the newest; listing page 1 shows the
newest. Pages are 25–80 kB like real portals: a header, a menu of ~60 links,
"most read" and "latest" sidebars, a footer and inline script/state around the
article (SharePoint pages also carry a large __VIEWSTATE).

Families (markup and pagination of the CMSs the project supports):
- ``sharepoint``: ``/Trang/TinTuc.aspx?CateID=12``, ASP.NET postback pagination
  (``__doPostBack('…$pager','Page$N')`` answered by POST), articles at
  ``/Trang/ChiTietTinTuc.aspx?nid=N&CateID=12``;
- ``nukeviet``: ``/vi/news/hoat-dong-dia-phuong/`` and ``…/page-N``, articles at
  ``…/slug-N.html``;
- ``liferay``: ``/hoat-dong-dia-phuong?p_p_id=…&_…_cur=N`` (Asset Publisher),
  articles at ``/hoat-dong-dia-phuong/-/asset_publisher/…/content/slug-N``.

``--edited K`` serves the K newest articles with an edited body (and a new
ETag), for re-crawl tests. Responses carry ETag and Last-Modified and answer
conditional requests with 304, as the portals' web servers do for static
content. Images are small valid JPEGs, distinct per article.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from urllib.parse import parse_qs, urlsplit

FAMILIES = ("sharepoint", "nukeviet", "liferay")
SECTION = "Hoạt động địa phương"
TZ = timezone(timedelta(hours=7))
# The newest article; older ones go back in time, about 3 hours apart.
NEWEST = datetime(2025, 6, 28, 16, 30, tzinfo=TZ)

_TEXT = (
    "Ủy ban nhân dân huyện xã thị trấn Đảng bộ Hội đồng đại biểu nhiệm kỳ phong trào thi đua "
    "dân vận khéo nông thôn mới đường giao thông hộ nghèo nhà đại đoàn kết tổng kết triển khai "
    "kế hoạch phòng chống dịch bệnh thiên tai hạn mặn mùa khô cán bộ đảng viên nhân dân năm "
    "tháng ngày hội nghị chỉ đạo thực hiện nghị quyết chương trình mục tiêu quốc gia giảm nghèo "
    "bền vững an sinh xã hội giáo dục y tế văn hóa thể thao du lịch sản xuất nông nghiệp thủy "
    "sản chuyển đổi số cải cách hành chính một cửa liên thông doanh nghiệp hợp tác xã thanh niên "
    "phụ nữ cựu chiến binh mặt trận tổ quốc quốc phòng an ninh trật tự biên giới lũ lụt"
)
WORDS = tuple(_TEXT.split())
SLUG_WORDS = (
    "hoi-nghi", "tong-ket", "phong-trao", "xa", "huyen", "nong-thon-moi", "dan-van", "trien-khai",
)  # fmt: skip
NAMES = (
    "Quốc Vương", "Minh Đức", "Thu Hà", "Văn Hùng", "Ngọc Lan", "Hoàng Anh", "Thanh Tâm",
    "Bảo Ngọc", "Trần Nam", "Lê Phương",
)  # fmt: skip


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _jpeg(seed: int) -> bytes:
    """A small, valid baseline JPEG (SOI, SOF0 with a size, EOI) unique to `seed`."""
    width, height = 800 + seed % 400, 450 + seed % 300
    sof = (
        b"\xff\xc0\x00\x11\x08"
        + height.to_bytes(2, "big")
        + width.to_bytes(2, "big")
        + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    )
    filler = hashlib.sha256(seed.to_bytes(8, "big")).digest() * 64  # ~2 kB of "scan data"
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + sof
        + (b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + filler + b"\xff\xd9")
    )


@dataclass
class Portal:
    """A deterministic synthetic portal; every method is a pure function of its fields."""

    articles: int = 2000
    family: str = "nukeviet"
    seed: int = 1
    per_page: int = 20
    edited: int = 0
    images: bool = True
    _chrome: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}")
        self._chrome = self._render_chrome()

    # -- URLs ------------------------------------------------------------------------
    @property
    def pages(self) -> int:
        return max(1, -(-self.articles // self.per_page))

    def listing_path(self, page: int = 1) -> str:
        if self.family == "sharepoint":
            return "/Trang/TinTuc.aspx?CateID=12"
        if self.family == "nukeviet":
            base = "/vi/news/hoat-dong-dia-phuong/"
            return base if page == 1 else f"{base}page-{page}"
        if page == 1:
            return "/hoat-dong-dia-phuong"
        return f"/hoat-dong-dia-phuong?p_p_id=101_INSTANCE_Xk4Pb&p_p_lifecycle=0&_101_INSTANCE_Xk4Pb_cur={page}"  # noqa: E501

    def article_path(self, number: int) -> str:
        slug = self._slug(number)
        if self.family == "sharepoint":
            return f"/Trang/ChiTietTinTuc.aspx?nid={number}&CateID=12"
        if self.family == "nukeviet":
            return f"/vi/news/hoat-dong-dia-phuong/{slug}-{number}.html"
        return f"/hoat-dong-dia-phuong/-/asset_publisher/Xk4Pb/content/{slug}-{number}"

    def image_path(self, number: int, k: int) -> str:
        return f"/uploads/news/{number // 1000}/{number}-{k}.jpg"

    def _slug(self, number: int) -> str:
        rng = random.Random(self.seed * 7919 + number)
        return "-".join(rng.choice(SLUG_WORDS) for _ in range(4))

    # -- content ---------------------------------------------------------------------
    def published(self, number: int) -> datetime:
        return NEWEST - timedelta(minutes=173 * (self.articles - number))

    def is_edited(self, number: int) -> bool:
        return number > self.articles - self.edited

    def article_content(self, number: int) -> dict:
        """Title, lead, paragraphs, images (path, caption) and by-line of article `number`."""
        rng = random.Random(self.seed * 1_000_003 + number)
        paragraphs = [_sentence(rng, rng.randint(25, 70)) for _ in range(rng.randint(5, 18))]
        if self.is_edited(number):
            paragraphs.append("Cập nhật: bài viết đã được chỉnh sửa, bổ sung số liệu.")
        images = (
            [(self.image_path(number, k), _sentence(rng, 10)) for k in range(rng.randint(1, 3))]
            if self.images
            else []
        )
        return {
            "title": _sentence(rng, rng.randint(10, 18))[:-1],
            "lead": _sentence(rng, rng.randint(25, 45)),
            "body": paragraphs,
            "images": images,
            "credit": f"Tin và ảnh: {rng.choice(NAMES)}",
            "noise": rng.randint(8_000, 55_000),  # bytes of sidebars and script, as portals
        }

    # -- rendering -------------------------------------------------------------------
    def _render_chrome(self) -> dict[str, str]:
        rng = random.Random(self.seed)
        menu = "".join(
            f'<li class="menu-item"><a href="/chuyen-muc/{i}">{escape(_sentence(rng, 3)[:-1])}'
            "</a></li>"
            for i in range(60)
        )
        footer = "".join(f"<p>{escape(_sentence(rng, 20))}</p>" for _ in range(6))
        # Inline script and state: the bulk of real portal pages, and no content at all.
        blob = hashlib.sha256(str(self.seed).encode()).hexdigest() * 2400
        return {
            "head": (
                '<link rel="stylesheet" href="/themes/default/css/main.css">'
                '<script src="/js/jquery.min.js"></script>'
            ),
            "header": (
                '<div id="header" class="header"><div class="banner"><a href="/">'
                '<img src="/images/banner.png" alt="Cổng thông tin điện tử huyện Tổng Hợp">'
                '</a></div><ul class="main-menu nav">' + menu + "</ul></div>"
            ),
            "footer": '<div id="footer" class="footer">' + footer + "</div>",
            "blob": blob,
        }

    def _sidebar(self, number: int, noise: int) -> str:
        """ "Most read" and "latest" boxes linking other articles, plus inline script."""
        rng = random.Random(self.seed * 31 + number)
        items = []
        for _ in range(12):
            other = rng.randint(1, self.articles)
            items.append(
                f'<li><a href="{escape(self.article_path(other))}">'
                f"{escape(_sentence(rng, 9)[:-1])}</a></li>"
            )
        blob = self._chrome["blob"]
        start = number % 1000
        script = f"<script>var _state='{blob[start : start + noise]}';</script>"
        return (
            '<div class="sidebar col-md-3"><div class="block xem-nhieu"><h3>Tin xem nhiều</h3>'
            f'<ul>{"".join(items[:6])}</ul></div><div class="block tin-moi"><h3>Tin mới</h3>'
            f"<ul>{''.join(items[6:])}</ul></div></div>" + script
        )

    def _page(self, title: str, main: str, sidebar: str, form: bool = False) -> str:
        chrome = self._chrome
        inner = (
            f'{chrome["header"]}<div class="container"><div class="col-md-9 main-content">'
            f"{main}</div>{sidebar}</div>{chrome['footer']}"
        )
        if form:
            state = chrome["blob"][:24_000]
            inner = (
                '<form method="post" action="/Trang/TinTuc.aspx?CateID=12" id="aspnetForm">'
                f'<input type="hidden" name="__VIEWSTATE" id="__VIEWSTATE" value="{state}">'
                '<input type="hidden" name="__EVENTTARGET" id="__EVENTTARGET" value="">'
                '<input type="hidden" name="__EVENTARGUMENT" id="__EVENTARGUMENT" value="">'
                f"{inner}</form>"
            )
        return (
            '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title>{chrome['head']}</head><body>{inner}</body></html>"
        )

    def render_article(self, number: int) -> str:
        content = self.article_content(number)
        when = self.published(number)
        figures = "".join(
            f'<figure class="image"><img src="{escape(src)}" alt=""><figcaption>'
            f"{escape(caption)}</figcaption></figure>"
            for src, caption in content["images"]
        )
        paragraphs = [f"<p>{escape(p)}</p>" for p in content["body"]]
        body = paragraphs[:2] + [figures] + paragraphs[2:]
        main = (
            f'<div class="news-detail"><h1 class="title">{escape(content["title"])}</h1>'
            f'<div class="meta"><span class="date">Ngày đăng: {when:%d/%m/%Y %H:%M}</span></div>'
            f'<div class="sapo"><strong>{escape(content["lead"])}</strong></div>'
            f'<div class="news-content">{"".join(body)}'
            f'<p class="author" style="text-align:right"><strong>{escape(content["credit"])}'
            "</strong></p></div></div>"
        )
        head_meta = f'<meta property="article:published_time" content="{when.isoformat()}">'
        html = self._page(content["title"], main, self._sidebar(number, content["noise"]))
        return html.replace("<title>", head_meta + "<title>", 1)

    def listing_numbers(self, page: int) -> range:
        top = self.articles - (page - 1) * self.per_page
        return range(top, max(0, top - self.per_page), -1)

    def _pager(self, page: int) -> str:
        window = range(max(1, page - 2), min(self.pages, page + 5) + 1)
        links = []
        for n in window:
            if n == page:
                links.append(f'<li class="active"><span>{n}</span></li>')
            elif self.family == "sharepoint":
                links.append(
                    "<li><a href=\"javascript:__doPostBack('ctl00$m$g_1$pager','Page$"
                    f"{n}')\">{n}</a></li>"
                )
            else:
                links.append(f'<li><a href="{escape(self.listing_path(n))}">{n}</a></li>')
        if page < self.pages:
            nxt = (
                "javascript:__doPostBack('ctl00$m$g_1$pager','Page$" + f"{page + 1}')"
                if self.family == "sharepoint"
                else escape(self.listing_path(page + 1))
            )
            links.append(f'<li><a href="{nxt}">Tiếp</a></li>')
        return '<ul class="pagination">' + "".join(links) + "</ul>"

    def render_listing(self, page: int) -> str:
        entries = []
        for number in self.listing_numbers(page):
            content = self.article_content(number)
            path = escape(self.article_path(number))
            thumb = (
                f'<a href="{path}"><img src="{escape(content["images"][0][0])}" alt=""></a>'
                if content["images"]
                else ""
            )
            entries.append(
                f'<div class="news-item">{thumb}<h3><a href="{path}">'
                f'{escape(content["title"])}</a></h3><span class="date">'
                f"{self.published(number):%d/%m/%Y}</span><p>{escape(content['lead'])}</p></div>"
            )
        main = (
            f'<h2 class="section-title">{SECTION}</h2><div class="news-list">'
            + "".join(entries)
            + "</div>"
            + self._pager(page)
        )
        html = self._page(
            SECTION, main, self._sidebar(10**9 + page, 8000), form=self.family == "sharepoint"
        )
        return html

    # -- request routing -------------------------------------------------------------
    def listing_page_of(self, path_qs: str, form: dict[str, str] | None) -> int | None:
        """The listing page a request asks for, or None when it is not a listing."""
        parts = urlsplit(path_qs)
        query = parse_qs(parts.query)
        if self.family == "sharepoint":
            if parts.path != "/Trang/TinTuc.aspx" or query.get("CateID") != ["12"]:
                return None
            argument = (form or {}).get("__EVENTARGUMENT", "")
            number = argument.removeprefix("Page$")
            return int(number) if argument.startswith("Page$") and number.isdigit() else 1
        if self.family == "nukeviet":
            base = "/vi/news/hoat-dong-dia-phuong/"
            if parts.path in (base, base.rstrip("/")):
                return 1
            rest = parts.path[len(base) :] if parts.path.startswith(base) else ""
            return int(rest[5:]) if rest.startswith("page-") and rest[5:].isdigit() else None
        if parts.path != "/hoat-dong-dia-phuong":
            return None
        cur = query.get("_101_INSTANCE_Xk4Pb_cur", ["1"])[0]
        return int(cur) if cur.isdigit() else None

    def article_of(self, path_qs: str) -> int | None:
        parts = urlsplit(path_qs)
        if self.family == "sharepoint":
            if parts.path != "/Trang/ChiTietTinTuc.aspx":
                return None
            nid = parse_qs(parts.query).get("nid", [""])[0]
            number = int(nid) if nid.isdigit() else 0
        else:
            tail = parts.path.rsplit("-", 1)[-1].removesuffix(".html")
            number = int(tail) if tail.isdigit() else 0
            if self.article_path(number) != parts.path:
                return None
        return number if 1 <= number <= self.articles else None

    def image_of(self, path: str) -> tuple[int, int] | None:
        if not path.startswith("/uploads/news/") or not path.endswith(".jpg"):
            return None
        name = path.rsplit("/", 1)[-1][:-4]
        number, _, k = name.partition("-")
        if not (number.isdigit() and k.isdigit()) or not 1 <= int(number) <= self.articles:
            return None
        return int(number), int(k)

    def respond(
        self, method: str, path_qs: str, form: dict[str, str] | None = None
    ) -> tuple[int, str, bytes, str | None]:
        """(status, content type, body, validator) for a request."""
        path = urlsplit(path_qs).path
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n", None
        page = self.listing_page_of(path_qs, form)
        if page is not None:
            if not 1 <= page <= self.pages:
                return 404, "text/html; charset=utf-8", b"<h1>404</h1>", None
            return 200, "text/html; charset=utf-8", self.render_listing(page).encode(), None
        number = self.article_of(path_qs) if method == "GET" else None
        if number is not None:
            tag = f'"{self.seed}-{number}-{int(self.is_edited(number))}"'
            return 200, "text/html; charset=utf-8", self.render_article(number).encode(), tag
        image = self.image_of(path) if method == "GET" else None
        if image is not None:
            tag = f'"img-{self.seed}-{image[0]}-{image[1]}"'
            return 200, "image/jpeg", _jpeg(image[0] * 8 + image[1]), tag
        return 404, "text/html; charset=utf-8", b"<h1>404</h1>", None

    def iter_article_pages(self, count: int) -> Iterator[tuple[str, bytes]]:
        """(path, body) of the `count` newest articles, rendered without a server."""
        for number in range(self.articles, max(0, self.articles - count), -1):
            yield self.article_path(number), self.render_article(number).encode()


# -- the HTTP server --------------------------------------------------------------------
async def serve(portal: Portal, host: str = "127.0.0.1", port: int = 0) -> None:
    from aiohttp import web

    modified = format_datetime(NEWEST.astimezone(UTC), usegmt=True)

    async def handle(request: web.Request) -> web.StreamResponse:
        form = None
        if request.method == "POST":
            form = {k: str(v) for k, v in (await request.post()).items()}
        status, ctype, body, tag = portal.respond(request.method, request.path_qs, form)
        headers = {"Content-Type": ctype}
        if tag:
            headers.update(ETag=tag, **{"Last-Modified": modified})
            if request.headers.get("If-None-Match") == tag:
                return web.Response(status=304, headers={"ETag": tag})
        return web.Response(status=status, body=body, headers=headers)

    app = web.Application(client_max_size=4 * 2**20)
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"http://{host}:{bound}{portal.listing_path()}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["serve", "page", "listing"])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--family", choices=FAMILIES, default="nukeviet")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-page", type=int, default=20)
    parser.add_argument("--edited", type=int, default=0, help="serve the K newest edited")
    parser.add_argument("--no-images", action="store_true")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    parser.add_argument("--article", type=int, help="`page`: which article")
    parser.add_argument("--page", type=int, default=1, help="`listing`: which page")
    args = parser.parse_args(argv)
    portal = Portal(
        args.articles, args.family, args.seed, args.per_page, args.edited, not args.no_images
    )
    if args.command == "page":
        sys.stdout.write(portal.render_article(args.article or args.articles))
    elif args.command == "listing":
        sys.stdout.write(portal.render_listing(args.page))
    else:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(portal, port=args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
