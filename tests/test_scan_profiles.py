"""``hijackwatch scan URL`` fetches the page as every visitor profile (real HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from hijackwatch.cli import main
from hijackwatch.demo import FixtureWeb
from hijackwatch.demo.cloaking_sites import CLOAKED, HONEST


@pytest.fixture(scope="module")
def web() -> Iterator[FixtureWeb]:
    with FixtureWeb() as fixture:
        yield fixture


def scan_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["scan", "--json", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


@pytest.mark.parametrize(("site", "path"), sorted(CLOAKED))
def test_scan_url_sees_cloaking_the_browser_does_not(
    web: FixtureWeb, capsys: pytest.CaptureFixture[str], site: str, path: str
) -> None:
    record = scan_json(capsys, web.base_of(site) + path.lstrip("/"))
    views = {view["profile"]: view for view in record["profiles"]}
    assert set(views) == {
        "browser",
        "googlebot",
        "googlebot-mobile",
        "baiduspider",
        "search-baidu",
        "search-google-mobile",
    }
    assert views["browser"]["verdict"] == "clean"  # what the site's staff see
    assert record["verdict"] == "hijacked"  # what search engines and their visitors get
    cloaked = [f for f in record["findings"] if f["kind"] == CLOAKED[(site, path)]]
    assert cloaked and all(f["profile"] != "browser" for f in cloaked)


def test_scan_url_keeps_honest_dynamic_pages_clean(
    web: FixtureWeb, capsys: pytest.CaptureFixture[str]
) -> None:
    for site in HONEST:
        record = scan_json(capsys, web.base_of(site))
        assert record["verdict"] == "clean", record["findings"]
        assert {view["verdict"] for view in record["profiles"]} == {"clean"}


def test_scan_url_profile_subset_and_human_output(
    web: FixtureWeb, capsys: pytest.CaptureFixture[str]
) -> None:
    url = web.base_of("ua-cloak")
    record = scan_json(capsys, "--profile", "baiduspider", url)
    assert [view["profile"] for view in record["profiles"]] == ["browser", "baiduspider"]
    assert main(["scan", url]) == 0
    out = capsys.readouterr().out
    assert "as browser:" in out and "as googlebot:" in out and "ua_cloaking" in out
