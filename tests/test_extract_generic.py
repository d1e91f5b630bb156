"""The generic extractor on hand-written pages of CMS families absent from the snapshots."""

from __future__ import annotations

from portal_crawler.parsing import parse_article

BASE = "https://xa-demo.tinh.gov.vn"

PARA_1 = (
    "Sáng 12/5, Ủy ban nhân dân xã tổ chức hội nghị sơ kết công tác 6 tháng đầu năm, "
    "triển khai nhiệm vụ trọng tâm 6 tháng cuối năm 2023 với sự tham dự của đại diện các "
    "ban, ngành, đoàn thể và trưởng các thôn trên địa bàn."
)
PARA_2 = (
    "Theo báo cáo, 6 tháng đầu năm, tổng giá trị sản xuất trên địa bàn đạt 215 tỷ đồng, "
    "tăng 8,2% so với cùng kỳ; thu ngân sách đạt 62% dự toán; công tác cải cách hành chính, "
    "chuyển đổi số được quan tâm thực hiện."
)
PARA_3 = (
    "Phát biểu kết luận hội nghị, Chủ tịch UBND xã đề nghị các đơn vị tập trung khắc phục "
    "hạn chế, đẩy mạnh phát triển sản xuất, bảo đảm an ninh trật tự trên địa bàn."
)
LEAD = (
    "Hội nghị đánh giá kết quả thực hiện nhiệm vụ phát triển kinh tế - xã hội 6 tháng đầu "
    "năm và đề ra giải pháp cho những tháng cuối năm."
)
TITLE = "Xã Demo sơ kết công tác 6 tháng đầu năm 2023"


def portal(article_html: str, *, head: str = "") -> bytes:
    """A whole portal page: header with today's date, menu, sidebars, footer."""
    return f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<title>{TITLE} - Cổng thông tin điện tử xã Demo</title>{head}</head>
<body>
<div id="header"><div class="logo"><a href="/">Cổng thông tin điện tử xã Demo</a></div>
<div class="today">Thứ Năm, 20/07/2023</div></div>
<ul class="menu"><li><a href="/">Trang chủ</a></li><li><a href="/tin-tuc">Tin tức</a></li></ul>
<div class="wrapper"><div class="main-col">
{article_html}
</div>
<div class="sidebar"><h3>Tin mới</h3><ul>
<li><a href="/tin-tuc/a-1.html">Ra quân tổng vệ sinh môi trường hưởng ứng ngày môi trường</a>
<span>(19/07/2023)</span></li>
<li><a href="/tin-tuc/a-2.html">Tập huấn kỹ năng số cho tổ công nghệ số cộng đồng năm 2023</a>
<span>(18/07/2023)</span></li></ul></div></div>
<div id="footer"><p>Cơ quan chủ quản: UBND xã Demo. Địa chỉ: thôn Trung tâm, xã Demo.</p>
<p>Giấy phép số 12/GP-TTĐT cấp ngày 01/01/2020.</p></div>
</body></html>""".encode()


def parse(article_html: str, path: str = "/tin-tuc/bai-viet-123.html", **kw):
    return parse_article(BASE + path, portal(article_html, head=kw.pop("head", "")), **kw)


def test_wordpress_entry():
    html = f"""
<article class="post-123 post type-post">
  <header class="entry-header"><h1 class="entry-title">{TITLE}</h1>
  <div class="entry-meta"><span class="posted-on"><a href="/2023/07/">
   <time class="entry-date published" datetime="2023-07-14T09:05:00+07:00">14/07/2023</time>
   </a></span>
   <span class="byline">bởi <a href="/author/admin">admin</a></span></div></header>
  <div class="entry-content">
    <p><strong>{LEAD}</strong></p>
    <figure class="wp-block-image"><img src="/wp-content/uploads/2023/07/hoi-nghi.jpg"
     alt=""><figcaption>Quang cảnh hội nghị sơ kết.</figcaption></figure>
    <p>{PARA_1}</p><p>{PARA_2}</p><p>&nbsp;</p><p>{PARA_3}</p>
    <p style="text-align: right;"><strong>Tin, ảnh: Minh Anh</strong></p>
  </div>
  <footer class="entry-footer"><span class="tags-links">Thẻ: <a href="/tag/x">hội nghị</a></span>
  </footer>
</article>
<div class="related-posts"><h3>Bài viết liên quan</h3><ul><li><a href="/b">Hội nghị
 tổng kết công tác năm 2022 và triển khai nhiệm vụ năm 2023</a> (02/01/2023)</li></ul></div>"""
    article = parse(html)
    assert article.title == TITLE
    assert article.published == "2023-07-14"
    assert article.lead == LEAD
    assert article.body == [PARA_1, PARA_2, PARA_3]
    assert [(i.src, i.caption) for i in article.images] == [
        (BASE + "/wp-content/uploads/2023/07/hoi-nghi.jpg", "Quang cảnh hội nghị sơ kết.")
    ]
    assert article.credit is not None and article.credit.raw == "Tin, ảnh: Minh Anh"
    assert article.credit.text_by == ["Minh Anh"] and article.credit.photo_by == ["Minh Anh"]
    assert article.attachments == []


def test_joomla_item_page():
    html = f"""
<div class="item-page" itemscope itemtype="https://schema.org/Article">
  <div class="page-header"><h2 itemprop="headline">{TITLE}</h2></div>
  <dl class="article-info muted"><dt class="article-info-term">Chi tiết</dt>
    <dd class="createdby">Viết bởi <span>Quản trị</span></dd>
    <dd class="published"><span class="icon-calendar"></span>
      <time datetime="2023-07-14T02:05:00+00:00" itemprop="datePublished">
      Ngày đăng: 14/07/2023 09:05</time></dd>
    <dd class="hits">Lượt xem: 321</dd></dl>
  <div itemprop="articleBody">
    <p>{PARA_1}</p>
    <p style="text-align: center;"><img src="images/tin-tuc/2023/hoi nghi.jpg" alt="" /></p>
    <p style="text-align: center;"><em>Đồng chí Chủ tịch UBND xã phát biểu tại hội nghị</em></p>
    <p>{PARA_2}</p><p>{PARA_3}</p>
    <p>File đính kèm: <a href="/images/files/bao-cao-6-thang.docx">Báo cáo số 45/BC-UBND</a></p>
    <p style="text-align: right;"><em>Nguồn: Báo Demo</em></p>
  </div>
  <ul class="pager pagenav"><li class="previous"><a href="/x">Trước</a></li></ul>
</div>"""
    article = parse(html, path="/index.php/tin-tuc/123-so-ket")
    assert article.title == TITLE
    assert article.published == "2023-07-14T09:05:00+07:00"
    assert article.lead is None
    assert article.body == [PARA_1, PARA_2, PARA_3]
    assert [(i.src, i.caption) for i in article.images] == [
        (
            BASE + "/index.php/tin-tuc/images/tin-tuc/2023/hoi%20nghi.jpg",
            "Đồng chí Chủ tịch UBND xã phát biểu tại hội nghị",
        )
    ]
    assert article.credit is not None and article.credit.source == ["Báo Demo"]
    assert [(a.url, a.name) for a in article.attachments] == [
        (BASE + "/images/files/bao-cao-6-thang.docx", "Báo cáo số 45/BC-UBND")
    ]


def test_dnn_easydnn_article():
    html = f"""
<div class="DnnModule DnnModule-EasyDNNnews"><div class="DNNContainer_noTitle">
<div id="dnn_ctr123_ContentPane"><div class="eds_news_Ozone">
<div class="edn_article edn_clearFix">
  <h1 class="edn_articleTitle">{TITLE}</h1>
  <div class="edn_metaDetails"><time class="edn_articleDate">Thứ sáu, 14/07/2023 | 09:05</time>
   <span class="edn_articleViews">Lượt xem: 88</span></div>
  <div class="edn_articleSummary"><p>{LEAD}</p></div>
  <div class="edn_articleContent Normal">
    <p>{PARA_1}</p>
    <table class="image center"><tbody><tr><td><img class="lazy"
      src="/Portals/0/images/loading.gif"
      data-original="/Portals/0/EasyDNNNews/55/hoi-nghi.jpg?ver=2" alt=""></td></tr>
      <tr><td class="image_desc">Các đại biểu dự hội nghị.</td></tr></tbody></table>
    <p>{PARA_2}</p><p>{PARA_3}</p>
    <p style="text-align:right"><b>Văn Minh</b> <i>(Văn phòng HĐND-UBND xã)</i></p>
  </div>
  <div class="edn_articleDocuments"><h3>Tài liệu</h3><ul><li>
    <a href="javascript:void(0)"
       onclick="downloadFile(55, '/Portals/0/EasyDNNNews/Documents/55/ke-hoach.pdf')">
    Tập tin : Kế hoạch số 12/KH-UBND</a></li></ul></div>
  <div class="edn_socialPrintWrapper"><a href="#">In bài viết</a></div>
</div></div></div></div></div>
<div class="edn_relatedArticles"><h3>Tin khác</h3><ul><li><a href="/c">Tin khác cũ hơn về
 hội nghị tổng kết năm 2022 của xã Demo</a> <span>14/01/2023</span></li></ul></div>"""
    article = parse(html, path="/tin-tuc/ArticleID/55/so-ket")
    assert article.title == TITLE
    assert article.published == "2023-07-14T09:05:00+07:00"
    assert article.lead == LEAD
    assert article.body == [PARA_1, PARA_2, PARA_3]
    assert [(i.src, i.caption) for i in article.images] == [
        (BASE + "/Portals/0/EasyDNNNews/55/hoi-nghi.jpg?ver=2", "Các đại biểu dự hội nghị.")
    ]
    assert article.credit is not None
    assert article.credit.raw == "Văn Minh (Văn phòng HĐND-UBND xã)"
    assert article.credit.text_by == ["Văn Minh"]
    assert [(a.url, a.name) for a in article.attachments] == [
        (BASE + "/Portals/0/EasyDNNNews/Documents/55/ke-hoach.pdf", "Kế hoạch số 12/KH-UBND")
    ]


def test_vnpt_news_detail_with_author_box():
    html = f"""
<div class="breadcrumb"><a href="/">Trang chủ</a> / <a href="/tin-tuc">Tin tức - Sự kiện</a></div>
<div class="news-detail">
  <h1 class="title-detail">{TITLE}</h1>
  <div class="date-detail"><i class="fa fa-clock-o"></i> 09:05 | 14/07/2023</div>
  <div class="sapo-detail"><img src="/Uploads/images/2023/07/anh-dai-dien.jpg" width="300">
    {LEAD}</div>
  <div class="detail-content">
    <div>{PARA_1}</div><div>{PARA_2}</div><div>&nbsp;</div><div>{PARA_3}</div>
  </div>
  <div class="author-detail">Tác giả: Hoàng Lan</div>
  <div class="tin-lien-quan"><h3>Tin liên quan</h3><ul><li><a href="/d">Tin liên quan
   đến hội nghị sơ kết công tác năm 2022</a> (10/07/2022)</li></ul></div>
</div>"""
    article = parse(html)
    assert article.title == TITLE
    assert article.published == "2023-07-14T09:05:00+07:00"
    assert article.lead == LEAD
    assert article.body == [PARA_1, PARA_2, PARA_3]
    assert [i.src for i in article.images] == [BASE + "/Uploads/images/2023/07/anh-dai-dien.jpg"]
    assert article.credit is not None and article.credit.text_by == ["Hoàng Lan"]
    assert article.section == "Tin tức - Sự kiện"


def test_nukeviet_visible_date_beats_microdata():
    head = '<meta property="article:published_time" content="2023-07-14ICT09:05:00">'
    html = f"""
<div class="news_column panel panel-default" itemscope itemtype="http://schema.org/NewsArticle">
 <div class="panel-body">
  <h1 class="title margin-bottom-lg" itemprop="headline">{TITLE}</h1>
  <span class="hidden d-none" itemprop="datePublished" content="2023-07-16T11:00:00+07:00"></span>
  <div class="row"><div class="col-md-12"><span class="h5">Thứ sáu - 14/07/2023 09:05</span></div>
  <div class="col-md-12"><ul class="list-inline text-right"><li><a href="#">In ra</a></li></ul>
  </div></div>
  <div class="clearfix"><div class="hometext m-bottom" itemprop="description">{LEAD}</div>
   <figure class="article center">
   <img alt="" src="/uploads/news/2023_07/a.jpg" class="img-thumbnail">
   <figcaption>Quang cảnh hội nghị</figcaption></figure></div>
  <div id="news-bodyhtml" class="bodytext margin-bottom-lg">
   <p>{PARA_1}</p><p>{PARA_2}</p><p>{PARA_3}</p>
   <p style="text-align:right"><strong>Bài, ảnh: Lò Văn Sơn</strong></p>
  </div>
  <div class="panel panel-default"><div class="panel-heading"><strong>File đính kèm</strong></div>
   <div class="list-group news-download-file"><div class="list-group-item">
   <a href="/uploads/news/2023_07/bao-cao.xlsx" title="Tập tin bao-cao.xlsx" download>Tập tin :
   <strong>bao-cao.xlsx</strong></a></div></div></div>
 </div>
</div>"""
    article = parse(html, path="/vi/news/tin-tuc/so-ket-6-thang-123.html", head=head)
    assert article.title == TITLE
    assert article.published == "2023-07-14T09:05:00+07:00"
    assert article.lead == LEAD
    assert article.body == [PARA_1, PARA_2, PARA_3]
    assert [(i.src, i.caption) for i in article.images] == [
        (BASE + "/uploads/news/2023_07/a.jpg", "Quang cảnh hội nghị")
    ]
    assert article.credit is not None and article.credit.raw == "Bài, ảnh: Lò Văn Sơn"
    assert [(a.url, a.name) for a in article.attachments] == [
        (BASE + "/uploads/news/2023_07/bao-cao.xlsx", "bao-cao.xlsx")
    ]


def test_plain_table_layout_with_line_breaks():
    html = f"""
<table width="100%" class="tbl-main"><tr><td valign="top">
<table width="100%"><tr><td class="title_news"><b>{TITLE}</b></td></tr>
<tr><td class="date_news">Cập nhật lúc: 09:05 ngày 14/07/2023</td></tr>
<tr><td class="content_news">{PARA_1}<br><br>{PARA_2}<br>
<img src="/Images/news/anh 1.jpg" border="0"><br>
<i>Ảnh: Các đại biểu biểu quyết thông qua nghị quyết</i>
<br><br>{PARA_3}<br><br><div align="right"><b>Theo Báo Demo</b></div></td></tr></table>
</td></tr></table>"""
    article = parse(html, path="/ChiTiet.asp?id=123")
    assert article.title == TITLE
    assert article.published == "2023-07-14T09:05:00+07:00"
    assert article.body == [PARA_1, PARA_2, PARA_3]
    assert [(i.src, i.caption) for i in article.images] == [
        (BASE + "/Images/news/anh%201.jpg", "Ảnh: Các đại biểu biểu quyết thông qua nghị quyết")
    ]
    assert article.credit is not None and article.credit.source == ["Báo Demo"]


def test_lazy_image_placeholder_and_caption_block():
    html = f"""
<div class="article-detail"><h2 class="article-title">{TITLE}</h2>
<p class="article-date">Ngày 14/07/2023</p>
<div class="article-body">
<p>{PARA_1}</p>
<p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="/media/anh-2.png" alt=""></p>
<div class="img-title">Lãnh đạo xã trao giấy khen cho các tập thể</div>
<p>{PARA_2}</p>
<p><img src="/media/anh-3.jpg"></p>
<p>{PARA_3}</p>
</div></div>"""
    article = parse(html)
    assert article.published == "2023-07-14"
    assert [(i.src, i.caption) for i in article.images] == [
        (BASE + "/media/anh-2.png", "Lãnh đạo xã trao giấy khen cho các tập thể"),
        (BASE + "/media/anh-3.jpg", None),
    ]
    assert article.body == [PARA_1, PARA_2, PARA_3]


def test_canonical_and_rebase():
    head = (
        '<link rel="canonical" href="http://127.0.0.1:8123/tin-tuc/bai-viet-123.html'
        '?utm_source=zalo">'
    )
    html = f"""<div class="news-detail"><h1>{TITLE}</h1><div class="date">14/07/2023</div>
<div class="content"><p>{PARA_1}</p><p><img src="http://127.0.0.1:8123/a.jpg"></p>
<p>{PARA_2}</p></div></div>"""

    def rebase(url: str) -> str:
        return url.replace("http://127.0.0.1:8123", BASE)

    article = parse(
        html, path="/tin-tuc/bai-viet-123.html?utm_medium=social", head=head, rebase=rebase
    )
    assert article.url == BASE + "/tin-tuc/bai-viet-123.html"
    assert [i.src for i in article.images] == [BASE + "/a.jpg"]


def test_canonical_to_listing_is_ignored():
    head = f'<link rel="canonical" href="{BASE}/tin-tuc">'
    html = f"""<div class="news-detail"><h1>{TITLE}</h1><div class="content">
<p>{PARA_1}</p><p>{PARA_2}</p></div></div>"""
    article = parse(html, path="/tin-tuc/bai-viet-123.html", head=head)
    assert article.url == BASE + "/tin-tuc/bai-viet-123.html"


def test_static_title_tag_does_not_win():
    page = f"""<html><head><title>Chi tiết tin tức</title></head><body>
<div class="detail"><p class="detail-title">{TITLE}</p>
<span class="detail-date">(09:05 | 14/07/2023)</span>
<div class="detail-content"><p>{PARA_1}</p><p>{PARA_2}</p></div></div></body></html>"""
    article = parse_article(BASE + "/tin/1", page.encode())
    assert article.title == TITLE
    assert article.published == "2023-07-14T09:05:00+07:00"


def test_never_raises_on_garbage():
    for body in (
        b"",
        b"\x00\xff\xfe" * 50,
        b"<html",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
        b"<" * 5000,
    ):
        article = parse_article(BASE + "/x?utm_source=a", body, {"Content-Type": "text/html"})
        assert article.url == BASE + "/x"
        assert article.body == []


def test_headline_inside_the_body_container():
    html = f"""<div class="noidung">
<h1>{TITLE}</h1><p class="ngay-dang">14/07/2023 09:05</p>
<p class="tomtat">{LEAD}</p>
<p>Ngày 14/7, xã tổ chức hội nghị.</p>
<p>{PARA_1}</p><p>{PARA_2}</p><p>{PARA_3}</p>
<p style="text-align:right"><em>Nguồn tin: Đài Truyền thanh xã</em></p>
</div>"""
    article = parse(html)
    assert article.title == TITLE
    assert article.published == "2023-07-14T09:05:00+07:00"
    assert article.lead == LEAD
    assert article.body == ["Ngày 14/7, xã tổ chức hội nghị.", PARA_1, PARA_2, PARA_3]
    assert article.credit is not None and article.credit.source == ["Đài Truyền thanh xã"]


def test_date_above_the_headline():
    html = f"""<div class="tin-chi-tiet"><div class="ngay">Thứ sáu, 14/07/2023</div>
<h2 class="tieu-de">{TITLE}</h2>
<div class="noi-dung"><p>{PARA_1}</p><p>{PARA_2}</p></div></div>"""
    article = parse(html)
    assert article.title == TITLE
    assert article.published == "2023-07-14"
    assert article.body == [PARA_1, PARA_2]
