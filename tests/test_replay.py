"""The replay server answers real HTTP exactly as the snapshot's responses.jsonl says."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from pathlib import Path

import pytest

from portal_crawler.replay import RecordedRequest, ReplayServer
from tests.conftest import ReplayFactory
from tests.helpers import FIXTURES_DIR, SNAPSHOT_IDS

ANBIEN = FIXTURES_DIR / "anbien"
PAGER = "ctl00$ctl40$g_3f2a9c71_5b8e_4d0a_9e2f_6c1d8b4a7e53$ctl00$rptPager$ctl01$lnkPage"
RETRIED = "/Trang/ChiTietTinTuc.aspx?nid=1865&CateID=12"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(
    url: str, *, data: dict[str, str] | None = None, method: str | None = None
) -> tuple[int, Message, bytes]:
    """Status, headers and body of one request, without following redirects."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def lines_of(snapshot: Path, later: bool = False) -> list[dict]:
    name = "responses.later.jsonl" if later else "responses.jsonl"
    text = (snapshot / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_get_page_serves_the_body_bytes_and_headers(replay: ReplayFactory) -> None:
    server = replay("anbien")
    status, headers, body = fetch(server.url("/Trang/ChiTietTinTuc.aspx?nid=1872&CateID=12"))
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Server"] == "Microsoft-IIS/8.5"
    assert body == (ANBIEN / "pages" / "chitiet-nid1872.html").read_bytes()


def test_robots_txt(replay: ReplayFactory) -> None:
    server = replay("anbien")
    line = next(ln for ln in lines_of(ANBIEN) if ln["path"] == "/robots.txt")
    status, _, body = fetch(server.url("/robots.txt"))
    assert status == 200
    assert body == (ANBIEN / line["body"]).read_bytes()
    assert b"User-agent" in body


def test_redirect_is_answered_not_followed(replay: ReplayFactory) -> None:
    server = replay("anbien")
    status, headers, body = fetch(server.url("/"))
    assert status == 302
    assert headers["Location"] == "/Trang/default.aspx"
    assert body == b""
    status, headers, _ = fetch(server.url("/Pages/ChiTietTinTuc.aspx?nid=1702&CateID=12"))
    assert status == 301
    assert headers["Location"] == "/Trang/ChiTietTinTuc.aspx?nid=1702&CateID=12"


def test_503_once_then_200(replay: ReplayFactory) -> None:
    server = replay("anbien")
    first = fetch(server.url(RETRIED))
    second = fetch(server.url(RETRIED))
    third = fetch(server.url(RETRIED))
    assert first[0] == 503
    assert first[1]["Server"] == "Microsoft-HTTPAPI/2.0"
    assert first[2] == (ANBIEN / "pages" / "static" / "503.html").read_bytes()
    article = (ANBIEN / "pages" / "chitiet-nid1865.html").read_bytes()
    assert (second[0], second[2]) == (200, article)
    assert (third[0], third[2]) == (200, article)


def test_postback_matches_on_eventtarget_among_other_fields(replay: ReplayFactory) -> None:
    server = replay("anbien")
    form = {
        "__EVENTTARGET": PAGER,
        "__EVENTARGUMENT": "",
        "__VIEWSTATE": "/wEPDwUKMTY1NDU2MTA1Mg9kFgJmD2QWAgIBD2QWAgIDD2QWAmYPZBYCAgEPZBYCZg9kFgI=",
        "__EVENTVALIDATION": "/wEdAAKZ",
        "ctl00$PlaceHolderSearchArea$txtSearch": "",
    }
    status, _, body = fetch(server.url("/Trang/TinTuc.aspx?CateID=12"), data=form)
    assert status == 200
    assert body == (ANBIEN / "pages" / "tintuc-cate12-trang2.html").read_bytes()
    # The same postback aimed at a pager link the snapshot lacks is not page 2.
    status, _, _ = fetch(
        server.url("/Trang/TinTuc.aspx?CateID=12"),
        data={**form, "__EVENTTARGET": PAGER.replace("ctl01", "ctl09")},
    )
    assert status == 404
    recorded = server.requests[0]
    assert (recorded.method, recorded.path) == ("POST", "/Trang/TinTuc.aspx?CateID=12")
    assert recorded.form == form


def test_plain_get_of_postback_page_is_page_one(replay: ReplayFactory) -> None:
    server = replay("anbien")
    status, _, body = fetch(server.url("/Trang/TinTuc.aspx?CateID=12"))
    assert status == 200
    assert body == (ANBIEN / "pages" / "tintuc-cate12-trang1.html").read_bytes()


def test_unmatched_request_is_404(replay: ReplayFactory) -> None:
    server = replay("anbien")
    status, _, body = fetch(server.url("/no/such/page.aspx"))
    assert status == 404
    assert body
    assert fetch(server.url("/Trang/ChiTietTinTuc.aspx?nid=1872&CateID=99"))[0] == 404


def test_snapshot_404_line_serves_its_own_body(replay: ReplayFactory) -> None:
    server = replay("anbien")
    status, _, body = fetch(server.url("/Trang/ChiTietTinTuc.aspx?nid=1809&CateID=12"))
    assert status == 404
    assert body == (ANBIEN / "pages" / "404.html").read_bytes()


def test_query_in_another_order_still_matches(replay: ReplayFactory) -> None:
    server = replay("anbien")
    status, _, body = fetch(server.url("/Trang/ChiTietTinTuc.aspx?CateID=12&nid=1872"))
    assert status == 200
    assert body == (ANBIEN / "pages" / "chitiet-nid1872.html").read_bytes()


def test_head_sends_headers_only(replay: ReplayFactory) -> None:
    server = replay("anbien")
    status, headers, body = fetch(server.url("/robots.txt"), method="HEAD")
    assert status == 200
    assert body == b""
    assert int(headers["Content-Length"]) == len((ANBIEN / "pages/static/robots.txt").read_bytes())


def test_later_state_serves_later_responses(replay: ReplayFactory) -> None:
    server = replay("anbien", state="later")
    status, _, body = fetch(server.url("/Trang/ChiTietTinTuc.aspx?nid=1881&CateID=12"))
    assert status == 200
    line = next(ln for ln in lines_of(ANBIEN, later=True) if "nid=1881&" in ln["path"])
    assert body == (ANBIEN / line["body"]).read_bytes()
    assert fetch(server.url("/Trang/ChiTietTinTuc.aspx?nid=1760&CateID=12"))[0] == 404


def test_switch_state_in_place(replay: ReplayFactory) -> None:
    server = replay("anbien")
    removed = server.url("/Trang/ChiTietTinTuc.aspx?nid=1760&CateID=12")
    new = server.url("/Trang/ChiTietTinTuc.aspx?nid=1881&CateID=12")
    assert (fetch(removed)[0], fetch(new)[0]) == (200, 404)
    server.switch_state("later")
    assert server.state == "later"
    assert (fetch(removed)[0], fetch(new)[0]) == (404, 200)


def test_request_log_records_what_was_asked(replay: ReplayFactory) -> None:
    server = replay("anbien")
    fetch(server.url("/robots.txt"))
    fetch(server.url("/Trang/TinTuc.aspx?CateID=12"), data={"__EVENTTARGET": PAGER, "a": "1"})
    fetch(server.url("/missing"), method="HEAD")
    assert server.requests == [
        RecordedRequest("GET", "/robots.txt", {}),
        RecordedRequest("POST", "/Trang/TinTuc.aspx?CateID=12", {"__EVENTTARGET": PAGER, "a": "1"}),
        RecordedRequest("HEAD", "/missing", {}),
    ]
    server.clear_requests()
    assert server.requests == []


def test_rewrite_base_url(replay: ReplayFactory) -> None:
    server = replay("anbien", rewrite_base_url=True)
    assert server.base_url == "https://anbien.kiengiang.gov.vn"
    _, _, body = fetch(server.url("/Trang/ChiTietTinTuc.aspx?nid=1872&CateID=12"))
    original = (ANBIEN / "pages" / "chitiet-nid1872.html").read_bytes()
    assert b"https://anbien.kiengiang.gov.vn" in original
    assert b"https://anbien.kiengiang.gov.vn" not in body
    assert body == original.replace(b"https://anbien.kiengiang.gov.vn", server.origin.encode())
    # Binary bodies are never touched.
    pdf = "/Lists/TinTuc/Attachments/1838/KH%2087-KH-UBND%20PCTT%202020.pdf"
    line = next(ln for ln in lines_of(ANBIEN) if ln["path"] == pdf)
    assert fetch(server.url(pdf))[2] == (ANBIEN / line["body"]).read_bytes()


def test_content_type_without_charset_is_served_as_given(replay: ReplayFactory) -> None:
    snapshot = FIXTURES_DIR / "trieuson"
    line = next(ln for ln in lines_of(snapshot) if ln["headers"].get("Content-Type") == "text/html")
    server = replay("trieuson")
    status, headers, body = fetch(server.url(line["path"]))
    assert status == line["status"]
    assert headers["Content-Type"] == "text/html"
    assert body == (snapshot / line["body"]).read_bytes()


def test_concurrent_requests(replay: ReplayFactory) -> None:
    server = replay("anbien")
    paths = [ln["path"] for ln in lines_of(ANBIEN) if ln["method"] == "GET"] * 3
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda p: fetch(server.url(p))[0], paths))
    assert len(results) == len(paths)
    assert results.count(503) == 1  # the "times": 1 line fails exactly once, whatever the order
    assert len(server.requests) == len(paths)


def test_context_manager_frees_the_port() -> None:
    with ReplayServer(ANBIEN) as server:
        assert server.origin.startswith("http://127.0.0.1:")
        assert server.port > 0
        assert fetch(server.url("/robots.txt"))[0] == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url("/robots.txt"), timeout=2)


def test_stop_hangs_up_keep_alive_connections() -> None:
    server = ReplayServer(ANBIEN).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", "/robots.txt")
        response = connection.getresponse()
        assert response.status == 200
        response.read()
        server.stop()
        with pytest.raises((http.client.HTTPException, OSError)):
            connection.request("GET", "/robots.txt")
            connection.getresponse()
    finally:
        connection.close()
        server.stop()


@pytest.mark.parametrize("portal_id", SNAPSHOT_IDS)
@pytest.mark.parametrize("later", [False, True], ids=["initial", "later"])
def test_every_line_is_served_as_recorded(
    replay: ReplayFactory, portal_id: str, later: bool
) -> None:
    snapshot = FIXTURES_DIR / portal_id
    server = replay(portal_id, state="later" if later else "initial")
    for line in lines_of(snapshot, later):
        data = line.get("form") if line["method"] == "POST" else None
        status, headers, body = fetch(server.url(line["path"]), data=data or None)
        assert status == line["status"], line["path"]
        expected = (snapshot / line["body"]).read_bytes() if "body" in line else b""
        assert body == expected, line["path"]
        if "Location" in line["headers"]:
            assert headers["Location"] == line["headers"]["Location"]
