"""spelled_as() folds the slices it must check together, and none that spell a term
folding to itself: it gives what folding each slice on its own gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hijackwatch.detect.lexicon import lexicon, spelled_as
from hijackwatch.detect.text import normalise

_TERMS = sorted(lexicon().terms)
# Terms as pages write them: Traditional, full-width, upper-case, with zero-width
# characters inside; and characters that fold by context or change length.
_WRITTEN = [
    *_TERMS,
    "偽物", "賭博", "娛樂", "博彩網站", "ＣＡＳＩＮＯ", "Casino", "SLOT", "ca\u200bsino",
    "深沈", "答覆", "沈", "覆", "Σ", "ΑΣ", "é", "e\u0301", "㎏", "ﬁ", "İ", "\x1f", " ", "\n",
]  # fmt: skip
_ORIGINALS = st.lists(st.one_of(st.sampled_from(_WRITTEN), st.text(max_size=3)), max_size=12)


def reference_spelled_as(terms: list[str], original: str) -> list[str]:
    """spelled_as() as it was: each slice folded on its own."""
    if not original or original.isascii():
        return terms
    folded = normalise(original)
    if len(folded) != len(original):
        return terms
    out = []
    for term in terms:
        at = folded.find(term)
        spelled = original[at : at + len(term)] if at >= 0 else ""
        out.append(spelled if spelled and normalise(spelled) == term else term)
    return out


@settings(max_examples=1500, deadline=None)
@given(_ORIGINALS.map("".join), st.lists(st.sampled_from(_TERMS), max_size=8), st.booleans())
def test_spelled_as_matches_folding_each_slice(
    original: str, picked: list[str], give_folded: bool
) -> None:
    try:
        folded = normalise(original)
    except UnicodeEncodeError:  # lone surrogates: OpenCC takes none
        return
    # Terms the original holds (folded), and some it does not.
    terms = [t for t in _TERMS if t in folded][:8] + picked
    expected = reference_spelled_as(terms, original)
    assert spelled_as(terms, original, folded if give_folded else None) == expected
