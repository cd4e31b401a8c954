"""Shortcuts in document.parse that must not change what it finds: the stylesheet
cache, the anchored stylesheet scan, the page-aware selector query, the one-query
repeated-id lookup."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from hijackwatch.detect import analyse, css
from hijackwatch.detect.document import (
    _END_TAGS,
    MAX_HIDDEN_SELECTORS,
    _first_end_tag,
    _selector_query,
    parse,
)


def test_selector_query_finds_what_the_element_predicate_finds() -> None:
    html = (
        "<html><body><div class='hide me'>a</div><p class='hidden-x'>b</p>"
        "<span id='gone'>c</span><span id='gone2'>d</span><i class='x' id='gone'>e</i>"
        "<b class='other'>f</b></body></html>"
    )
    root = etree.fromstring(html, etree.HTMLParser())
    classes, ids = ("hide", "hidden"), ("gone",)
    expected = root.xpath(
        "//*[contains(@class, 'hide') or contains(@class, 'hidden') or @id='gone']"
    )
    assert _selector_query(classes, ids)(root) == expected
    assert [el.tag for el in expected] == ["div", "p", "span", "i"]


def test_stylesheet_cache_compares_the_whole_text() -> None:
    """Same length and same ends, different middle: not the same stylesheet."""
    pad = "a{color:red}" * 30
    hiding = pad + ".x{display:none}" + pad
    plain = pad + ".x{display:bold}" + pad
    assert len(hiding) == len(plain)
    assert css.hidden_selectors(hiding) == (frozenset({"x"}), frozenset())
    assert css.hidden_selectors(plain) == (frozenset(), frozenset())
    assert css.hidden_selectors(hiding) == (frozenset({"x"}), frozenset())


def test_stylesheet_cache_is_bounded() -> None:
    for n in range(css._SELECTORS_CACHE_SIZE * 3):
        css.hidden_selectors(f".c{n}{{display:none}}")
    assert len(css._SELECTORS_CACHE) <= css._SELECTORS_CACHE_SIZE


def test_only_the_first_hidden_selectors_are_queried_even_if_unused() -> None:
    """Rules the page does not use still count toward the selector cap."""
    names = [f"h{n:02d}" for n in range(MAX_HIDDEN_SELECTORS + 1)]
    rules = "".join(f".{name}{{display:none}}" for name in names)
    last, first = names[-1], names[0]
    doc = parse(
        f"<html><head><style>{rules}</style></head><body><p>visible text here</p>"
        f"<div class='{last}'>past the cap</div><div class='{first}'>within the cap</div>"
        "</body></html>"
    )
    assert [block.text for block in doc.hidden_blocks] == ["within the cap"]
    assert "past the cap" in doc.text


def test_repeated_ids_in_first_use_order_quotes_skipped() -> None:
    cells = (
        "<span id='b'></span><span id='a'></span><span id=\"q'x\"></span>" * 3
        + "<span id='a'></span><span id='once'></span>"
    )
    doc = parse(f"<html><body>{cells}</body></html>")
    assert list(doc.ids) == ["b", "a"]
    assert [len(doc.ids[k]) for k in doc.ids] == [3, 4]
    spans = list(doc.root.iter("span"))
    assert doc.ids["a"] == [el for el in spans if el.get("id") == "a"]


def test_stylesheet_cache_is_bounded_in_characters() -> None:
    big = ".a{color:red}" * (css.MAX_STYLE_CHARS // 13)
    for n in range(css._CACHE_CHARS // css.MAX_STYLE_CHARS + 4):
        css.hidden_selectors(f".n{n}{{display:none}}" + big)
    held = sum(len(text) for text, _ in css._SELECTORS_CACHE.values())
    assert held <= css._CACHE_CHARS
    assert css._cached_chars == held


def _hint_positions_reference(low: str) -> list[int]:
    """One finditer pass per hint over the whole stylesheet: what the anchors replace."""
    return sorted(m.start() for hint in css._HIDING_HINTS for m in hint.finditer(low))


def test_whitespace_anchors_cover_what_backslash_s_matches() -> None:
    spaces = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert spaces == set(css._ASCII_WS) | set(css._OTHER_WS)
    assert all(w.isascii() for w in css._ASCII_WS)
    assert not any(w.isascii() for w in css._OTHER_WS)


def test_anchored_hint_search_finds_what_whole_text_passes_find() -> None:
    samples = [
        "",
        ".a{display:none}",
        ".a{display :\n none}.b{visibility: collapse}",
        ".a{opacity:0.5}#b{left:-9999px}.c{text-indent: \t-999em}",
        ".a{clip:rect(0 0 0 0);clip-path:inset(50%)}",
        ".a{font-size:1px}.b{font-size: 0}.c{font-size:2.5em !important}.d{font-size:1}",
        ".a{font-size:14px}.b{font-size:1 ;}.c{font-size :.5em}.d{font-size:\x0c1rem}",
        ".a{overflow-x:hidden;height:1px}.b{overflow:hidden}",
        "@media x{.a{display:none}}.b:hover{display:none}",
        # Anchors overlapping each other: leftmost-first matching reports one of them.
        ".a{font-size -100px}.b{font-size: -1000px}",
        ".a{font-size:\u3000-100px}.b{display:\xa0none}.c{font-size\u2003:0}",
        ".é{display:none}.b{font-size:1px}" * 3,
        "İ{display:none}" + ".a{font-size:1px}" * 40,  # lower() changes the length
        ".a{display:none}" * (css.MAX_HINT_RULES + 5),  # past the per-hint rule count
        ".a{display:none} b{font-size:1px}" * (css.MAX_ANCHORS + 1),  # past the anchor count
        "none" * 3000 + "{display:none}",  # one rule holding every anchor
        "x{display:none" + "}" * 3 + "{clip",
    ]
    for sample in samples:
        low = sample.lower()
        assert css._hint_positions(low) == _hint_positions_reference(low), sample


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "display", "none", "visibility", "hidden", "collapse", "opacity", "clip",
                "font-size", "size", "overflow", "-x", "-y", ":", ";", "{", "}", "!", " ",
                "\n", "\t", "\xa0", "\u3000", "-", ".", "0", "1", "2", "5", "px", "em",
                "rem", "a", "é", "İ",
            ]
        ),
        max_size=60,
    )
)  # fmt: skip
def test_anchored_hint_search_fuzzed(parts: list[str]) -> None:
    low = "".join(parts).lower()
    assert css._hint_positions(low) == _hint_positions_reference(low)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["<", "/", "</", "body", "BODY", "html", "HtMl", ">", " ", "\t", "\n", "\u3000",
             "\x85", "x", "div", "İ", "K", "ſ", "</body >", "</html\n>"]
        ),
        max_size=16,
    ).map("".join)
)  # fmt: skip
def test_first_end_tag_is_where_the_end_tag_pattern_matches(text: str) -> None:
    """The zero-width search of _first_end_tag starts where _END_TAGS matches."""
    m = _END_TAGS.search(text)
    assert _first_end_tag(text) == (m.start() if m else -1)


def test_numeric_references_to_control_characters_are_analysed_not_raised() -> None:
    """libxml2 decodes &#1; into the tree, and lxml refuses it when the walk writes the
    block separators back (a fuzzed page raised ValueError out of analyse())."""
    refs = [
        "&#1;",
        "&#x1f;",
        "&#11",
        "&#XFFFE;",
        "&#65535;",
        "&#0000008;",
        "&#xe;",
        "&#XF",
        "&#x0000000e;",
    ]
    for ref in refs:
        html = (
            f"<html><head><title>Town library</title></head><body><div>{ref}opening hours"
            f"</div><p>open{ref}</p><div style='display:none'>{ref}<a href='http://slot88.xyz/'>"
            "slot gacor</a><a href='http://judi.example/'>judi online</a></div>"
            f"<div>tail</div>{ref}after</body></html>"
        )
        for body in (html, html.encode()):
            analysis = analyse(body, "http://library.example.org/")
            assert analysis.error is None, (ref, analysis.error)
            assert any(f.kind == "hidden_links" for f in analysis.findings), ref
