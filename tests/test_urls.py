"""URL canonicalisation and the host/origin helpers."""

from __future__ import annotations

import pytest

from portal_crawler.urls import canonicalize_url, host_of, is_http_url, rebase_url, same_host


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # Case, default ports, fragments.
        (
            "HTTPS://AnBien.KienGiang.Gov.VN/Trang/x.aspx",
            "https://anbien.kiengiang.gov.vn/Trang/x.aspx",
        ),
        ("https://x.gov.vn:443/a", "https://x.gov.vn/a"),
        ("http://x.gov.vn:80/a", "http://x.gov.vn/a"),
        ("https://x.gov.vn:80/a", "https://x.gov.vn:80/a"),
        ("http://127.0.0.1:8123/a", "http://127.0.0.1:8123/a"),
        ("https://x.gov.vn/a#comments", "https://x.gov.vn/a"),
        ("https://x.gov.vn", "https://x.gov.vn/"),
        ("https://x.gov.vn/a?", "https://x.gov.vn/a"),
        ("https://x.gov.vn/a?&", "https://x.gov.vn/a"),
        # SharePoint: Source= is navigation, nid/CateID select the article.
        (
            "https://anbien.kiengiang.gov.vn/Trang/ChiTietTinTuc.aspx?nid=1851&CateID=12"
            "&Source=%2FTrang%2FTinTuc.aspx%3FCateID%3D12",
            "https://anbien.kiengiang.gov.vn/Trang/ChiTietTinTuc.aspx?nid=1851&CateID=12",
        ),
        ("https://x.gov.vn/p.aspx?source=/a&ItemID=5", "https://x.gov.vn/p.aspx?ItemID=5"),
        # Liferay: jsessionid path parameter and redirect=.
        (
            "https://hailang.quangtri.gov.vn/chi-tiet-tin/-/view-article/1/1465264758932/"
            "1650000000000;jsessionid=8F3A2B1C9D.node1",
            "https://hailang.quangtri.gov.vn/chi-tiet-tin/-/view-article/1/1465264758932/"
            "1650000000000",
        ),
        ("https://x.gov.vn/a;JSESSIONID=abc?x=1", "https://x.gov.vn/a?x=1"),
        (
            "https://x.gov.vn/chi-tiet-tin/-/view-article/1/2/3?redirect=%2Fhoat-dong-dia-phuong",
            "https://x.gov.vn/chi-tiet-tin/-/view-article/1/2/3",
        ),
        (
            "https://x.gov.vn/c?_101_INSTANCE_Xk4Pb_redirect=%2Fa&p_p_id=101_INSTANCE_Xk4Pb",
            "https://x.gov.vn/c?p_p_id=101_INSTANCE_Xk4Pb",
        ),
        # Liferay pagination parameters select content and keep their order.
        (
            "https://x.gov.vn/hoat-dong-dia-phuong?p_p_id=101_INSTANCE_Xk4Pb&p_p_lifecycle=0"
            "&_101_INSTANCE_Xk4Pb_delta=3&_101_INSTANCE_Xk4Pb_cur=2",
            "https://x.gov.vn/hoat-dong-dia-phuong?p_p_id=101_INSTANCE_Xk4Pb&p_p_lifecycle=0"
            "&_101_INSTANCE_Xk4Pb_delta=3&_101_INSTANCE_Xk4Pb_cur=2",
        ),
        (
            "https://x.gov.vn/Article/ViewPost.aspx?pageid=21&ItemID=2011&mid=65",
            "https://x.gov.vn/Article/ViewPost.aspx?pageid=21&ItemID=2011&mid=65",
        ),
        ("https://x.gov.vn/a?id=3&pageid=2", "https://x.gov.vn/a?id=3&pageid=2"),
        # Tracking parameters.
        (
            "https://x.gov.vn/hoat-dong-dia-phuong/bai-2011"
            "?utm_source=zalo&utm_medium=social&utm_campaign=chiasezalo",
            "https://x.gov.vn/hoat-dong-dia-phuong/bai-2011",
        ),
        ("https://x.gov.vn/a.html?zarsrc=31&utm_source=zalo", "https://x.gov.vn/a.html"),
        ("https://x.gov.vn/a?fbclid=IwAR0x&gclid=1&id=7", "https://x.gov.vn/a?id=7"),
        ("https://x.gov.vn/a?_hsenc=1&mc_cid=2&mc_eid=3&UTM_Source=4", "https://x.gov.vn/a"),
        ("https://x.gov.vn/a?ReturnUrl=%2Fb&PageIndex=2", "https://x.gov.vn/a?PageIndex=2"),
        ("https://x.gov.vn/a?PHPSESSID=abc&page=2", "https://x.gov.vn/a?page=2"),
        # Percent-encoding: spaces, non-ASCII, escape case; reserved escapes stay encoded.
        (
            "https://x.gov.vn/PublishingImages/Tin tuc/anh 1.jpg",
            "https://x.gov.vn/PublishingImages/Tin%20tuc/anh%201.jpg",
        ),
        ("https://x.gov.vn/Photos/a%20(1).jpg", "https://x.gov.vn/Photos/a%20(1).jpg"),
        ("https://x.gov.vn/ảnh.jpg", "https://x.gov.vn/%E1%BA%A3nh.jpg"),
        ("https://x.gov.vn/%e1%ba%a3nh.jpg", "https://x.gov.vn/%E1%BA%A3nh.jpg"),
        ("https://x.gov.vn/a%2fb", "https://x.gov.vn/a%2Fb"),
        (
            "https://x.gov.vn/s?q=tin tức&x=a%2Bb+c",
            "https://x.gov.vn/s?q=tin%20t%E1%BB%A9c&x=a%2Bb+c",
        ),
        ("https://x.gov.vn/a?u=%2Fb%3Fc%3D1", "https://x.gov.vn/a?u=%2Fb%3Fc%3D1"),
        ("https://x.gov.vn/100%", "https://x.gov.vn/100%25"),
        # Dot segments, cookieless ASP.NET sessions, relative URLs.
        ("https://x.gov.vn/a/./b/../c", "https://x.gov.vn/a/c"),
        ("https://x.gov.vn/(S(abc123def456))/default.aspx", "https://x.gov.vn/default.aspx"),
        ("/Trang/TinTuc.aspx?CateID=12&Source=x", "/Trang/TinTuc.aspx?CateID=12"),
    ],
)
def test_canonicalize_url(url, expected):
    assert canonicalize_url(url) == expected


def test_canonicalize_url_is_idempotent():
    url = "HTTPS://X.gov.vn:443/Tin tuc/ảnh.jpg?a=1&utm_source=z&b=tin tức#f"
    once = canonicalize_url(url)
    assert canonicalize_url(once) == once


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.gov.vn/a", True),
        ("HTTP://x.gov.vn", True),
        ("  http://x.gov.vn/a  ", True),
        ("javascript:__doPostBack('ctl00$x','')", False),
        ("javascript:;", False),
        ("mailto:ubnd@x.gov.vn", False),
        ("tel:02973851234", False),
        ("data:image/png;base64,AAAA", False),
        ("file:///C:/a.doc", False),
        ("ftp://x.gov.vn/a.pdf", False),
        ("/relative/path", False),
        ("http://", False),
        ("", False),
    ],
)
def test_is_http_url(url, expected):
    assert is_http_url(url) is expected


def test_host_of():
    assert host_of("https://AnBien.KienGiang.gov.vn:8443/a") == "anbien.kiengiang.gov.vn"
    assert host_of("http://127.0.0.1:8123/x") == "127.0.0.1"
    assert host_of("/relative") == ""
    assert host_of("") == ""


def test_same_host():
    hosts = ["anbien.kiengiang.gov.vn", "127.0.0.1"]
    assert same_host("https://ANBIEN.kiengiang.gov.vn/Trang/x.aspx", hosts)
    assert same_host("http://127.0.0.1:8123/a", hosts)
    assert not same_host("https://kiengiang.gov.vn/a", hosts)
    assert not same_host("https://evil.example/anbien.kiengiang.gov.vn", hosts)
    assert same_host("http://127.0.0.1:9/a", ["http://127.0.0.1:8123"])
    assert not same_host("/relative", hosts)


def test_rebase_url():
    live = "https://anbien.kiengiang.gov.vn"
    mirror = "http://127.0.0.1:8123"
    assert rebase_url(f"{mirror}/Trang/a.aspx?nid=1#x", mirror, live) == (
        f"{live}/Trang/a.aspx?nid=1#x"
    )
    assert rebase_url(f"{live}/Trang/a.aspx", live + "/", mirror) == f"{mirror}/Trang/a.aspx"
    assert rebase_url("HTTPS://AnBien.KienGiang.gov.vn:443/a", live, mirror) == f"{mirror}/a"
    # Another port, host or scheme is another origin: left alone.
    assert rebase_url("http://127.0.0.1:8124/a", mirror, live) == "http://127.0.0.1:8124/a"
    assert rebase_url("https://other.gov.vn/a", live, mirror) == "https://other.gov.vn/a"
    assert rebase_url("http://anbien.kiengiang.gov.vn/a", live, mirror) == (
        "http://anbien.kiengiang.gov.vn/a"
    )
    assert rebase_url("/relative", live, mirror) == "/relative"
