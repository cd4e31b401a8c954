"""parse() hands libxml2 UTF-8 bytes instead of a non-ASCII str: the tree must be the
one lxml builds from the str (``etree.fromstring(text, document._PARSER)``, the
reference kept here), whatever charset the page's own <meta> or XML declaration names."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hijackwatch.detect import analyse, document
from hijackwatch.detect.decode import decode_body


def _str_tree(text: str) -> tuple[str, list[int | None]] | None:
    """The tree lxml builds from the str, as text plus source lines (hidden blocks are
    ordered by them)."""
    if not text or text.isspace():  # ("\x85" too: not parsed at all)
        return None
    try:
        root = etree.fromstring(text, document._PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
    return _shape(root)


def _shape(root: etree._Element | None) -> tuple[str, list[int | None]] | None:
    if root is None:
        return None
    lines = [el.sourceline for el in root.iter()]
    return etree.tostring(root.getroottree(), encoding="unicode"), lines


def assert_same_tree(text: str) -> None:
    expected = _str_tree(text)
    assert _shape(document._parsed(text)) == expected
    if text and not text.isspace():
        assert _shape(document._parsed(text, text.encode("utf-8"))) == expected


FRAGMENTS = st.sampled_from(
    [
        "<html>", "<head>", "</head>", "<body>", "<p>", "</p>", "<div class='é'>", "</div>",
        "<meta charset=gbk>", "<meta charset='big5'>", "<meta charset=utf-16>",
        "<meta charset=iso-8859-1>", "<meta charset=shift_jis>", "<meta charset=utf-8>",
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
        "<?xml version='1.0' encoding='latin-1'?>", "<?xml encoding='gbk'>", "<?xml ?>",
        "\ufeff", "&#233;", "&eacute;", "&#x4e2d;", "&#1;", "&#xFFFE;", "&#128512;", "&amp",
        "<![CDATA[ü]]>", "<!-- é -->", "<script>var s='中文';</script>", "<style>p{}</style>",
        "<title>Ünïcödé</title>", "<a href='/ü?q=中'>", "</a>", "<td>", "<table>", "<br>",
        "<textarea>", "</textarea>", "<", ">", "&", "'", '"', "=", "\n", " ", "\r\n",
    ]
)  # fmt: skip
# Latin-1 (lxml passes such a str as ISO-8859-1), BMP (UTF-16) and astral (UCS-4) text.
CHARS = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12"
    "\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\ufffe\uffff",
)
PIECES = st.one_of(FRAGMENTS, st.text(CHARS, max_size=8))


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=40).map("".join))
def test_utf8_parse_builds_the_str_tree(text: str) -> None:
    assert_same_tree(text)


@pytest.mark.parametrize(
    ("codec", "declared"),
    [
        ("cp1252", "gbk"),
        ("cp1252", "utf-16"),
        ("gb18030", "big5"),
        ("gb18030", "iso-8859-1"),
        ("big5hkscs", "shift_jis"),
        ("big5hkscs", "utf-8"),
        ("utf-8", "windows-1252"),
    ],
)
def test_meta_charset_does_not_switch_the_decoding(codec: str, declared: str) -> None:
    """The page's text is what decode_body made of it; libxml2 must not re-read it
    in the charset its <meta> names."""
    words = {"cp1252": "café Ünïcödé €", "gb18030": "中文网页 测试", "big5hkscs": "繁體中文"}
    text = (
        f"<html><head><meta charset={declared}><title>{words.get(codec, 'é')}</title></head>"
        f"<body><p>{words.get(codec, 'ü')}</p><a href='/{words.get(codec, 'é')}'>x</a></body>"
        "</html>"
    )
    body = text.encode(codec)
    decoded, _ = decode_body(body, codec)
    assert_same_tree(decoded)
    doc = document.parse(decoded)
    assert doc.root is not None
    assert words.get(codec, "ü") in doc.text
    assert analyse(body, encoding=codec).title == analyse(decoded).title


def test_lone_surrogates_keep_the_str_parse() -> None:
    """Text a caller called xml_safe may still hold one (no UTF-8 for it)."""
    for text in ("<p>\ud800x</p>", "<p>\udfff\u4e2d</p>", "\ud83d<p>\U0001f600"):
        assert _shape(document._parsed(text)) == _str_tree(text)
        document.parse(text, xml_safe=True)  # no UnicodeEncodeError


def test_too_deep_reads_the_parser_used() -> None:
    """A page past libxml2's nesting limit is flattened on both paths."""
    for filler in ("x", "é"):
        text = "<div>" * 3000 + filler + "spam casino" + "</div>" * 3000
        doc = document.parse(text)
        assert doc.root is not None
        assert "spam casino" in doc.text


def test_utf8_body_is_passed_through() -> None:
    """analyse() gives parse() the body itself only when it is the text's UTF-8."""
    seen: list[bytes | None] = []
    parse = document.parse

    def spy(text: str, url: str = "", **kwargs: object) -> document.Document:
        utf8 = kwargs.get("utf8")
        assert utf8 is None or utf8 == text.encode("utf-8")
        seen.append(utf8)  # type: ignore[arg-type]
        return parse(text, url, **kwargs)  # type: ignore[arg-type]

    from hijackwatch.detect import analysis

    analysis.parse = spy  # type: ignore[assignment]
    try:
        analyse("<p>中文</p>".encode())
        analyse(b"<p>\xe4\xb8\xad\xff</p>")  # a bad byte: decoded with U+FFFD
        analyse("<p>中文</p>".encode("gb18030"), encoding="gbk")
    finally:
        analysis.parse = parse  # type: ignore[assignment]
    assert seen[0] == "<p>中文</p>".encode()
    assert seen[1:] == [None, None]
