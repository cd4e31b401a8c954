"""_words_of() finds every marker word of every script although its automaton
reports non-overlapping matches only: scripts here are built from words glued so
that they overlap (``documentitle``, ``\\unescape``), which that search skips."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hijackwatch.detect.script import _CHARS, _NEIGHBOURS, _WORDS, _can_overlap, _words_of


def _glued(a: str, b: str) -> list[str]:
    """Texts where ``a`` and ``b`` overlap (each suffix of one that is a prefix of the
    other shared once), and ``a`` holding ``b`` when it does."""
    out = [a[: len(a) - k] + b for k in range(1, min(len(a), len(b))) if a.endswith(b[:k])]
    return out + ([a] if b in a else [])


_OVERLAPS = [text for a in _WORDS for b in _WORDS if a != b for text in _glued(a, b)]
_PIECES = st.sampled_from([*_WORDS, *_CHARS, *_OVERLAPS, "x", " ", "\x00", "\xe9", "\ud800"])


def test_neighbours_are_the_words_that_can_overlap() -> None:
    assert _OVERLAPS  # the marker words do overlap
    for text in _OVERLAPS:
        present = [w for w in _WORDS if w in text]
        assert any(b in _NEIGHBOURS[a] for a in present for b in present if a != b)
    assert not _can_overlap("document", "window")


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_PIECES, max_size=12).map("".join), max_size=5))
def test_overlapping_words_are_all_found(sources: list[str]) -> None:
    expected = [{w for w in (*_WORDS, *_CHARS) if w in source} for source in sources]
    assert _words_of(sources) == expected
