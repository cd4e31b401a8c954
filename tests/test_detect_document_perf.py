"""Shortcuts in document.parse that must not change what it finds: the stylesheet
cache, the page-aware selector query, the one-query repeated-id lookup."""

from __future__ import annotations

from lxml import etree

from hijackwatch.detect import css
from hijackwatch.detect.document import MAX_HIDDEN_SELECTORS, _selector_query, parse


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
