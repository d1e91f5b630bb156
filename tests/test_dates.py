"""Vietnamese date parsing: visible date lines, long texts and machine-readable values."""

from __future__ import annotations

import pytest

from portal_crawler.parsing.dates import find_dates, parse_date_text, parse_meta_datetime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Date lines of the five snapshot CMS families.
        ("(10:40 | 03/08/2020)", "2020-08-03T10:40:00+07:00"),
        ("Thứ Hai, 03/08/2020, 10:40 (GMT+7)", "2020-08-03T10:40:00+07:00"),
        ("Thứ hai - 03/08/2020 10:40", "2020-08-03T10:40:00+07:00"),
        ("Đăng ngày 29/05/2020", "2020-05-29"),
        ("Đăng ngày: 29/05/2020 | 08:15", "2020-05-29T08:15:00+07:00"),
        ("Đăng ngày 29/05/2020 08:15", "2020-05-29T08:15:00+07:00"),
        ("03/08/2020 | Lượt xem: 12", "2020-08-03"),
        ("03/08/2020 10:40 | Lượt xem: 12", "2020-08-03T10:40:00+07:00"),
        ("16:45:03 | 20/06/2023", "2023-06-20T16:45:03+07:00"),
        # Other spellings seen on Vietnamese portals.
        ("ngày 3 tháng 8 năm 2020", "2020-08-03"),
        ("Ngày 03 tháng 08 năm 2020 lúc 10 giờ 40", "2020-08-03T10:40:00+07:00"),
        ("NGÀY 3 THÁNG 8 NĂM 2020", "2020-08-03"),
        ("03-08-2020", "2020-08-03"),
        ("03.08.2020", "2020-08-03"),
        ("3/8/20", "2020-08-03"),
        ("3/8/2020", "2020-08-03"),
        ("03/08/2020 10:40 SA", "2020-08-03T10:40:00+07:00"),
        ("03/08/2020 02:15 CH", "2020-08-03T14:15:00+07:00"),
        ("03/08/2020 12:05 SA", "2020-08-03T00:05:00+07:00"),
        ("03/08/2020 12:05 CH", "2020-08-03T12:05:00+07:00"),
        ("3/8/2020 2:15:09 PM", "2020-08-03T14:15:09+07:00"),
        ("10h40 ngày 3/8/2020", "2020-08-03T10:40:00+07:00"),
        ("03/08/2020 - 10h40", "2020-08-03T10:40:00+07:00"),
        ("Cập nhật lúc 8h, ngày 3/8/2020", "2020-08-03T08:00:00+07:00"),
        ("03/08/2020 lúc 10:40", "2020-08-03T10:40:00+07:00"),
        ("Chủ nhật, 2/8/2020", "2020-08-02"),
        ("CN, 02/08/2020 07:05", "2020-08-02T07:05:00+07:00"),
        ("2020-08-03 10:40", "2020-08-03T10:40:00+07:00"),
        ("2020-08-03T10:40:15", "2020-08-03T10:40:15+07:00"),
        ("2020/08/03", "2020-08-03"),
        ("[03/08/2020 10:40]", "2020-08-03T10:40:00+07:00"),
        ("August 3, 2020 10:40 AM", "2020-08-03T10:40:00+07:00"),
        ("3 Aug 2020", "2020-08-03"),
        ("29/02/2020", "2020-02-29"),
        ("3/8/2020 lúc 2 giờ chiều", "2020-08-03T14:00:00+07:00"),
        ("3/8/2020 8h sáng", "2020-08-03T08:00:00+07:00"),
        # A sentence starting after the time is not an AM/PM marker.
        ("Thứ ba - 12/03/2019 15:00 Sáng 11/3/2019, UBND xã", "2019-03-12T15:00:00+07:00"),
        ("03/08/2020 12:30 Sáng nay, UBND xã", "2020-08-03T12:30:00+07:00"),
        # An impossible time does not spoil the date.
        ("03/08/2020 25:00", "2020-08-03"),
        ("03/08/2020 10:75", "2020-08-03"),
        # The first date wins.
        ("03/08/2020 10:40 - cập nhật 05/08/2020 09:00", "2020-08-03T10:40:00+07:00"),
    ],
)
def test_parse_date_text(text, expected):
    assert parse_date_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Lượt xem: 12",
        "13/13/2020",
        "32/01/2020",
        "29/02/2021",
        "00/08/2020",
        "03/08/1989",
        "03/08/2101",
        "12/KH-UBND",
        "Kế hoạch số 12/KH-UBND ngày",
        "Nghị định số 15/2020/NĐ-CP",
        "Điện thoại: 0297.3851.234",
        "Hotline: 091.234.56.78",
        "ĐT: 0913 123 456",
        "Tỷ lệ 10:40 phiếu",
    ],
)
def test_parse_date_text_rejects_non_dates(text):
    assert parse_date_text(text) is None


def test_day_first_never_month_first():
    assert parse_date_text("08/03/2020") == "2020-03-08"
    assert parse_date_text("12/25/2020") is None


def test_view_counter_is_not_a_time():
    assert parse_date_text("20/06/2023 | Lượt xem: 16") == "2023-06-20"
    assert parse_date_text("Lượt xem: 12 | 20/06/2023") == "2023-06-20"


def test_custom_offset():
    assert parse_date_text("03/08/2020 10:40", "+0530") == "2020-08-03T10:40:00+05:30"
    assert parse_date_text("03/08/2020 10:40", "Z") == "2020-08-03T10:40:00+00:00"


def test_find_dates_reports_offsets_in_the_original_text():
    text = "Tin mới: Hội nghị (10:40 | 03/08/2020) Tin khác: Đại hội (11:00 | 04/08/2020)"
    found = find_dates(text)
    assert found == [
        (text.index("10:40"), "2020-08-03T10:40:00+07:00"),
        (text.index("11:00"), "2020-08-04T11:00:00+07:00"),
    ]


def test_find_dates_time_after_each_date():
    text = "03/08/2020 10:40 Hội nghị; 04/08/2020 11:20 Đại hội; 05/08/2020"
    assert find_dates(text) == [
        (0, "2020-08-03T10:40:00+07:00"),
        (text.index("04/08"), "2020-08-04T11:20:00+07:00"),
        (text.index("05/08"), "2020-08-05"),
    ]


def test_find_dates_offsets_with_decomposed_text():
    text = "Thu\u031b\u0301 Hai, 03/08/2020"
    assert find_dates(text) == [(text.index("03"), "2020-08-03")]


def test_find_dates_skips_document_numbers():
    text = "Thực hiện Kế hoạch số 12/KH-UBND ngày 15/7/2020 của UBND huyện"
    assert find_dates(text) == [(text.index("15/7"), "2020-07-15")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-08-03T10:40:00+07:00", "2020-08-03T10:40:00+07:00"),
        ("2020-08-03T03:40:00Z", "2020-08-03T10:40:00+07:00"),
        ("2020-08-02T20:00:00Z", "2020-08-03T03:00:00+07:00"),
        ("2020-08-02T22:40:00-05:00", "2020-08-03T10:40:00+07:00"),
        ("2020-08-03T10:40:00.123+0700", "2020-08-03T10:40:00+07:00"),
        ("2020-08-03T10:40+07:00", "2020-08-03T10:40:00+07:00"),
        ("2020-08-03 10:40:00", "2020-08-03T10:40:00+07:00"),
        (" 2020-08-03 ", "2020-08-03"),
        ("2020-08-03", "2020-08-03"),
    ],
)
def test_parse_meta_datetime(value, expected):
    assert parse_meta_datetime(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2020-08-03ICT10:40:00",
        "Mon, 03 Aug 2020 03:08:00 GMT",
        "03/08/2020 10:40",
        "2020-13-03",
        "2020-02-30T10:00:00",
        "2020-08-03T25:00:00",
        "0000-00-00 00:00:00",
        "1970-01-01T00:00:00Z",
        "",
        "garbage",
        None,
    ],
)
def test_parse_meta_datetime_rejects_malformed(value):
    assert parse_meta_datetime(value) is None
