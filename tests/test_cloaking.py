"""compare_views and friends: what counts as cloaking, and what is just a dynamic page."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hijackwatch.demo.cloaking_sites import (
    CASINO,
    _dynamic,
    _school,
    atob_wrapped,
    from_char_code,
    hex_escaped,
    packed,
    redirect_js,
    unicode_escaped,
)
from hijackwatch.detect import ViewSummary, analyse, score_findings
from hijackwatch.detect.cloaking import (
    REFERER_CLOAKING,
    UA_CLOAKING,
    absolute_script_urls,
    cloaking_kind,
    compare_fetches,
    compare_redirects,
    compare_views,
    external_script_findings,
    title_change,
)
from hijackwatch.detect.document import MAX_SCRIPT_SRCS, parse
from hijackwatch.detect.summary import simhash
from hijackwatch.profiles import BUILTIN_PROFILES
from tests.conftest import BENIGN_DIR, SEED_PAGE

URL = "http://www.example-school.org/"


def summary_of(html: str | bytes, url: str = URL) -> ViewSummary:
    return analyse(html, url).summary


def headers(profile: str) -> dict[str, str]:
    return {k.lower(): v for k, v in BUILTIN_PROFILES[profile].headers_for(URL).items()}


def test_crawler_only_spam_is_ua_cloaking_with_both_views_in_evidence() -> None:
    human = summary_of(_school("/", for_bots=False))
    bot = summary_of(_school("/", for_bots=True))
    findings = compare_views(human, bot, "googlebot")
    assert findings and {f.kind for f in findings} == {UA_CLOAKING}
    assert score_findings(findings)[1] == "hijacked"
    title = next(f for f in findings if "title" in f.evidence)
    assert "Riverside Secondary School" in title.evidence  # the browser's view
    assert "澳门金沙官网" in title.evidence  # the crawler's view
    assert any("hidden links" in f.evidence for f in findings)


def test_search_profiles_report_referer_cloaking() -> None:
    human = summary_of(_school("/", for_bots=False))
    spam = summary_of(_school("/", for_bots=True))
    assert cloaking_kind("search-baidu") == REFERER_CLOAKING
    assert {f.kind for f in compare_views(human, spam, "search-baidu")} == {REFERER_CLOAKING}
    assert {f.kind for f in compare_views(human, spam, "custom", kind=REFERER_CLOAKING)} == {
        REFERER_CLOAKING
    }


def test_identical_views_are_clean() -> None:
    view = summary_of(SEED_PAGE.read_bytes())  # even a hijacked page: same for everyone
    assert compare_views(view, replace(view), "baiduspider") == []


@pytest.mark.parametrize("profile", ["googlebot", "googlebot-mobile", "search-google-mobile"])
def test_dynamic_pages_differ_every_time_but_are_not_cloaking(profile: str) -> None:
    """Nonce, timestamp, rotating teasers, no cookie banner for bots, mobile layout."""
    for title in ("Valley Courier", "Volunteers plant trees"):
        for _ in range(8):
            base = summary_of(_dynamic(title, headers("browser")).body)
            other = summary_of(_dynamic(title, headers(profile)).body)
            assert base.simhash != other.simhash or base.text_length != other.text_length
            findings = compare_views(base, other, profile)
            assert score_findings(findings)[1] == "clean", findings


def test_benign_corpus_pages_against_trimmed_versions_stay_clean() -> None:
    """A bot view without the page's last third (banners, widgets left out) is no cloaking."""
    files = sorted(BENIGN_DIR.rglob("*.html"))[:25]
    assert files
    for path in files:
        body = path.read_bytes()
        cut = body.rfind(b"</body>")
        trimmed = body[: max(len(body) * 2 // 3, 0)] + (body[cut:] if cut > 0 else b"")
        base, other = summary_of(body), summary_of(trimmed)
        assert score_findings(compare_views(base, other, "googlebot"))[1] == "clean", path.name


def test_views_that_add_nothing_are_not_flagged() -> None:
    base = ViewSummary(
        title="County news",
        outbound_domains=frozenset({"gov.cn", "cookiebot.com"}),
        spam_hits=0,
        text_length=900,
        main_text="county council meeting minutes " * 30,
    )
    fewer = replace(base, outbound_domains=frozenset({"gov.cn"}), text_length=700)
    assert compare_views(base, fewer, "googlebot") == []


def test_the_text_fingerprint_is_computed_only_to_compare_different_texts() -> None:
    """analyse() leaves the simhash to the comparison; identical texts need none, and
    the lazily computed value is the simhash of the whole normalised text."""
    body = SEED_PAGE.read_bytes()
    base, same = summary_of(body), summary_of(body)
    assert base._simhash is None  # analyse() did not compute it
    assert compare_views(base, same, "googlebot") == []
    assert base._simhash is None and same._simhash is None
    other = summary_of(_school("/", for_bots=False))
    compare_views(base, other, "googlebot")
    assert base._simhash is not None and other._simhash is not None
    doc = parse(SEED_PAGE.read_text("utf-8", "replace"), URL)
    assert base.simhash == simhash(doc.norm_text) != 0


def test_new_outbound_domains_and_redirect_targets() -> None:
    base = ViewSummary(title="News", outbound_domains=frozenset({"gov.cn"}))
    spammy = replace(base, outbound_domains=frozenset({"gov.cn", "amjs-casino.com"}))
    assert [f.severity for f in compare_views(base, spammy, "baiduspider")] == ["high"]
    many = replace(base, outbound_domains=frozenset({"gov.cn", "a.org", "b.org", "c.org"}))
    assert [f.severity for f in compare_views(base, many, "baiduspider")] == ["medium"]
    two = replace(base, outbound_domains=frozenset({"gov.cn", "a.org", "b.org"}))
    assert compare_views(base, two, "baiduspider") == []
    hop = replace(base, redirect_to="http://www.vip8888.invalid/")
    (finding,) = compare_views(base, hop, "search-baidu")
    assert finding.kind == REFERER_CLOAKING and "vip8888" in finding.evidence


def test_title_changes() -> None:
    assert title_change("News | Town", "News | Town") is None
    assert title_change("News | Town", "News - Town") is None
    spam = title_change("News | Town", "澳门金沙官网_真人百家乐")
    assert spam is not None and spam[0] == "high" and spam[1].startswith("to spam")
    restored = title_change("澳门金沙官网_真人百家乐", "News | Town")
    assert restored is not None and restored[1].startswith("from spam")
    other = title_change("Budget approved", "Completely different words here")
    assert other == ("medium", "to another title")


def test_compare_redirects() -> None:
    page = "http://gov.example.cn/"
    assert compare_redirects(page, page, page, "search-baidu") == []
    assert compare_redirects(page, page, "http://gov.example.cn/index.html", "x") == []
    (f,) = compare_redirects(page, page, "http://casino-8888.invalid/?from=baidu", "search-baidu")
    assert f.kind == REFERER_CLOAKING and f.severity == "high"
    assert "casino-8888.invalid" in f.evidence and page in f.evidence
    # everyone is redirected there: not cloaking
    assert compare_redirects(page, "http://new.example.com/", "http://new.example.com/", "g") == []
    # fetch-level helper: a bare 3xx has no summary, the hop alone decides
    assert compare_fetches(page, (None, page), (None, "http://casino.invalid/"), "googlebot")


@pytest.mark.parametrize(
    "code",
    [
        from_char_code(redirect_js()),
        hex_escaped(),
        packed(redirect_js()),
        atob_wrapped(redirect_js()),
        unicode_escaped(),
    ],
    ids=["fromCharCode", "hex", "packer", "atob", "unicode"],
)
def test_obfuscated_external_scripts_are_flagged_and_named(code: str) -> None:
    script = "http://cdn.example.net/js/stat.js"
    assert CASINO not in code  # really obfuscated
    findings = external_script_findings(code, script)
    assert any(f.kind == "script_redirect" and f.severity == "high" for f in findings)
    assert all(f.evidence.startswith(f"external script {script}: ") for f in findings)


def test_analytics_scripts_are_clean() -> None:
    tongji = (
        'var _hmt=_hmt||[];(function(){var hm=document.createElement("script");'
        'hm.src="https://hm.baidu.com/hm.js?abc";var s=document.getElementsByTagName("script")[0];'
        "s.parentNode.insertBefore(hm,s);})();"
    )
    gtag = (
        "window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
        "gtag('config','G-1',{page_referrer:document.referrer});"
    )
    for source in (tongji, gtag):
        assert external_script_findings(source, "https://www.example.org/a.js") == []


def test_script_urls() -> None:
    html = (
        '<html><head><script src="/js/a.js"></script><script src="//cdn.example.net/b.js#x">'
        '</script><script src="/js/a.js"></script><script src="javascript:void(0)"></script>'
        "<script>inline()</script></head></html>"
    )
    srcs = analyse(html).script_srcs  # as written, in page order
    assert absolute_script_urls(srcs, "https://site.example.org/news/") == [
        "https://site.example.org/js/a.js",
        "https://cdn.example.net/b.js",
    ]
    many = [f"/s{i}.js" for i in range(100)]
    assert len(absolute_script_urls(many, "http://a.example/", limit=20)) == 20
    assert analyse("").script_srcs == []


def test_script_srcs_are_distinct_and_bounded() -> None:
    """An analysis travels between processes and is cached: a page of 100,000 script tags
    keeps a bounded list, and repeating one src cannot push another out of it."""
    repeated = '<script src="/js/a.js"></script>' * 1000 + '<script src="/js/evil.js"></script>'
    assert analyse(f"<html><head>{repeated}</head></html>").script_srcs == [
        "/js/a.js",
        "/js/evil.js",
    ]
    many = "".join(f'<script src="/s{i}.js"></script>' for i in range(100_000))
    srcs = analyse(f"<html><head>{many}</head><body>x</body></html>").script_srcs
    assert srcs == [f"/s{i}.js" for i in range(MAX_SCRIPT_SRCS)]
    long = analyse(f'<script src="/{"a" * 10_000}.js"></script>').script_srcs
    assert len(long) == 1 and len(long[0]) == 2000


def test_another_page_for_crawlers_is_suspicious_even_without_spam() -> None:
    first, second = (p.read_bytes() for p in sorted(BENIGN_DIR.rglob("*.html"))[:2])
    base, other = summary_of(first), summary_of(second)
    findings = compare_views(base, other, "baiduspider")
    assert any("main text differs" in f.evidence for f in findings)
    assert score_findings(findings)[1] in ("suspicious", "hijacked")


def test_sealed_summaries_of_different_texts_are_still_compared() -> None:
    """The crawl seals summaries (no text kept): two views whose text lengths happened
    to match were taken for the same text and text cloaking went unreported."""
    school = "riverside secondary school welcomes pupils, term dates and the library " * 8
    casino = "online casino slot gacor bonus deposit jackpot spin and win every day " * 8
    base = ViewSummary(title="School", text_length=500, main_text=school)
    other = ViewSummary(title="School", text_length=500, main_text=casino)
    expected = compare_views(base, other, "googlebot")
    assert any("main text differs" in f.evidence for f in expected)
    for summary in (base, other):
        summary.seal(fingerprint=True)
    assert compare_views(base, other, "googlebot") == expected
