"""analyse_script: obfuscation layers are decoded (never run) and cloaked navigation found."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hijackwatch.detect import analyse_script
from hijackwatch.detect.script import (
    _CONDITIONS,
    _CONDITIONS_ASCII,
    MAX_LITERAL,
    _unescape_js,
    _written_literals,
    read_js_string,
)

TARGET = "https://www.vns888.example/?from=seo"
REDIRECT = (
    "var r=document.referrer;if(r.indexOf('baidu')>=0||r.indexOf('google')>=0)"
    f"{{window.location.href='{TARGET}';}}"
)


def kinds(source: str, url: str = "https://www.city.example.gov.cn/news/1.html") -> set[str]:
    return {f.kind for f in analyse_script(source, url)}


def hex_escape(text: str) -> str:
    return "".join(f"\\x{ord(c):02x}" for c in text)


def packed(payload: str) -> str:
    """Dean Edwards packer output for ``payload`` with every word in the keyword list."""
    import re

    words: list[str] = []
    for word in re.findall(r"\b\w+\b", payload):
        if word not in words:
            words.append(word)

    def encode(n: int) -> str:
        digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        out = ""
        while True:
            out = digits[n % 62] + out
            n //= 62
            if n == 0:
                return out

    body = re.sub(r"\b\w+\b", lambda m: encode(words.index(m.group())), payload)
    body = body.replace("\\", "\\\\").replace("'", "\\'")
    return (
        "eval(function(p,a,c,k,e,d){e=function(c){return c};if(!''.replace(/^/,String))"
        "{while(c--){d[c]=k[c]||c}k=[function(e){return d[e]}];e=function(){return'\\\\w+'};"
        "c=1};while(c--){if(k[c]){p=p.replace(new RegExp('\\\\b'+e(c)+'\\\\b','g'),k[c])}}"
        f"return p}}('{body}',62,{len(words)},'{'|'.join(words)}'.split('|'),0,{{}}))"
    )


@pytest.mark.parametrize(
    "source",
    [
        REDIRECT,
        "eval(String.fromCharCode(" + ",".join(str(ord(c)) for c in REDIRECT) + "))",
        f"eval('{hex_escape(REDIRECT)}')",
        "eval(unescape('" + "".join(f"%{ord(c):02X}" for c in REDIRECT) + "'))",
        f"eval(atob('{base64.b64encode(REDIRECT.encode()).decode()}'))",
        packed(REDIRECT),
    ],
    ids=["plain", "fromCharCode", "hex", "unescape", "atob", "packer"],
)
def test_referrer_redirect_found_through_obfuscation(source: str) -> None:
    findings = analyse_script(source, "https://www.city.example.gov.cn/news/1.html")
    redirects = [f for f in findings if f.kind == "script_redirect"]
    assert redirects and redirects[0].severity == "high"
    assert "vns888.example" in redirects[0].evidence


def test_user_agent_conditioned_redirect() -> None:
    source = (
        "if(/baiduspider|googlebot/i.test(navigator.userAgent)==false)"
        "{top.location.replace('https://slot-gacor.example/');}"
    )
    assert "script_redirect" in kinds(source)


def test_string_concatenation_is_joined() -> None:
    source = "var u='ht'+'tps://'+'bet'+'365-cn.example/';if(document.referrer.match(/sogou|baidu/))location.href=u;"
    assert "script_redirect" in kinds(source)


@pytest.mark.parametrize(
    "source",
    [
        "window.location.href='http://slot-gacor88.example/'",  # every visitor
        "if(/Android|iPhone|Mobile/i.test(navigator.userAgent))"
        "{location.replace('http://slot-gacor88.example/')}",
        # the target decoded from character codes, with no quotes around it
        "var r=document.referrer;if(r.indexOf('baidu')>-1){window.location.href="
        "String.fromCharCode(104,116,116,112,58,47,47,98,101,116,46,120,121,122,47)}",
        # top['loc'+'ation'] and document['refe'+'rrer']
        "var r=document['refe'+'rrer'];if(r.indexOf('baidu')>-1){top['loc'+'ation']="
        "'http://bet.example/'}",
        "window['location'].href='http://slot-gacor88.example/'",
        "window['location']['href']='http://slot-gacor88.example/'",
    ],
    ids=[
        "unconditional",
        "mobile",
        "decoded-bare-url",
        "bracket-concat",
        "bracket-href",
        "bracket-bracket",
    ],
)
def test_redirects_a_qa_pass_got_through_are_high(source: str) -> None:
    """A script sending every (or every mobile) visitor to a casino-like domain was only
    'suspicious'; bracketed and decoded-without-quotes targets were not seen."""
    redirects = [
        f for f in analyse_script(source, "https://u.example.ac.id/") if f.kind == "script_redirect"
    ]
    assert redirects and redirects[0].severity == "high", redirects


@pytest.mark.parametrize(
    "source",
    [
        'var t="Slot Gacor Maxwin Situs Judi Online";document.title=t',
        'document.getElementsByTagName("title")[0].innerHTML="Slot Gacor Maxwin Situs Judi"',
        'document.querySelector("title").textContent="Slot Gacor Maxwin Situs Judi"',
        'var a="ca"+"sino";document["ti"+"tle"]="Online "+a+" slot gacor judi bola";',
        'document.title=";Slot Gacor Maxwin} Situs Judi Online"',  # ; and } inside the literal
        'var t="Kampus";t="Slot Gacor Maxwin Situs Judi";document.title=t',  # reassigned
        "document.getElementsByTagName('title')[0].text='Slot Gacor Maxwin Situs Judi'",
        "document[`title`]='Slot Gacor Maxwin Situs Judi'",
    ],
    ids=[
        "variable",
        "element",
        "query",
        "bracket-concat",
        "separators-in-literal",
        "reassigned",
        "element-text",
        "backtick-bracket",
    ],
)
def test_spam_title_set_indirectly(source: str) -> None:
    findings = analyse_script(source, "https://u.example.ac.id/")
    assert [f.severity for f in findings if f.kind == "title_swap"] == ["high"], findings


def test_harmless_indirect_title_updates_are_clean() -> None:
    source = (
        'var t="(3) Inbox - Campus Mail";document.title=t;'
        'document.querySelector("title").textContent=count+" new messages";'
        "window.location.href='https://accounts.example.com/login';"
    )
    assert analyse_script(source, "https://mail.example.ac.id/") == []


def test_same_site_and_language_redirects_are_clean() -> None:
    source = (
        "if(navigator.language.indexOf('en')===0){location.href='/en/index.html';}"
        "if(/Android|iPhone/i.test(navigator.userAgent)){location.href='https://m.city.example.gov.cn/';}"
    )
    assert analyse_script(source, "https://www.city.example.gov.cn/") == []


@pytest.mark.parametrize(
    "source",
    [
        # Baidu Tongji and Google Analytics read the referrer but never navigate.
        "var _hmt=_hmt||[];(function(){var hm=document.createElement('script');"
        "hm.src='https://hm.baidu.com/hm.js?0123';var s=document.getElementsByTagName('script')[0];"
        "s.parentNode.insertBefore(hm,s);})();",
        "(function(i,s,o,g,r,a,m){i['GoogleAnalyticsObject']=r;})(window,document,'script',"
        "'https://www.google-analytics.com/analytics.js','ga');ga('send','pageview',"
        "{referrer:document.referrer});",
        "var cnzz_protocol=(('https:'==document.location.protocol)?'https://':'http://');"
        "document.write(unescape('%3Cspan id=\\'cnzz_stat_icon_1\\'%3E%3C/span%3E%3Cscript "
        "src=\\''+cnzz_protocol+'s4.cnzz.com/z_stat.php%3Fid%3D1\\' type=\\'text/javascript\\'"
        "%3E%3C/script%3E'));",
        "!function(p){var r=document.referrer;new Image().src='//js.users.51.la/1.js?r='+"
        "encodeURIComponent(r)+'&u='+encodeURIComponent(location.href)}();",
        "function share(){window.open('https://twitter.com/intent/tweet?url='+location.href);}",
    ],
    ids=["baidu-tongji", "google-analytics", "cnzz", "51la", "share-button"],
)
def test_analytics_and_share_snippets_are_clean(source: str) -> None:
    assert analyse_script(source, "https://www.city.example.gov.cn/") == []


def test_title_swap_behind_crawler_check() -> None:
    source = (
        "if(navigator.userAgent.toLowerCase().indexOf('baiduspider')<0)"
        "{document.title='市政府新闻';}"
    )
    findings = analyse_script(source)
    assert [f.kind for f in findings] == ["title_swap"]


def test_spam_title_written_by_script() -> None:
    assert "title_swap" in kinds("document.title='澳门新葡京_百家乐_真人娱乐官网';")


def test_harmless_title_update_is_clean() -> None:
    assert analyse_script("document.title = 'Inbox (3)';") == []


def test_written_full_screen_iframe() -> None:
    source = (
        'document.write(\'<iframe src="https://amjs-888.example/" style="position:fixed;'
        "top:0;left:0;width:100%;height:100%;z-index:99999\"></iframe>');"
    )
    assert "iframe_overlay" in kinds(source)


def test_written_hidden_spam_links() -> None:
    html = (
        '<div style="display:none"><a href="https://bet365-cn.example/">百家乐</a>'
        '<a href="https://jinsha.example/">金沙娱乐城</a></div>'
    )
    source = "document.write(unescape('" + "".join(f"%{b:02X}" for b in html.encode()) + "'));"
    assert "hidden_links" in kinds(source)


def test_empty_and_garbage_scripts() -> None:
    assert analyse_script("") == []
    assert analyse_script("}{)(][" * 1000) == []
    assert analyse_script("eval(function(p,a,c,k,e,d){}('unterminated") == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"abc" + x', ("abc", 5)),
        ("'it\\'s' + x", ("it\\'s", 7)),
        ('"line\nbreak"', ("line", 5)),  # a quote string ends at the line end
        ("`multi\nline` x", ("multi\nline", 12)),
        ('"unterminated', ("unterminated", 13)),
        ('"ends in escape\\', ("ends in escape\\", 16)),
    ],
)
def test_read_js_string(source: str, expected: tuple[str, int]) -> None:
    assert read_js_string(source, 0) == expected


def test_read_js_string_is_linear_on_escape_heavy_literals() -> None:
    source = '"' + 'a\\"b' * 40_000 + '"'
    raw, end = read_js_string(source, 0)
    assert end == len(source) and len(raw) == len(source) - 2


# Pieces of the condition patterns in both letter cases, and neighbours that matter.
_CONDITION_PIECES = st.sampled_from(
    ["document", "DOCUMENT", ".", " ", "\n", "referrer", "Referer", "['referrer']", '"', "'",
     "[", "]", "navigator", "userAgent", "USERAGENT", "appVersion", "platform", "Baidu",
     "GOOGLE", "so.com", "sm.cn", "360.cn", "bot", "Bot/", "bot)", "bots", "spider", "Crawl",
     "HeadLess", "iPhone", "Windows Phone", "windows  phone", "_", "9", "x", "K", "k"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_CONDITION_PIECES, max_size=12).map("".join))
def test_ascii_condition_patterns_match_like_the_case_blind_ones(window: str) -> None:
    """_condition_near's case-sensitive patterns on lower-cased ASCII text find what the
    re.I ones find on the text as written."""
    assert window.isascii()
    # lower() of a pattern would turn \S, \W, \D or \B into their opposites
    assert not any(re.search(r"\\[A-Z]", p.pattern) for p in _CONDITIONS)
    for blind, fast in zip(_CONDITIONS, _CONDITIONS_ASCII, strict=True):
        assert (blind.search(window) is None) == (fast.search(window.lower()) is None)


def reference_written_literals(text: str, pos: int) -> str:
    """_written_literals() one character at a time."""
    parts = []
    i = pos
    end = min(len(text), pos + MAX_LITERAL)
    while i < end and len(parts) < 200:
        ch = text[i]
        if ch in "'\"`":
            raw, i = read_js_string(text, i)
            parts.append(_unescape_js(raw))
            continue
        if ch in ";\n" or (ch == ")" and not parts):
            break
        if ch == ")":
            rest = text[i + 1 : i + 3].lstrip()
            if not rest.startswith("+"):
                break
        i += 1
    return "".join(parts)


_WRITE_PIECES = st.sampled_from(
    ["'<a>'", '"x"', "`t`", "'\\''", "+", " ", ")", ";", "\n", "(", "a", "'open", "\\"]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_WRITE_PIECES, max_size=15).map("".join))
def test_written_literals_like_one_character_at_a_time(text: str) -> None:
    for pos in range(min(len(text), 4)):
        assert _written_literals(text, pos) == reference_written_literals(text, pos)
