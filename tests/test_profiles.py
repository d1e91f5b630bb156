"""Profiles are data: shipped, user-supplied, and validated with clear messages."""

from __future__ import annotations

import json

import pytest

from archive import Archive
from portal_crawler.profiles import ProfileError, load_profiles, profile_from_dict
from tests.crawl_helpers import crawl, portal_archive
from tests.helpers import load_gold


def test_every_shipped_profile_loads_with_its_family_defaults():
    profiles = load_profiles()
    assert {"anbien", "hailang", "mocaynam", "tanthanh", "trieuson"} <= set(profiles)
    trieuson = profiles["trieuson"]
    assert trieuson.family == "tandan"
    assert trieuson.extract.title  # inherited from families/tandan.toml
    assert trieuson.listing.article_url
    for profile in profiles.values():
        assert profile.default_section_list()[0].name == "Hoạt động địa phương"


NEW_PORTAL = """
id = "anbien-mirror"
name = "Cổng thông tin điện tử huyện An Biên (bản sao)"
base_url = "https://anbien.kiengiang.gov.vn"
family = "sharepoint"

[[sections]]
name = "Hoạt động địa phương"
url = "/Trang/TinTuc.aspx?CateID=12"
"""


def test_a_user_profile_of_a_known_family_takes_a_few_lines(replay, tmp_path):
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "anbien-mirror.toml").write_text(NEW_PORTAL, encoding="utf-8")
    listed = json.loads(portal_archive("--profiles", str(folder), "portals", "--json").stdout)
    assert "anbien-mirror" in {row["id"] for row in listed}

    db = tmp_path / "archive.sqlite"
    crawl(db, "anbien-mirror", mirror=replay("anbien").origin, profiles=str(folder))
    gold = {
        g["url"] for g in load_gold("anbien").values() if g["section"] == "Hoạt động địa phương"
    }
    with Archive.open(db) as archive:
        assert {a["url"] for a in archive.iter_articles("anbien-mirror")} == gold


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"base_url": None}, "missing key 'base_url'"),
        ({"base_ur": "https://x.gov.vn"}, "unknown key 'base_ur'"),
        ({"base_url": "ftp://x.gov.vn"}, "base_url must be an http(s) URL"),
        ({"family": "drupal9000"}, "unknown CMS family 'drupal9000'"),
        ({"listing": {"article_url": "(unclosed"}}, "article_url is not a regex"),
        ({"extract": {"title": "h1[[["}}, "title is not a CSS selector"),
        ({"sections": [{"name": "Tin"}]}, "[[sections]] #1: missing key 'url'"),
        ({"default_sections": ["Thể thao"]}, "default section 'Thể thao'"),
    ],
)
def test_malformed_profiles_are_named_with_file_and_key(change, message):
    data = {
        "id": "x",
        "name": "X",
        "base_url": "https://x.gov.vn",
        "sections": [{"name": "Hoạt động địa phương", "url": "/hdđp"}],
    }
    data.update(change)
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ProfileError) as error:
        profile_from_dict(data, "profiles/x.toml")
    assert "profiles/x.toml" in str(error.value)
    assert message in str(error.value)


def test_a_broken_user_profile_is_a_clear_cli_error(tmp_path):
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "bad.toml").write_text('id = "bad"\nname = "Bad"\nbase_url = 42\n', encoding="utf-8")
    result = portal_archive("--profiles", str(folder), "portals", check=False)
    assert result.returncode == 2
    assert "bad.toml" in result.stderr and "'base_url'" in result.stderr
    assert "Traceback" not in result.stderr
    (folder / "bad.toml").write_text("id = [unclosed\n", encoding="utf-8")
    result = portal_archive("--profiles", str(folder), "portals", check=False)
    assert result.returncode == 2 and "not valid TOML" in result.stderr
