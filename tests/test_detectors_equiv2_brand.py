"""The brand-token search without a padded copy of the text gives what the padded
search gave (a copy of the old functions is the reference)."""

from __future__ import annotations

import re
from bisect import bisect_right

from hypothesis import given, settings
from hypothesis import strategies as st

from hijackwatch.detect import detectors
from hijackwatch.detect.detectors import (
    _CLASSES,
    _LETTER_DIGITS,
    _LOWER_LETTERS,
    _WORD,
    brand_like,
)

# The old _UPPER_SHAPE: a token after a space (the text was searched after one).
_OLD_UPPER = re.compile(
    rb"A(?<= A)(?=a*+[A0])(?:A++0++|[Aa]*+0{2,}+|a++A[Aa]*+0*+|A{4,}+)(?![Aa0_])"
)


def _old_lower_spans(classes: bytes, pos: int) -> list[tuple[int, int]]:
    spans = []
    after = 0
    for m in _LETTER_DIGITS.finditer(classes, pos):
        digits, end = m.span()
        start = classes.rfind(b" ", after, digits) + 1
        if start and _LOWER_LETTERS.fullmatch(classes, start, digits):
            spans.append((start, end))
        after = end
    return spans


def _old_brand_spans(padded: str) -> list[tuple[int, int]]:
    classes = padded.encode("ascii", "replace").translate(_CLASSES)
    spans = [m.span() for m in _OLD_UPPER.finditer(classes)]
    first = _LETTER_DIGITS.search(classes)
    if first is not None:
        spans.extend(_old_lower_spans(classes, first.start()))
    return [
        (start, end)
        for start, end in spans
        if not _WORD.match(padded, start - 1) and not _WORD.match(padded, end)
    ]


def _old_brand_tokens(text: str) -> list[str]:
    padded = " " + text
    return [padded[start:end] for start, end in _old_brand_spans(padded)]


def _old_brand_anchors(anchors: list[str]) -> set[int]:
    padded = " " + "\n".join(anchors)
    brands = [start for start, end in _old_brand_spans(padded) if brand_like(padded[start:end])]
    if not brands:
        return set()
    starts = []
    pos = 1
    for anchor in anchors:
        starts.append(pos)
        pos += len(anchor) + 1
    return {bisect_right(starts, start) - 1 for start in brands}


_PIECES = st.one_of(
    st.sampled_from(["slot777", "ab12", "x_ab12", "Ab12", "a1", " ", "_", "0", "中", "é", "ǅ",
                     "٣", "q", "Z", "\ud800", "\n", "12ab34", "MAXWIN88", "SpinRoyale", "UFABET",
                     "LuckyJet777", "ＳＬＯＴ７７７", "x86", "AB1", "-", "a00", "aa77_b88",
                     "BetNova"]),
    st.text(max_size=3),
)  # fmt: skip
_TEXT = st.lists(_PIECES, max_size=25).map("".join)


@settings(max_examples=3000, deadline=None)
@given(_TEXT)
def test_brand_tokens_match_the_padded_search(text: str) -> None:
    # Same tokens in the same order (the Counter of _brand_tokens keeps first-seen order).
    assert detectors.brand_tokens(text) == _old_brand_tokens(text)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_TEXT, max_size=6))
def test_brand_anchors_match_the_padded_search(anchors: list[str]) -> None:
    assert detectors._brand_anchors(anchors) == _old_brand_anchors(anchors)
