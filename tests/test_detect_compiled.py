"""The compiled document walk (hijackwatch/detect/_walk.pyx) must find exactly what the
pure-Python walk finds and leave exactly the same tree: both paths run here, in one
process, on two parses of the same text."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hijackwatch.detect import css, document, text

compiled = pytest.mark.skipif(
    document._compiled_module is None, reason="compiled walk not built (setup.py)"
)


def test_compiled_walk_is_built_when_required() -> None:
    """CI sets HIJACKWATCH_REQUIRE_COMPILED=1: a missing extension is a failure there."""
    if os.environ.get("HIJACKWATCH_REQUIRE_COMPILED") != "1":
        pytest.skip("HIJACKWATCH_REQUIRE_COMPILED not set")
    assert document._compiled_module is not None, "run: pip install --no-build-isolation -e ."


def _path(el: etree._Element | None) -> str | None:
    return el.getroottree().getpath(el) if el is not None else None


def _facts(text: str, url: str, *, use_compiled: bool) -> dict[str, Any] | None:
    """Everything parse() records, elements as paths, plus the mutated tree."""
    saved = document._compiled
    document._compiled = document._compiled_module if use_compiled else None
    try:
        document.clear_cache()
        doc = document.parse(text, url)
        link_texts = [document.link_text(x) for x in doc.links]
    finally:
        document._compiled = saved
    if doc.root is None:
        return None
    return {
        "text": doc.text,
        "site": doc.site,
        "title": doc.title,
        "title_norm": doc.title_norm,
        "meta": [doc.meta_description, doc.meta_keywords],
        "refresh": doc.refresh,
        "canonical": doc.canonical,
        "alternates": doc.alternates,
        "headings": doc.headings,
        "scripts": doc.scripts,
        "script_srcs": doc.script_srcs,
        "blocks": [(_path(e), t) for e, t in doc.blocks],
        "links": [(x.href, x.domain, x.external, x.hidden, _path(x.element)) for x in doc.links],
        "link_texts": link_texts,
        "hidden": [
            (_path(b.element), b.reason, b.text, [x.href for x in b.links])
            for b in doc.hidden_blocks
        ],
        "iframes": [(_path(e), h) for e, h in doc.iframes],
        "ids": {k: [_path(e) for e in v] for k, v in doc.ids.items()},
        "misplaced": [_path(e) for e in doc.misplaced],
        "tree": etree.tostring(doc.root, encoding="unicode"),
    }


def assert_same(text: str, url: str = "https://www.example.gov.cn/a.html") -> None:
    assert _facts(text, url, use_compiled=True) == _facts(text, url, use_compiled=False)


FRAGMENTS = st.sampled_from(
    [
        "<div>", "</div>", "<p>", "</p>", "<br>", "<li>", "<ul>", "</ul>", "<span>", "</span>",
        "<h1>", "</h1>", "<h2>", "<h3>", "<h4>", "<td>", "<tr>", "<th>", "<table>", "</table>",
        "<select>", "</select>", "<datalist>", "<option>", "<option id='o'>", "<marquee>",
        "<marquee height=1>", "<marquee width='2px' style='color:red'>",
        "<marquee scrollamount=5000>", "</marquee>", "<noscript>", "</noscript>",
        "<link rel='amphtml canonical' href='https://slot88.example/amp'>",
        "<link rel=alternate href=/en/>", "<base href='http://bet.example/'>",
        "<img src=x onerror=\"location.href='http://bet.example/'\">", "<body onload='go()'>",
        "<svg onload=a() onpageshow=b()>", "<a href='https://bet365.example/'>",
        "<a href='/local'>", "<a href='#top'>", "<a href=''>", "<a>", "<a href='//x.example/'>",
        "</a>", "<iframe src='//x.example/'>", "</iframe>", "<div style='display:none'>",
        "<div style='visibility:hidden'>", "<p style='position:absolute;left:-9999px'>",
        "<span hidden>", "<div hidden=hidden style=''>", "<div class='hide x'>",
        "<div class='hide'>", "<b id='gone'>", "<i id='dup'>", "<i id='dup'>", "<i id=\"it's\">",
        "<style>.hide{display:none} #gone{display:none}</style>", "<style>", "</style>",
        "<script>var a=1;</script>", "<script src='/s.js'></script>", "<script src=''>",
        "</script>", "<title>", "</title>", "<title>Slot gacor</title>",
        "<meta name=description content='d'>", "<meta property='og:description' content='o'>",
        "<meta name=keywords content='k'>", "<meta property='og:url' content='https://o.example/'>",
        "<meta http-equiv=refresh content='0;url=http://a.example/'>", "<meta name=KEYWORDS>",
        "<link rel=canonical href='https://c.example/p'>", "<link rel=stylesheet href='x.css'>",
        "<base href='http://b.example/'>", "<noscript>", "</noscript>", "<template>",
        "</template>", "<head>", "</head>", "<body>", "</body>", "<html>", "</html>",
        "<body style='display:none'>", "<html hidden>", "<svg:a href='/ns'>", "<A HREF='/up'>",
        "【百家乐】", "澳門新葡京", "slot gacor", "&#30334;", "&#1;", "&#xE;", "&#65535;",
        "&#0;", "&#xD800;", "&nbsp;", "\x00", "\ufeff", "\u200b", "<!--", "-->", "<![CDATA[x]]>",
        "<", ">", "&", "'", '"', " ", "\n", "text", "<p>text</p>tail",
    ]
)  # fmt: skip
PAGES = st.lists(st.one_of(FRAGMENTS, st.text(max_size=12)), max_size=80).map("".join)


@compiled
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PAGES, st.sampled_from(["", "https://www.example.gov.cn/a.html", "http://[::1"]))
def test_compiled_walk_matches_pure_walk(text: str, url: str) -> None:
    assert_same(text, url)


@compiled
@pytest.mark.parametrize(
    "text",
    [
        "",
        "<p>",
        "plain text",
        # deep nesting, and hidden nested in hidden deeper than the 64 ancestors looked at
        "<div>" * 3000 + "x" + "</div>" * 3000,
        "<div style='display:none'>" + "<div>" * 70 + "<p hidden>in<a href='/h'>h</a></p>",
        "<div hidden><div hidden><a href='/a'>a</a></div>t</div>after",
        # hidden root and hidden body
        "<html style='display:none'><body><a href='/x'>x</a><p>t</p></body></html>",
        "<html><body hidden><p>t<iframe src='/f'></iframe></p></body></html>",
        # control-character references: the walk writes back what lxml refuses
        "<p>a&#1;b</p><div>c&#xFFFE;d</div>",
        "<td>&#x1f;</td>x",
        # huge attribute values, thousands of links (more than MAX_LINKS)
        "<div style='" + "color:red;" * 20_000 + "display:none'>x</div>",
        "<a href='https://" + "a" * 100_000 + ".example/'>x</a>",
        "".join(f"<a href='https://s{n % 700}.example/{n}'>{n}</a><br>" for n in range(6000)),
        "<div hidden>"
        + "".join(f"<a href='/h{n}'>h</a>" for n in range(3000))
        + "</div>"
        + "".join(f"<a href='/v{n}'>v</a>" for n in range(3000)),
        # more hiding attributes than are looked at, marquees beyond them
        "<span style='display:none'>s</span>" * 12_000 + "<marquee height=1>m</marquee>",
        "<span hidden style='x'>s</span>" * 10_001 + "<marquee scrollamount=9999>m</marquee>",
        # repeated ids, misplaced cells and options
        "<i id='r'>1</i>" * 1200 + "<b id='q'></b>" * 3,
        "<td>a</td><table><tr><td>b</td></tr></table><option>o</option>",
        "<table><td>a</td></table><select><option>o</option></select>",
        "<td>x</td>" * 10_005 + "<option>o</option>",
        "<table><tr><td><table></table><td>a</td></table><td>b</td><select><table>"
        "<option>o</option></table></select><datalist><option>p</option>",
        "<html><p>a</p></html><td>out</td><option>o</option>",
        # content after </html>, a second top-level element
        "<html><body><p>a</p></body></html><p>after</p>",
        "<html><body><td id='x'>a</td></body></html>\n<html><p id='x' hidden>b</p>"
        "<p id='x'>c</p></html>",
        "<?xml version='1.0'?><html><title>t</title><p>x</p></html>",
        "<script>" + "x" * 2_000_000 + "</script><script>y</script>",
        "<script src='/a.js'></script>" * 300,
        # tails split into several text nodes by stripped elements, ASCII and not
        "<div>a</div>x<script>s</script>y<style>q</style>中<p>b</p>z<template>t</template>w"
        "<br><meta name=x>\u00e9<link rel=x><title>t</title>",
        "<div hidden>a</div>x<script>s</script>y<span style='display:none'>b</span>"
        "<head><title>t</title></head>z",
    ],
)
def test_compiled_walk_matches_pure_walk_on_hostile_pages(text: str) -> None:
    assert_same(text)
    assert_same(text, "")


END_TAG_PIECES = st.sampled_from(
    [
        "<", "/", ">", "</", "</html>", "</body>", "</BODY >", "</HtMl\n\t>", "</body\u3000>",
        "</html\x1c\x85>", "</bodyx>", "</htm>", "</h", "html", "body", " ", "\u3c3c", "\u3c00",
        "\u2f00", "\U0001f600", "\u212a", "\u0130", "a", "中",
    ]
)  # fmt: skip


def _regex_first_end_tag(text: str) -> int:
    m = document._END_TAG_START.search(text)
    return m.start() if m is not None else -1


@compiled
@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(END_TAG_PIECES, st.text(max_size=5)), max_size=30).map("".join))
def test_compiled_end_tag_search_matches_the_regex(text: str) -> None:
    """All three string kinds (Latin-1, UCS-2, UCS-4), '<' bytes inside wider characters."""
    assert document._compiled_module.first_end_tag(text) == _regex_first_end_tag(text)


COMMENT_PIECES = st.sampled_from(
    [
        "/", "*", "/*", "*/", "//", "a", " ", "\u2f2a", "\u2a2f", "\u2f00", "/\u4e2d",
        "\U0001f600",
    ]
)  # fmt: skip


@compiled
@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(COMMENT_PIECES, st.text(max_size=4)), max_size=40).map("".join))
def test_compiled_comment_test_matches_str_search(css: str) -> None:
    """'/' and '*' bytes inside wider characters are not the characters."""
    assert document._compiled_module.has_comment(css) is ("/*" in css)


SIZE_PIECES = st.sampled_from(
    [
        "size", "font-size", "z", "si", "ze", ":", "0", "1", "2", "3", ".", "p", "e", "r",
        ";", "}", "!", " ", "\t", "\x0b", "\x1c", "\x1f", "\xa0", "-", "中", "x",
    ]
)  # fmt: skip


@compiled
@settings(max_examples=1500, deadline=None)
@given(st.lists(st.one_of(SIZE_PIECES, st.text(max_size=3)), max_size=40).map("".join))
def test_compiled_font_size_anchors_match_the_automaton(text: str) -> None:
    """The memchr search reports each match of css's font-size anchor automaton, with
    the same span and the same hints enabled."""
    automaton, enables = css._ANCHOR_AUTOMATA[1]
    data = text.lower().encode("utf-8", "surrogatepass")
    found = document._compiled_module.font_size_anchors(data)
    expected = automaton.find_matches_as_indexes(data)
    assert [(enables[a], s, e) for a, s, e in found] == [(enables[a], s, e) for a, s, e in expected]


# Code points of every string kind, surrogates and U+FFFE/U+FFFF included; long lists
# cross the 256-character blocks the compiled scan tests at once. Astral characters
# whose low 16 bits look like a surrogate or U+FFFE/U+FFFF must pass (the 4-byte
# kind's masks cover all 32 bits).
ANY_CHARS = st.lists(
    st.one_of(
        st.integers(0, 0x7F),
        st.integers(0, 0xFF),
        st.integers(0xD7F0, 0xE010),
        st.integers(0xFFF0, 0x1_0010),
        st.integers(0, 0x10_FFFF),
        st.integers(0x1_0000, 0x10_FFFF),
        st.integers(0, 0x10).map(lambda plane: (plane << 16) | 0xD800),
        st.integers(0, 0x10).map(lambda plane: (plane << 16) | 0xDFFF),
        st.integers(0, 0x10).map(lambda plane: (plane << 16) | 0xFFFE),
        st.integers(0, 0x10).map(lambda plane: (plane << 16) | 0xFFFF),
    ),
    max_size=700,
).map(lambda codes: "".join(map(chr, codes)))


@compiled
@settings(max_examples=1000, deadline=None)
@given(ANY_CHARS, st.sampled_from(["", "a" * 300, "\u4e2d" * 300, "\U0001f600" * 300]))
def test_compiled_control_character_check_matches_the_regex(text: str, pad: str) -> None:
    for sample in (text, pad + text, text + pad):
        expected = document._NON_XML.search(sample) is not None
        assert document._compiled_module.has_non_xml(sample) is expected


HREF_PIECES = st.sampled_from(
    [
        "http://", "https://", "HTTP://", "Https://", "http:", "https:/", "//", "/", "#", "?",
        ":", ":80", ":8080", ":123456", "@", "user:pw@", "\\", "%2e", "%41", "[::1]", "[", "]",
        "example.com", "Sub.Example.CO.uk", "bet365.example", "xn--fa-hia.de", "faß.de", "K",
        "\u212a", "localhost", "127.0.0.1", ".", "-", "_", "a", "Z", "9", " ", "\t", "\n",
        "\x0b", "\x1c", "\x85", "\xa0", "\u3000", "\u2028", "mailto:", "javascript:", "tel:",
        "data:", "ftp://", "./x", "../", "x:y", "中文", "\U0001f600", "h", "ht", "http",
    ]
)  # fmt: skip
HREFS = st.lists(st.one_of(HREF_PIECES, st.text(max_size=4)), min_size=1, max_size=12).map("".join)
URLS = st.sampled_from(
    ["", "https://www.example.gov.cn/a.html", "http://[::1", "http://Bet.Example:8080/x", "x"]
)


@compiled
@settings(max_examples=1000, deadline=None)
@given(URLS, st.lists(HREFS, min_size=1, max_size=6))
def test_compiled_link_domains_match_link_domain(url: str, hrefs: list[str]) -> None:
    """The compiled shortcuts give text.link_domain's answer, whatever the href (one
    LinkDomains per page: its host table is shared by the page's hrefs)."""
    document.clear_cache()
    domains = document._compiled_module.LinkDomains(url)
    for href in hrefs:
        if href:
            assert domains.get(href) == text.link_domain(url, href), href


@compiled
def test_compiled_visible_text_with_an_entity_reference() -> None:
    """libxml2's HTML parser makes no entity references; a tree that has one gets its
    text from tostring, as on the pure path."""
    texts = []
    for use_compiled in (True, False):
        saved = document._compiled
        document._compiled = document._compiled_module if use_compiled else None
        try:
            root = document._parsed("<div>a<p>b</p>c</div>")
            root.find(".//p").append(etree.Entity("amp"))
            doc = document.Document(url="", raw="", root=root)
            document._walk(doc, root)
        finally:
            document._compiled = saved
        texts.append((doc.text, etree.tostring(root)))
    assert texts[0] == texts[1]
    assert "&amp;" in texts[0][1].decode()


SELECTOR_NAMES = st.sampled_from(["hide", "hid", "x", "a-b", "_c", "é", "中", "ab", "b"])
CLASS_VALUES = st.lists(
    st.one_of(SELECTOR_NAMES, st.sampled_from([" ", "\n", "\t", "\u3000"]), st.text(max_size=3)),
    max_size=5,
).map("".join)


def _selector_page(parts: list[tuple[str, str, str | None, str | None]]) -> str:
    """Elements with optional class and id attributes (quoted by HTML escaping), some
    nested, some after </html> (a second top-level element)."""
    out = []
    for tag, after, cls, ident in parts:
        attrs = "".join(
            f' {name}="{value.replace("&", "&amp;").replace(chr(34), "&quot;")}"'
            for name, value in (("class", cls), ("id", ident))
            if value is not None
        )
        out.append(f"<{tag}{attrs}>{after}")
    return "".join(out)


@compiled
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["div", "p", "span", "td", "html", "b"]),
            st.sampled_from(["", "t", "</div>", "</p>", "</html>", "<!-- c -->", "&amp;"]),
            st.none() | CLASS_VALUES,
            st.none() | CLASS_VALUES,
        ),
        max_size=25,
    ),
    st.lists(SELECTOR_NAMES | st.text(min_size=1, max_size=3), max_size=5, unique=True),
    st.lists(SELECTOR_NAMES | CLASS_VALUES, max_size=4, unique=True),
    st.sampled_from([1, 3, document.MAX_SELECTED]),
)
def test_compiled_select_matches_the_xpath_query(
    parts: list[tuple[str, str, str | None, str | None]],
    classes: list[str],
    ids: list[str],
    limit: int,
) -> None:
    """_walk.select finds the elements (and in the order) the pure query finds; the
    pure one's id filter reads the page's ids, as the walk's scan gives them. (Names
    lxml refuses as XPath variables are left out: stylesheet names are [\\w-] only.)"""
    classes = [c for c in classes if document._NON_XML.search(c) is None]
    ids = [i for i in ids if document._NON_XML.search(i) is None]
    root = document._parsed(_selector_page(parts))
    if root is None:
        return
    id_values = document._ID_VALUES(root)
    saved = document.MAX_SELECTED
    document.MAX_SELECTED = limit
    try:
        expected = document._selected(root, id_values, tuple(classes), tuple(ids))
    finally:
        document.MAX_SELECTED = saved
    found = document._compiled_module.select(root, tuple(classes), tuple(ids), limit)
    assert found == expected


@compiled
@settings(max_examples=1000, deadline=None)
@given(st.text(st.characters(max_codepoint=0x7F), max_size=600))
def test_compiled_ascii_lowercasing_matches_str_lower(text: str) -> None:
    assert document._compiled_module.lower_ascii(text) == text.lower()
    with pytest.raises(ValueError):
        document._compiled_module.lower_ascii(text + "\xe9")


# <meta> and <link> attributes the compiled scan pre-reads to skip most of them without
# a call into document.py: case variants, a name that str.lower() maps to ASCII (the
# Kelvin sign), empty names that fall back to property, rel words inside others, a
# <meta> with a rel and a <link> with a name.
HEAD_WORDS = st.sampled_from(
    [
        "description", "DESCRIPTION", "og:description", "Og:Description", "keywords",
        "\u212aeywords", "og:url", "OG:URL", "refresh", "REFRESH", "Refresh ", "canonical",
        "CANONICAL", "alternate", "amphtml", "base", "BASE", "stylesheet", "icon",
        "preload", "x-canonical", "canonicalx", "alternate stylesheet", "\u0130con", "",
        " ", "viewport", "og:title", "description\u00a0", "ke", "og:", "&#75;eywords",
    ]
)  # fmt: skip
HEAD_ATTRS = st.sampled_from(["name", "property", "http-equiv", "rel", "content", "href"])
HEAD_TAGS = st.lists(
    st.tuples(
        st.sampled_from(["meta", "link", "META", "base"]),
        st.lists(
            st.tuples(HEAD_ATTRS, st.one_of(HEAD_WORDS, st.just("http://h.example/"))), max_size=4
        ),
    ),
    max_size=8,
).map(
    lambda tags: "".join(
        f"<{tag} " + " ".join(f"{a}='{v}'" for a, v in attrs) + ">" for tag, attrs in tags
    )
)


@compiled
@settings(max_examples=500, deadline=None)
@given(HEAD_TAGS)
def test_compiled_head_facts_match_pure_walk(text: str) -> None:
    assert_same(text + "<p>x</p>")
    assert_same(text, "")


@compiled
@settings(max_examples=300, deadline=None)
@given(PAGES, st.sampled_from([0, 70, 150]), st.randoms(use_true_random=False))
def test_compiled_top_most_matches_pure(text: str, depth: int, rnd: Any) -> None:
    """Any set of hidden elements, nested up to past the 64 ancestors looked at."""
    root = document._parsed("<div hidden>" * depth + text)
    if root is None:
        return
    hidden = {el: "r" for el in root.iter() if rnd.random() < 0.3}
    saved = document._compiled
    try:
        document._compiled = None
        pure = document._top_most(hidden)
        document._compiled = document._compiled_module
        assert document._top_most(hidden) == pure
    finally:
        document._compiled = saved


def test_compiled_tree_edits_in_c() -> None:
    """The compiled module found libxml2's tree functions in lxml.etree (else strip and
    visible leave their edits to lxml: same tree, slower)."""
    if document._compiled_module is None:
        pytest.skip("compiled walk not built (setup.py)")
    assert document._compiled_module.EDITS_IN_C


@compiled
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PAGES, st.randoms(use_true_random=False))
def test_compiled_strip_matches_strip_elements(text: str, rnd: Any) -> None:
    """_walk.strip leaves the tree lxml's strip_elements leaves; elements still
    referred to inside removed subtrees (hidden ones the walk keeps) stay readable,
    the rest is freed."""
    trees = []
    for use_compiled in (True, False):
        root = document._parsed(text)
        if root is None:
            return
        rnd_state = rnd.getstate()
        kept = [el for el in root.iter() if rnd.random() < 0.2]
        rnd.setstate(rnd_state)
        if use_compiled:
            document._compiled_module.strip(root)
        else:
            etree.strip_elements(root, *document._SKIP, with_tail=False)
        trees.append(
            (
                etree.tostring(root),
                [(etree.tostring(el), el.getparent() is None) for el in kept],
            )
        )
    assert trees[0] == trees[1]
