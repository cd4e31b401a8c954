"""decode._decode() gives exactly what ``bytes.decode(codec, errors="replace")`` gives.

It sends only the stretches holding non-ASCII bytes through the multi-byte CJK codecs;
the tests shrink its chunk sizes so that random inputs cross many stretch ends.
"""

from __future__ import annotations

from functools import lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hijackwatch.detect import decode
from hijackwatch.detect.decode import _ASCII_MULTIBYTE, _decode

CODECS = sorted(_ASCII_MULTIBYTE)
# Latin-1 and Greek/Cyrillic letters, punctuation, kana, full-width forms and a
# sample of the CJK and Hangul blocks (a few thousand: hypothesis draws fast).
_CANDIDATES = [
    chr(c)
    for a, b, step in ((0x80, 0x500, 1), (0x2000, 0x2200, 1), (0x3000, 0x3100, 1),
                       (0x4E00, 0xA000, 7), (0xAC00, 0xD7A4, 7), (0xFF00, 0xFFF0, 1))
    for c in range(a, b, step)
]  # fmt: skip


@lru_cache
def _repertoire(codec: str) -> list[str]:
    """The candidate characters ``codec`` can encode."""
    out = []
    for char in _CANDIDATES:
        try:
            char.encode(codec)
        except UnicodeEncodeError:
            continue
        out.append(char)
    return out


def _encodable(codec: str) -> st.SearchStrategy[bytes]:
    """Valid text in ``codec``."""
    chars = st.sampled_from(_repertoire(codec))
    return st.text(chars, max_size=20).map(lambda text: text.encode(codec))


def _pieces(codec: str) -> st.SearchStrategy[bytes]:
    """Runs of ASCII, of valid multi-byte text and of arbitrary bytes, joined."""
    piece = st.one_of(
        st.binary(max_size=30).map(lambda b: bytes(c & 0x7F for c in b)),
        _encodable(codec),
        _encodable(codec),
        st.binary(max_size=6),
    )
    return st.lists(piece, max_size=12).map(b"".join)


@pytest.mark.parametrize("sizes", [(8, 2), (1024, 128)])
@pytest.mark.parametrize("codec", CODECS)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_decode_matches_codec(codec: str, sizes: tuple[int, int], data: st.DataObject) -> None:
    body = data.draw(_pieces(codec))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(decode, "_CHUNK", sizes[0])
        patch.setattr(decode, "_SUB", sizes[1])
        assert _decode(body, codec) == body.decode(codec, errors="replace")


@pytest.mark.parametrize("codec", CODECS)
def test_decode_long_pages(codec: str) -> None:
    """Pages longer than the chunks: text at the start, the end and across chunk ends."""
    text = "中文かな한국어ｶﾅ"
    encoded = text.encode(codec, errors="ignore")
    for head in (0, 1, 127, 128, 1023, 1024, 1025, 3000):
        for tail in (0, 1, 2, 129, 1500):
            body = encoded + b"x" * head + encoded * 3 + b"<p>" * tail + encoded[:-1]
            assert _decode(body, codec) == body.decode(codec, errors="replace")
