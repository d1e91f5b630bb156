"""parse_credit: every by-line of the gold snapshots, label variants and non-credit lines."""

from __future__ import annotations

import pytest

from portal_crawler.parsing.article import Credit
from portal_crawler.parsing.credit import parse_credit

# Every distinct gold credit of the shared snapshots (raw, text_by, photo_by, source),
# copied here because a fresh clone has no snapshots.
GOLD_CREDITS = [
    ("Lâm Thị Mỹ Duyên (Văn phòng HĐND-UBND huyện)", ["Lâm Thị Mỹ Duyên"], None, None),
    ("Tin: Kim Ngân - Ảnh: Hữu Nghĩa", ["Kim Ngân"], ["Hữu Nghĩa"], None),
    ("Tin, ảnh: Thanh Tùng", ["Thanh Tùng"], ["Thanh Tùng"], None),
    ("Nguồn: Báo Kiên Giang", None, None, ["Báo Kiên Giang"]),
    ("Bài, ảnh: Hồng Nhung", ["Hồng Nhung"], ["Hồng Nhung"], None),
    ("Bài, ảnh: Minh Khang", ["Minh Khang"], ["Minh Khang"], None),
    ("Tin: Ngọc Hân - Ảnh: Trung Kiên", ["Ngọc Hân"], ["Trung Kiên"], None),
    ("Tin, ảnh: Ngọc Hân", ["Ngọc Hân"], ["Ngọc Hân"], None),
    ("Hoàng Anh (Văn phòng HĐND-UBND huyện)", ["Hoàng Anh"], None, None),
    ("Tin và ảnh: Quốc Vương", ["Quốc Vương"], ["Quốc Vương"], None),
    ("Tin, ảnh: Hoàng Long", ["Hoàng Long"], ["Hoàng Long"], None),
    ("Tin: Phương Thảo - Ảnh: Đức Anh", ["Phương Thảo"], ["Đức Anh"], None),
    ("Tin và ảnh: Ngọc Trâm", ["Ngọc Trâm"], ["Ngọc Trâm"], None),
    ("Bài, ảnh: Thanh Hương", ["Thanh Hương"], ["Thanh Hương"], None),
    ("Nguồn: Báo Quảng Trị", None, None, ["Báo Quảng Trị"]),
    ("Tin: Minh Hiếu - Ảnh: Thu Hà", ["Minh Hiếu"], ["Thu Hà"], None),
    ("Lê Văn Thành (Văn phòng HĐND-UBND huyện)", ["Lê Văn Thành"], None, None),
    ("Bài, ảnh: Hoàng Nhật Minh", ["Hoàng Nhật Minh"], ["Hoàng Nhật Minh"], None),
    ("Tin và ảnh: Hữu Phúc, Minh Châu", ["Hữu Phúc", "Minh Châu"], ["Hữu Phúc", "Minh Châu"], None),
    ("Tin, ảnh: Thanh Tâm", ["Thanh Tâm"], ["Thanh Tâm"], None),
    ("Ngọc Hân (Văn phòng HĐND-UBND huyện)", ["Ngọc Hân"], None, None),
    (
        "Nguồn: Trung tâm Văn hóa - Thể thao và Truyền thanh huyện",
        None,
        None,
        ["Trung tâm Văn hóa - Thể thao và Truyền thanh huyện"],
    ),
    ("Tác giả: Minh Thư", ["Minh Thư"], None, None),
    ("Tin và ảnh: Hoàng Nam", ["Hoàng Nam"], ["Hoàng Nam"], None),
    (
        "Bài, ảnh: Kim Ngân, Thanh Bình",
        ["Kim Ngân", "Thanh Bình"],
        ["Kim Ngân", "Thanh Bình"],
        None,
    ),
    ("Tin: Trúc Ly - Ảnh: Hữu Phước", ["Trúc Ly"], ["Hữu Phước"], None),
    ("Nguồn: Báo Đồng Khởi", None, None, ["Báo Đồng Khởi"]),
    ("Tác giả: Hoàng Văn Lâm", ["Hoàng Văn Lâm"], None, None),
    ("Tin và ảnh: Nông Thị Thu Trang", ["Nông Thị Thu Trang"], ["Nông Thị Thu Trang"], None),
    ("Tin, ảnh: Hoàng Thị Duyên", ["Hoàng Thị Duyên"], ["Hoàng Thị Duyên"], None),
    ("Lương Văn Dũng (Văn phòng HĐND-UBND huyện)", ["Lương Văn Dũng"], None, None),
    ("Nguồn tin: Báo Lạng Sơn", None, None, ["Báo Lạng Sơn"]),
    ("Bài, ảnh: Đinh Thị Ngọc", ["Đinh Thị Ngọc"], ["Đinh Thị Ngọc"], None),
    ("Bài, ảnh: Chu Văn Khánh", ["Chu Văn Khánh"], ["Chu Văn Khánh"], None),
    ("Tin, ảnh: Nông Thị Thu Trang", ["Nông Thị Thu Trang"], ["Nông Thị Thu Trang"], None),
    ("Tin và ảnh: Vi Thị Hằng", ["Vi Thị Hằng"], ["Vi Thị Hằng"], None),
    ("Nguồn: Báo Lạng Sơn", None, None, ["Báo Lạng Sơn"]),
    ("Tác giả: Mông Văn Kiên", ["Mông Văn Kiên"], None, None),
    ("Tin: Lộc Văn Tuấn - Ảnh: Hứa Thị Lan", ["Lộc Văn Tuấn"], ["Hứa Thị Lan"], None),
    ("Tin và ảnh: Lê Minh Tâm", ["Lê Minh Tâm"], ["Lê Minh Tâm"], None),
    ("Tin và ảnh: Lê Hà", ["Lê Hà"], ["Lê Hà"], None),
    ("Minh Khuê (Văn phòng HĐND-UBND huyện)", ["Minh Khuê"], None, None),
    ("Nguồn: Báo Thanh Hóa", None, None, ["Báo Thanh Hóa"]),
    ("Tin: Mai Anh", ["Mai Anh"], None, None),
    (
        "Tin và ảnh: Đình Khôi, Thu Hương",
        ["Đình Khôi", "Thu Hương"],
        ["Đình Khôi", "Thu Hương"],
        None,
    ),
    ("Tin: Thanh Bình - Ảnh: Xuân Hòa", ["Thanh Bình"], ["Xuân Hòa"], None),
    ("Bài, ảnh: Đức Thịnh", ["Đức Thịnh"], ["Đức Thịnh"], None),
    ("Tin, ảnh: Hoàng Thu Trang", ["Hoàng Thu Trang"], ["Hoàng Thu Trang"], None),
    ("Tin: Phương Thảo - Ảnh: Mạnh Cường", ["Phương Thảo"], ["Mạnh Cường"], None),
    ("Văn Hùng (Văn phòng HĐND-UBND huyện)", ["Văn Hùng"], None, None),
]


@pytest.mark.parametrize(("raw", "text_by", "photo_by", "source"), GOLD_CREDITS)
def test_gold_credits_parse_exactly(raw, text_by, photo_by, source):
    assert parse_credit(raw) == Credit(raw=raw, text_by=text_by, photo_by=photo_by, source=source)


@pytest.mark.parametrize(
    ("line", "text_by", "photo_by", "source"),
    [
        ("Tin và ảnh: Quốc Vương", ["Quốc Vương"], ["Quốc Vương"], None),
        ("TIN VÀ ẢNH: Quốc Vương", ["Quốc Vương"], ["Quốc Vương"], None),
        ("Tin va anh: Quoc Vuong", ["Quoc Vuong"], ["Quoc Vuong"], None),
        ("tin và ảnh : Quốc Vương", ["Quốc Vương"], ["Quốc Vương"], None),
        ("Tin và ảnh Quốc Vương", ["Quốc Vương"], ["Quốc Vương"], None),
        ("Bài và ảnh: Hoàng Nam", ["Hoàng Nam"], ["Hoàng Nam"], None),
        ("Tin & ảnh: Hoàng Nam", ["Hoàng Nam"], ["Hoàng Nam"], None),
        ("Tin: Kim Ngân, ảnh: Hữu Nghĩa", ["Kim Ngân"], ["Hữu Nghĩa"], None),
        ("Bài: Kim Ngân; Ảnh: Hữu Nghĩa", ["Kim Ngân"], ["Hữu Nghĩa"], None),
        ("Tin: Phương Thảo – Ảnh: Đức Anh", ["Phương Thảo"], ["Đức Anh"], None),
        ("Tin: Phương Thảo | Ảnh: Đức Anh", ["Phương Thảo"], ["Đức Anh"], None),
        ("Ảnh: Hữu Nghĩa", None, ["Hữu Nghĩa"], None),
        ("Bài: Minh Thư", ["Minh Thư"], None, None),
        ("Tác giả Minh Thư", ["Minh Thư"], None, None),
        ("Tin: Mai Anh./.", ["Mai Anh"], None, None),
        ("Tin: Mai Anh.", ["Mai Anh"], None, None),
        ("Tin: Hoàng Anh (CTV)", ["Hoàng Anh"], None, None),
        ("Tin: PV", ["PV"], None, None),
        ("Tin, ảnh: Ngọc Ánh", ["Ngọc Ánh"], ["Ngọc Ánh"], None),
        ("Tin: Ngọc Ánh, Ánh Dương", ["Ngọc Ánh", "Ánh Dương"], None, None),
        (
            "Tin và ảnh: Hữu Phúc và Minh Châu",
            ["Hữu Phúc", "Minh Châu"],
            ["Hữu Phúc", "Minh Châu"],
            None,
        ),
        ("PV (Trung tâm Văn hóa - Thông tin huyện)", ["PV"], None, None),
        ("Nguồn tin: Báo Lạng Sơn.", None, None, ["Báo Lạng Sơn"]),
        ("Nguồn: baolangson.vn", None, None, ["baolangson.vn"]),
        ("Nguồn: Báo Lạng Sơn, Báo Nhân Dân", None, None, ["Báo Lạng Sơn", "Báo Nhân Dân"]),
        (
            "Nguồn: Sở Văn hóa, Thể thao và Du lịch",
            None,
            None,
            ["Sở Văn hóa, Thể thao và Du lịch"],
        ),
        ("Theo Báo Kiên Giang", None, None, ["Báo Kiên Giang"]),
        ("(Theo Báo Kiên Giang)", None, None, ["Báo Kiên Giang"]),
        ("(Nguồn: Báo Lạng Sơn)", None, None, ["Báo Lạng Sơn"]),
    ],
)
def test_label_variants(line, text_by, photo_by, source):
    credit = parse_credit(line)
    assert credit == Credit(raw=line, text_by=text_by, photo_by=photo_by, source=source)


def test_raw_is_the_normalised_line():
    credit = parse_credit("  Tin\u00a0và ảnh:\u00a0 Quốc\u00a0Vương \n")
    assert credit == Credit(
        raw="Tin và ảnh: Quốc Vương", text_by=["Quốc Vương"], photo_by=["Quốc Vương"]
    )


def test_decomposed_input_is_read_and_returned_nfc():
    credit = parse_credit("Tin va\u0300 a\u0309nh: Quô\u0301c Vương")
    assert credit is not None
    assert credit.raw == "Tin và ảnh: Quốc Vương"
    assert credit.text_by == ["Quốc Vương"]


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "Tin và ảnh:",
        "Hoàng Anh",
        "Thứ Hai, 03/08/2020",
        "Ảnh: Quang cảnh hội nghị",
        "Ảnh: Đồng chí Bí thư Huyện ủy phát biểu tại hội nghị",
        "Hội nghị đã thông qua nhiều nội dung quan trọng. Nguồn: Báo Kiên Giang",
        "Nguồn vốn đầu tư là 12 tỷ đồng.",
        "Theo báo cáo của UBND huyện, năm 2020 đạt 12 tỷ đồng.",
        "Theo ông Nguyễn Văn A, Chủ tịch UBND xã",
        "Theo Kế hoạch số 12/KH-UBND",
        "Tác giả của bài thơ là ông A",
        "Tin tức: Hội nghị tổng kết",
        "Bãi biển: Nam Du",
        "Nam Du (Kiên Giang) tổ chức hội nghị tổng kết",
        "Tin: " + "Nguyễn Văn A " * 12,
        "Bài, ảnh: " + "x" * 130,
    ],
)
def test_ordinary_lines_are_not_credits(line):
    assert parse_credit(line) is None
