"""Lower-case brand tokens (``slot777``) are found forward, each letter-digits run
checked where it stands, as the earlier pass over the reversed class string found them.

The reference below is that reversed pass, kept here for this test only.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from hijackwatch.detect import detectors
from hijackwatch.detect.detectors import _BRAND_TOKEN

_REVERSED = re.compile(rb"00(?<![Aa0_]00)0*+[Aa]*+(?<=a) ")


def _reference(classes: bytes) -> list[tuple[int, int]]:
    n = len(classes)
    return [(n - m.end() + 1, n - m.start()) for m in _REVERSED.finditer(classes[::-1])][::-1]


def _lower(classes: bytes) -> list[tuple[int, int]]:
    first = detectors._LETTER_DIGITS.search(classes)
    return [] if first is None else detectors._lower_spans(classes, first.start())


# Class strings as _brand_spans() makes them: a space first, then classes.
_CLASSES = st.lists(
    st.one_of(st.sampled_from([b" ", b"A", b"a", b"0", b"_"]), st.sampled_from([b"a00", b" a0"])),
    max_size=60,
).map(lambda parts: b" " + b"".join(parts))


@settings(max_examples=3000, deadline=None)
@given(_CLASSES)
def test_lower_spans_are_the_reversed_pass(classes: bytes) -> None:
    assert _lower(classes) == _reference(classes)


_TEXT = st.lists(
    st.one_of(
        st.sampled_from(["slot777", "ab12", "x_ab12", "Ab12", "a1", " ", "_", "0", "中", "é",
                         "ǅ", "٣", "q", "Z", "\ud800", "\n", "12ab34", "MAXWIN88", "SpinRoyale",
                         "UFABET", "LuckyJet777", "ＳＬＯＴ７７７", "x86", "AB1", "-", "|", "【"]),
        st.text(max_size=3),
    ),
    max_size=25,
).map("".join)  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(_TEXT)
def test_brand_tokens_are_the_token_regex_matches(text: str) -> None:
    assert sorted(detectors.brand_tokens(text)) == sorted(_BRAND_TOKEN.findall(text))


def test_long_letter_digit_runs_are_found_in_linear_time() -> None:
    """Runs without a space between them: each run's space search stops at the one before."""
    text = "a00_" * 20_000 + " slot777"
    assert detectors.brand_tokens(text) == ["slot777"]
