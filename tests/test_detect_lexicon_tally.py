"""Lexicon._tally (counts in C, coverage per text) against the per-match loop it
replaced, which stays here as the reference."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from hijackwatch.detect.lexicon import (
    _RANK_SHIFT,
    _START_MASK,
    SEPARATOR,
    SpamHits,
    _offsets,
    lexicon,
)

_LEX = lexicon()
_PIECES = st.one_of(
    st.sampled_from(sorted(_LEX.terms)),
    st.text(alphabet=" _a1-.\n\u0e01\u4e00\u00e9", max_size=3),
    st.just(SEPARATOR),
)


def _reference(texts: list[str]) -> list[SpamHits | None]:
    """scan_each() by the old loop: one match at a time, coverage reset per script."""
    joined = SEPARATOR.join(texts)
    hits: list[SpamHits | None] = [None] * len(texts)
    found = _LEX._find(joined)
    if not found:
        return hits
    starts = _offsets(texts)
    rank = 0
    reach: dict[int, int] = {}
    for key, end_key, index in _LEX._accepted(joined, found):
        script, start, end = key >> _RANK_SHIFT, key & _START_MASK, end_key & _START_MASK
        word = _LEX._words[index]
        i = bisect_right(starts, start) - 1
        if hits[i] is None:
            hits[i] = SpamHits(Counter(), {}, len(texts[i]))
        text_hits = hits[i]
        assert text_hits is not None
        text_hits.counts[word] += 1
        text_hits.terms[word] = _LEX.terms[word]
        if script != rank:
            rank, reach = script, {}
        if _LEX.terms[word].weight:
            last = reach.get(i, 0)
            if end > last:
                text_hits.covered += end - max(start, last)
                reach[i] = end
    return hits


def _key(hits: SpamHits | None) -> object:
    if hits is None:
        return None
    return list(hits.counts.items()), list(hits.terms.items()), hits.covered, hits.length


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=14))
def test_tally_counts_as_the_per_match_loop(pieces: list[str]) -> None:
    texts = "".join(pieces).split(SEPARATOR)
    expected = [_key(hits) for hits in _reference(texts)]
    assert [_key(hits) for hits in _LEX.scan_each(texts)] == expected
    whole = " ".join(texts)
    expected_whole = _reference([whole])[0] or SpamHits(Counter(), {}, len(whole))
    assert _key(_LEX.scan(whole)) == _key(expected_whole)
