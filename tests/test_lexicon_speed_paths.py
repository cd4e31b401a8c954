"""Lexicon scans (int match keys, set lookups at word edges, the page text's UTF-8 kept
by normalise()) against the code they replaced, which stays here as the reference; and
normalise() of mid-length texts, which now take the sparse path too."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hijackwatch.detect.lexicon import _RANK_SHIFT, SEPARATOR, Lexicon, SpamHits, lexicon
from hijackwatch.detect.text import known_utf8, normalise
from tests.test_detect_text_fast_paths import _SPARSE_EXTRAS, reference_normalise

_LEX = lexicon()
# Terms, word characters and edges around them, one- to four-byte UTF-8, Σ (folded by
# context), swapped characters (nbsp, …), zero-width and Traditional characters.
_EXTRAS = list("aZ_9 .-\n\té’—©ÀΣ中體สล็อต\xa0…\u3000\u200b🌟")
_PIECES = st.one_of(
    st.sampled_from(sorted(_LEX.terms)),
    st.sampled_from(_EXTRAS),
    st.text(alphabet="".join(_EXTRAS) + "abc", max_size=3),
    st.just(SEPARATOR),
)
_FILLER = "Lorem ipsum casino dolor sit amet, slot online. " * 60


def _old_accepted(lex: Lexicon, text: str, found: list[tuple[int, int, int]]) -> list:
    """The old Lexicon._accepted(): ((rank, start), (end, index)), longest per start
    by comparing ends."""
    size = len(text)
    best: dict[tuple[int, int], tuple[int, int]] = {}
    for index, start, end in found:
        if lex._latin[index]:
            if start:
                before = text[start - 1]
                if before.isalnum() or before == "_":
                    continue
            if end < size:
                after = text[end]
                if after.isalnum() or after == "_":
                    continue
        gate = lex._gate[index]
        if gate is not None and gate.search(text) is None:
            continue
        key = (lex._base[index] >> _RANK_SHIFT, start)
        old = best.get(key)
        if old is None or end > old[0]:
            best[key] = (end, index)
    return sorted(best.items())


def _old_offsets(texts: list[str]) -> list[int]:
    starts = []
    pos = 0
    for text in texts:
        starts.append(pos)
        pos += len(text) + 1
    return starts


def _old_tally(lex: Lexicon, matches: list, texts: list[str]) -> list[SpamHits | None]:
    """The old Lexicon._tally(), coverage reset per script."""
    starts = _old_offsets(texts)
    hits: list[SpamHits | None] = [None] * len(texts)
    per_text: dict[int, list] = {}
    for match in matches:
        per_text.setdefault(bisect_right(starts, match[0][1]) - 1, []).append(match)
    for i, text_matches in per_text.items():
        text_hits = hits[i] = SpamHits(Counter(), {}, len(texts[i]))
        counts = text_hits.counts
        counts.update([lex._words[index] for _key, (_end, index) in text_matches])
        rank = reach = covered = 0
        for (script, start), (end, index) in text_matches:
            if lex._weights[index]:
                if script != rank:
                    rank, reach = script, 0
                if end > reach:
                    covered += end - max(start, reach)
                    reach = end
        text_hits.covered = covered
        text_hits.terms = {t: lex.terms[t] for t in counts}
    return hits


def _old_scan_each(texts: list[str]) -> list[SpamHits | None]:
    joined = SEPARATOR.join(texts)
    found = _LEX._automaton.find_matches_as_indexes(joined, overlapping=True)
    return _old_tally(_LEX, _old_accepted(_LEX, joined, found), texts)


def _key(hits: SpamHits | None) -> object:
    if hits is None:
        return None
    return list(hits.counts.items()), list(hits.terms.items()), hits.covered, hits.length


def _check(texts: list[str]) -> None:
    expected = _old_scan_each(texts)
    assert [_key(hits) for hits in _LEX.scan_each(texts)] == [_key(h) for h in expected]
    assert _LEX.spammy_each(texts) == [h is not None and h.spammy() for h in expected]
    if len(texts) == 1:
        empty = SpamHits(Counter(), {}, len(texts[0]))
        assert _key(_LEX.scan(texts[0])) == _key(expected[0] or empty)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=30))
@example(["casino", "casino online", "online"])  # overlapping Latin terms
@example(["娱乐官方网站"])  # overlapping CJK terms
def test_scans_match_the_old_accepted_and_tally(pieces: list[str]) -> None:
    text = "".join(pieces).replace("\ud800", "")
    _check(text.split(SEPARATOR))
    _check([text.replace(SEPARATOR, " ")])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 900), _PIECES), min_size=1, max_size=25),
    st.booleans(),
)
def test_long_folded_texts_scan_like_the_old_code(parts: list[tuple[int, str]], many: bool) -> None:
    """Long texts with few multi-byte characters: folded through their UTF-8, which
    the scan then takes from normalise() instead of encoding the text again."""
    text = "".join(_FILLER[:n] + piece for n, piece in parts)
    text = _FILLER[: max(0, 4200 - len(text))] + text
    if not many:
        text = text.replace(SEPARATOR, " ")
    norm = normalise(text)
    utf8 = known_utf8(norm)
    if utf8 is not None:
        assert utf8 == norm.encode("utf-8")
    _check(norm.split(SEPARATOR) if many else [norm])  # [norm]: scanned by its UTF-8


def test_known_utf8_only_for_the_last_folded_text() -> None:
    line = "Casino online, more words for a longer line ’ "  # few multi-byte characters
    first = normalise(line * 100)
    assert known_utf8(first) == first.encode("utf-8")
    assert known_utf8(line.lower() * 100) is None  # equal, but not that text
    second = normalise("Slot " + line * 100)
    assert known_utf8(first) is None
    assert known_utf8(second) == second.encode("utf-8")
    assert known_utf8(normalise(line * 100 + "\ud800")) is None  # UTF-8 cannot hold it
    _check([second])
    _check([normalise("Casino—" + line * 100 + "slot online")])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 120), st.one_of(_PIECES, st.sampled_from(_SPARSE_EXTRAS))),
        min_size=1,
        max_size=12,
    ),
    st.integers(512, 2100),
)
def test_mid_length_texts_normalise_like_the_reference(
    parts: list[tuple[int, str]], length: int
) -> None:
    """Texts from 512 characters on take the sparse path when few of their characters
    are multi-byte (and the direct one otherwise)."""
    text = "".join(_FILLER[:n] + piece for n, piece in parts)
    text = _FILLER[: max(0, length - len(text))] + text
    try:
        expected = reference_normalise(text)
    except UnicodeEncodeError:  # OpenCC takes no lone surrogate: nor does normalise()
        with pytest.raises(UnicodeEncodeError):
            normalise(text)
        return
    assert normalise(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_the_automata_report_matches_in_the_order_they_end(text: str) -> None:
    """Lexicon._accepted() keeps the last match at each start as the longest."""
    for found in (
        _LEX._automaton.find_matches_as_indexes(text, overlapping=True),
        _LEX._bytes_automaton.find_matches_as_indexes(text.encode("utf-8"), overlapping=True),
    ):
        ends = [end for _index, _start, end in found]
        assert ends == sorted(ends)
