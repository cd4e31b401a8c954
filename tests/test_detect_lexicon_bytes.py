"""The lexicon's bytes automaton finds what its str automaton finds, at the same
character offsets, in every text shape Lexicon._find() sends to it (ASCII texts, long
texts with few multi-byte characters)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hijackwatch.detect.lexicon import lexicon

_TERMS = sorted(lexicon().terms)
# One, two, three and four UTF-8 bytes; word characters and edges around Latin terms.
_EXTRAS = list("aZ_9 .-\né’—©ÀΣ中體สล็อต\u3000\u200b🌟\ud800")
_pieces = st.one_of(st.sampled_from(_TERMS), st.sampled_from(_EXTRAS), st.text(max_size=3))


def _str_automaton_matches(text: str) -> list[tuple[int, int, int]]:
    """The reference: every term occurrence as the str automaton reports it."""
    return sorted(lexicon()._automaton.find_matches_as_indexes(text, overlapping=True))


def _check(text: str) -> None:
    lex = lexicon()
    try:
        expected = _str_automaton_matches(text)
    except UnicodeEncodeError:  # lone surrogates: scan() falls back to the regexes
        with pytest.raises(UnicodeEncodeError):
            lex._find(text)
        return
    assert sorted(lex._find(text)) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 900), st.one_of(_pieces, st.sampled_from(_EXTRAS))),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),
)
def test_long_sparse_texts_match_like_the_str_automaton(
    parts: list[tuple[int, str]], ascii_only: bool
) -> None:
    filler = "Lorem ipsum casino dolor sit amet, slot online. " * 20
    text = "".join(filler[:n] + piece for n, piece in parts)
    text = filler[: max(0, 4200 - len(text))] + text
    if ascii_only:
        text = text.encode("ascii", "replace").decode("ascii")
    _check(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=40).map("".join))
def test_short_texts_match_like_the_str_automaton(text: str) -> None:
    _check(text)
