"""Visitor profiles: parsing the setting, and the Scrapy-free multi-profile fetch for scan."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from hijackwatch.demo import FixtureWeb, Page, SiteSpec
from hijackwatch.demo.cloaking_sites import cloaking_sites
from hijackwatch.profiles import (
    BAIDUSPIDER_UA,
    BUILTIN_PROFILES,
    DEFAULT_PROFILES,
    Profile,
    fetch_page,
    fetch_view,
    parse_profiles,
    scan_url_views,
    with_profiles,
)


def names(profiles: list[Profile]) -> list[str]:
    return [p.name for p in profiles]


def test_default_profiles() -> None:
    profiles = parse_profiles(None)
    assert names(profiles) == list(DEFAULT_PROFILES)
    assert names(profiles)[0] == "browser" and profiles[0].is_baseline
    assert {"googlebot", "googlebot-mobile", "baiduspider"} <= set(names(profiles))
    kinds = {p.name: p.kind for p in profiles}
    assert kinds["baiduspider"] == "ua_cloaking"
    assert kinds["search-baidu"] == kinds["search-google-mobile"] == "referer_cloaking"
    assert "Mobile" in BUILTIN_PROFILES["search-google-mobile"].user_agent
    assert "Googlebot" in BUILTIN_PROFILES["googlebot-mobile"].user_agent


@pytest.mark.parametrize(
    "value",
    [
        "googlebot, Baiduspider",
        ["googlebot", "baiduspider"],
        '["googlebot", "baiduspider"]',
        "baiduspider,googlebot,browser",
    ],
)
def test_name_lists_keep_browser_first(value: object) -> None:
    assert set(names(parse_profiles(value))) == {"browser", "googlebot", "baiduspider"}
    assert names(parse_profiles(value))[0] == "browser"


def test_custom_profiles_from_json_and_dicts() -> None:
    spec = {
        "sogou-visitor": {
            "user_agent": "Mozilla/5.0 X",
            "referer": "https://www.sogou.com/web?query={query}",
        },
        "bingbot": {"user_agent": "Mozilla/5.0 (compatible; bingbot/2.0)"},
        "baiduspider": None,
    }
    for value in (spec, json.dumps(spec), [{"name": k, **(v or {})} for k, v in spec.items()]):
        profiles = {p.name: p for p in parse_profiles(value)}
        assert list(profiles) == ["browser", "sogou-visitor", "bingbot", "baiduspider"]
        sogou = profiles["sogou-visitor"]
        assert sogou.kind == "referer_cloaking" and profiles["bingbot"].kind == "ua_cloaking"
        assert sogou.headers_for("https://www.county.gov.cn/a?b=1") == {
            "User-Agent": "Mozilla/5.0 X",
            "Accept-Language": "en-US,en;q=0.9",  # the baseline's, unless given
            "Referer": "https://www.sogou.com/web?query=www.county.gov.cn",
        }
        assert profiles["baiduspider"].user_agent == BAIDUSPIDER_UA
    # a built-in name may be given another user agent and keeps its referer
    moved = parse_profiles({"search-baidu": {"user_agent": "UA/2"}})[1]
    assert moved.user_agent == "UA/2" and moved.referer == BUILTIN_PROFILES["search-baidu"].referer
    assert moved.accept_language == "zh-CN,zh;q=0.9"
    # and a language of its own, or none at all
    spec = {
        "ja-visitor": {"user_agent": "UA/3", "accept_language": "ja-JP"},
        "bot": {"user_agent": "bot/1", "accept_language": None},
    }
    languages = {p.name: p.accept_language for p in parse_profiles(spec)}
    assert languages == {"browser": "en-US,en;q=0.9", "ja-visitor": "ja-JP", "bot": None}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("googlebot,nosuchbot", "unknown profile 'nosuchbot'"),
        ("googlebot,googlebot", "listed twice"),
        ({"x": {"referer": "https://a/"}}, "needs a user_agent"),
        ({"x": {"user_agent": "a", "referer": "ftp://a/"}}, "referer must be"),
        ({"x": {"user_agent": "a", "cookie": "1"}}, "unknown keys"),
        ({"x": {"user_agent": "a", "accept_language": "zh\r\nX-Evil: 1"}}, "accept_language"),
        ({"x": {"user_agent": "a", "accept_language": 7}}, "accept_language"),
        ({"x": {"user_agent": "a", "accept_language": "*"}}, "accept_language"),
        ({"x": {"user_agent": "a", "accept_language": "zh-中文,zh"}}, "accept_language"),
        ({"x": {"user_agent": "UA\r\nX-Evil: 1"}}, "needs a user_agent"),
        ({"x": {"user_agent": "a", "referer": "https://a/\nX: 1"}}, "referer must be"),
        ({"browser": {"user_agent": "MyBrowser/1"}}, "is the baseline"),
        ("bad name!", "bad profile name"),
        ("{not json", "Expecting"),
        (42, "cannot read"),
    ],
)
def test_bad_settings_are_one_line_errors(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_profiles(value)


def test_search_referer_uses_the_page_host() -> None:
    profile = BUILTIN_PROFILES["search-baidu"]
    assert profile.referer_for("http://127.0.0.9:8080/x") == "https://www.baidu.com/s?wd=127.0.0.9"
    assert BUILTIN_PROFILES["googlebot"].headers_for("http://a.example/") == {
        "User-Agent": BUILTIN_PROFILES["googlebot"].user_agent,
        "Accept-Language": None,  # Googlebot sends none: not sent
    }
    assert names(with_profiles(parse_profiles(), ["googlebot"])) == ["browser", "googlebot"]


@pytest.fixture(scope="module")
def web():
    with FixtureWeb(sites=cloaking_sites(1), first_address=80) as fixture:
        yield fixture


def by_profile(results: list) -> dict[str, tuple]:
    return {profile.name: (view, analysis) for profile, view, analysis in results}


def test_scan_url_views_flags_ua_cloaking(web: FixtureWeb) -> None:
    results = by_profile(scan_url_views(web.base_of("ua-cloak")))
    assert list(results) == list(DEFAULT_PROFILES)
    assert results["browser"][1].verdict == "clean"
    for name in ("googlebot", "googlebot-mobile", "baiduspider"):
        view, analysis = results[name]
        assert view.status == 200 and analysis.verdict == "hijacked"
        assert "ua_cloaking" in {f.kind for f in analysis.findings}
    assert results["search-baidu"][1].verdict == "clean"
    hits = web.hits("ua-cloak")
    assert any("Baiduspider" in ua for _, ua, _, _ in hits)


def test_scan_url_views_flags_referer_redirect_without_following_it(web: FixtureWeb) -> None:
    base = web.base_of("referer-cloak")
    results = by_profile(scan_url_views(base))
    view, analysis = results["search-baidu"]
    assert view.status == 302 and view.final_url.startswith("http://www.vip8888-casino.invalid/")
    assert analysis.verdict == "hijacked"
    (finding,) = [f for f in analysis.findings if f.kind == "referer_cloaking"]
    assert "vip8888-casino.invalid" in finding.evidence and base in finding.evidence
    assert results["googlebot"][1].verdict == "clean"
    referers = {ref for path, _, ref, _ in web.hits("referer-cloak") if path == "/"}
    assert "https://www.baidu.com/s?wd=" + base.split("//")[1].split(":")[0] in referers


def test_scan_url_views_fetches_external_scripts_on_other_hosts(web: FixtureWeb) -> None:
    before = len([h for h in web.hits("script-cdn") if h[0] == "/static/js/stat.js"])
    results = by_profile(scan_url_views(web.base_of("script-redirect") + "news/4.html"))
    after = len([h for h in web.hits("script-cdn") if h[0] == "/static/js/stat.js"])
    assert after - before == 1  # once, although six views load it
    for _, analysis in results.values():
        assert analysis.verdict == "hijacked"
        assert any("external script" in f.evidence for f in analysis.findings)
    plain = by_profile(
        scan_url_views(web.base_of("script-redirect") + "news/4.html", scripts=False)
    )
    assert plain["browser"][1].verdict == "clean"


def test_scan_url_views_keeps_dynamic_site_clean(web: FixtureWeb) -> None:
    for path in ("", "story/2.html"):
        for profile, view, analysis in scan_url_views(web.base_of("dynamic-news") + path):
            assert view.status == 200
            assert analysis.verdict == "clean", (profile.name, analysis.findings)


def test_fetch_is_bounded_in_size_and_time() -> None:
    big = Page(body=b"<html><body>" + b"x" * 300_000 + b"</body></html>")
    site = SiteSpec("bounded", {"/big": big, "/hang": Page(body=b"", hang=5.0)})
    with FixtureWeb(sites=[site], first_address=90) as fixture:
        base = fixture.seeds[0]
        status, final, body, *_ = fetch_page(base + "big", {}, max_bytes=1000)
        assert status == 200 and final == base + "big" and len(body) == 1000
        started = time.monotonic()
        view = fetch_view(base + "hang", BUILTIN_PROFILES["googlebot"], timeout=0.5)
        assert view.error and "timed out" in view.error.lower()
        assert time.monotonic() - started < 3
        unreachable = fetch_view(fixture.dead_seeds[0], BUILTIN_PROFILES["browser"], timeout=2)
        assert unreachable.error and unreachable.status is None


def test_a_script_in_an_unknown_charset_is_still_analysed() -> None:
    """The script's server names its charset: a bogus one must not end the scan."""
    js = b"var r=document.referrer;if(r.indexOf('baidu')>-1){location.href='https://vip8888-casino.invalid/';}"
    html = (
        b"<html><head><title>News</title><script src='/s.js'></script></head><body>hi</body></html>"
    )
    pages = {
        "/": Page(body=html),
        "/s.js": Page(body=js, content_type="text/javascript; charset=bogus-x"),
    }
    with FixtureWeb(sites=[SiteSpec("bogus-charset", pages)], first_address=91) as fixture:
        ((_, _, analysis),) = scan_url_views(fixture.seeds[0], parse_profiles("browser"))
    assert analysis.verdict == "hijacked"
    assert any("external script" in f.evidence for f in analysis.findings)


@pytest.fixture
def garbage_server() -> Iterator[str]:
    """A TCP server that answers every request with something that is not HTTP."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"SPAM 200 casino\r\n\r\n<title>x</title>")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def test_a_server_that_does_not_speak_http_is_a_fetch_error(garbage_server: str) -> None:
    view = fetch_view(garbage_server, BUILTIN_PROFILES["browser"], timeout=2)
    assert view.status is None and view.error and "BadStatusLine" in view.error
