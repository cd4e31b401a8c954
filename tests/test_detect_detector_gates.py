"""The detectors' cheap gates skip only work whose result they prove empty.

A title is searched for an unlisted brand only when its whole text (and folded text)
holds a brand-like token; evidence is clipped from a prefix. (brand_tokens() itself is
checked against its regex in test_detect_brand_spans.)
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hijackwatch.detect import detectors
from hijackwatch.detect.detectors import _BRAND_TOKEN, _TITLE_SEGMENTS, brand_like
from hijackwatch.detect.text import clip, normalise

_PIECES = st.one_of(
    st.sampled_from(
        ["MAXWIN88", "slot777", "SpinRoyale", "UFABET", "LuckyJet777", "BetaBeat", "BetNova",
         "ＳＬＯＴ７７７", "x86", "i18n", "Ab12", "AB1", "ab_12", "News", "home"]
    ),
    st.sampled_from(
        [" ", "\n", "_", "中", "é", "88", "0", "a", "B", "-", "|", "–", "：", "【", "】", "《",
         ",", "\u3000", "\u200b", "ǅ"]
    ),
    st.text(max_size=3),
)  # fmt: skip
_TEXTS = st.lists(_PIECES, max_size=12).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_TEXTS)
def test_title_without_brand_has_no_brand_segment(title: str) -> None:
    """What _unlisted_brand() would judge (each segment, as written or folded) holds a
    brand-like token only if _has_brand() says so for the title or its folded form."""
    folded = normalise(title)
    pieces = [s.strip() for s in _TITLE_SEGMENTS.split(title)]
    pieces += [s.strip() for s in _TITLE_SEGMENTS.split(folded)]
    if any(brand_like(t) for piece in pieces for t in _BRAND_TOKEN.findall(piece)):
        assert detectors._has_brand(title) or detectors._has_brand(folded)


_EVIDENCE = st.lists(
    st.one_of(
        st.text(st.sampled_from(" \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000\u200bab中…"), max_size=40),
        st.sampled_from(["word ", "x" * 300, " " * 700, "\n" * 650, "a b " * 200, "y" * 1300]),
        st.text(max_size=20),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(_EVIDENCE)
def test_finding_evidence_is_clipped_evidence(evidence: str) -> None:
    assert detectors._finding("k", "high", evidence).evidence == clip(evidence, 600)
