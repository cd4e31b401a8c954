"""scan_scripts' shortcuts give what the plain searches they stand for give."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hijackwatch.detect.script import (
    _ACTION_MARKERS,
    _CHARS,
    _DECODER_MARKERS,
    _NEIGHBOURS,
    _WORDS,
    MAX_AUTOMATON_CHARS,
    _can_overlap,
    _char_codes,
    _Marker,
    _matches_any,
    _patterns_for,
    _safe_chr,
    _words_of,
)


def _glued(a: str, b: str) -> list[str]:
    """Texts where ``a`` and ``b`` overlap (each suffix of one that is a prefix of the
    other shared once), and ``a`` holding ``b`` when it does: the automaton reports
    non-overlapping matches only, so _words_of() must re-check such neighbours."""
    out = [a[: len(a) - k] + b for k in range(1, min(len(a), len(b))) if a.endswith(b[:k])]
    return out + ([a] if b in a else [])


_OVERLAPS = [text for a in _WORDS for b in _WORDS if a != b for text in _glued(a, b)]
# Marker words, their pieces, neighbours and overlaps (``documentitle``), and characters
# UTF-8 spells in several bytes (the automaton searches the UTF-8 of the script).
_PIECES = st.sampled_from(
    [*_WORDS, *_CHARS, *_OVERLAPS, "locat", "ion", "docu", "ment", "win", "dow", "ti", "tle",
     "x", "u",
     "`", " ", "\n", "\t", ".", "=", "==", "(", ")", "[", "]", "href", "replace", "write",
     "\x00", "\xe9", "\u4e2d", "\ud800", "\U0001f600", "\u3000", "\\x41", "\\u0041", "'+'",
     '" + "', "\\\\"]
)  # fmt: skip
_SCRIPTS = st.lists(_PIECES, max_size=20).map("".join)
_ALL_MARKERS = _DECODER_MARKERS + _ACTION_MARKERS


def test_neighbours_are_the_words_that_can_overlap() -> None:
    assert _OVERLAPS  # the marker words do overlap
    for text in _OVERLAPS:
        present = [w for w in _WORDS if w in text]
        assert any(b in _NEIGHBOURS[a] for a in present for b in present if a != b)
    assert not _can_overlap("document", "window")


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(_SCRIPTS, st.sampled_from([0, 0, MAX_AUTOMATON_CHARS // 2]), _SCRIPTS), max_size=5
    )
)
def test_words_found_like_substring_tests(parts: list[tuple[str, int, str]]) -> None:
    """The automaton (and, past its budget, the substring tests) finds every word of
    every script, and only there."""
    sources = [head + "z" * padding + tail for head, padding, tail in parts]
    expected = [{w for w in (*_WORDS, *_CHARS) if w in source} for source in sources]
    assert _words_of(sources) == expected


@settings(max_examples=2000, deadline=None)
@given(_SCRIPTS)
def test_every_match_holds_its_markers_words(source: str) -> None:
    """Skipping a marker whose words are missing loses no match."""
    for words, pattern in _ALL_MARKERS:
        if pattern is not None and pattern.search(source) is not None:
            assert all(word in source for word in words)


def reference_char_codes(arguments: str) -> str:
    """_char_codes() one argument at a time."""
    chars = []
    for part in arguments.split(","):
        part = part.strip()
        try:
            n = int(part, 16) if part[:2].lower() == "0x" else int(part)
        except ValueError:
            continue
        chars.append(_safe_chr(n))
    return "".join(chars)


_SPACES = st.sampled_from(["", " ", "\t", "\n", "\x0b", "\x1f", "\x85", "\xa0", "\u3000"])
_CODES = st.one_of(
    st.integers(0, 0x220000).map(str),
    st.integers(0, 0x220000).map(hex),
    st.integers(0, 0x220000).map(lambda n: f"0X{n:X}"),
    st.text(alphabet="0123456789abcdefABCDEFxX_", max_size=8),
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.tuples(_SPACES, _CODES, _SPACES).map("".join), max_size=30).map(",".join))
def test_char_codes_like_one_argument_at_a_time(arguments: str) -> None:
    assert _char_codes(arguments) == reference_char_codes(arguments)


def reference_any_match(markers: tuple[_Marker, ...], source: str, words: set[str]) -> bool:
    """The marker test scan_scripts() made before _patterns_for(): every marker tried."""
    for needed, pattern in markers:
        if needed <= words and (pattern is None or pattern.search(source) is not None):
            return True
    return False


@settings(max_examples=2000, deadline=None)
@given(_SCRIPTS)
def test_cached_patterns_match_like_every_marker(source: str) -> None:
    """The patterns kept per combination of words decide as trying every marker did."""
    (words,) = _words_of([source])
    decoder, action = _patterns_for(frozenset(words))
    assert _matches_any(decoder, source) == reference_any_match(_DECODER_MARKERS, source, words)
    assert _matches_any(action, source) == reference_any_match(_ACTION_MARKERS, source, words)
