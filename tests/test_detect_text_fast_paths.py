"""The fast text paths give exactly what their plain reference gives.

The lexicon is matched by an Aho-Corasick automaton with a post-filter for the rules
of the per-script trie regexes (kept as the reference and the fallback); normalise()
skips NFKC, zero-width removal and t2s where they cannot change anything; simhash()
encodes tokens one by one.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hijackwatch.detect import css, detectors, summary
from hijackwatch.detect import text as text_module
from hijackwatch.detect.document import parse
from hijackwatch.detect.lexicon import SEPARATOR, _script, lexicon
from hijackwatch.detect.summary import _tokens, simhash
from hijackwatch.detect.text import (
    _HTTP_HOST,
    _SIMPLE_HOST,
    _T2S,
    _ZERO_WIDTH,
    _special,
    collapse_ws,
    has_cjk_thai,
    normalise,
)

CORPUS = Path(__file__).parent / "corpus"


def reference_normalise(text: str) -> str:
    """normalise() without its shortcuts: NFKC, zero-width removal, t2s, lower case."""
    if not text:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        _changeable, special, t2s, _cased = _special()
        if special.search(text) is not None:
            text = _ZERO_WIDTH.sub("", text)
            if t2s.search(text) is not None:
                text = _T2S.convert(text)
    return text.lower()


def _same(hits_a: object, hits_b: object) -> bool:
    keys = ("counts", "terms", "length", "covered")
    return all(getattr(hits_a, k) == getattr(hits_b, k) for k in keys)


def _corpus_texts() -> list[str]:
    texts = []
    for path in sorted(CORPUS.rglob("*.html"))[::3]:
        doc = parse(path.read_bytes().decode("utf-8", "replace"))
        texts.append(doc.text)
        texts.extend(text for _el, text in doc.blocks[:40])
    return texts


def test_corpus_texts_normalise_and_scan_like_the_reference() -> None:
    texts = _corpus_texts()
    assert len(texts) > 1000
    lex = lexicon()
    norms = [normalise(t) for t in texts]
    assert norms == [reference_normalise(t) for t in texts]
    matched = 0
    for norm in norms:
        fast = lex.scan(norm)
        assert _same(fast, lex._scan_regex(norm)), norm[:200]
        matched += bool(fast.counts)
    assert matched > 100  # the comparison covered real hits, not just empty results
    sample = [n.replace(SEPARATOR, " ") for n in norms[:300]]
    joined = SEPARATOR.join(sample)
    fast_many = lex.scan_many(sample)
    slow_many = lex._scan_many_regex(sample, joined)
    assert all(_same(a, b) for a, b in zip(fast_many, slow_many, strict=True))


_TERMS = sorted(lexicon().terms)
# Characters that sit on the edges of the rules: word characters next to Latin terms,
# full-width and compatibility forms, combining marks, zero-width, Traditional Chinese,
# Hangul, Greek sigma, Thai.
_EDGES = list("aZ_9 .-\n臺灣體育官網éeé\u0301ＡＢｃ１\u200b\u00adΣσ가각สล็อต\u3000")
_pieces = st.one_of(st.sampled_from(_TERMS), st.sampled_from(_EDGES), st.text(max_size=3))


@settings(max_examples=400, deadline=None)
@given(st.lists(_pieces, max_size=25).map("".join))
def test_random_mixtures_match_the_reference(text: str) -> None:
    assert normalise(text) == reference_normalise(text)
    lex = lexicon()
    norm = normalise(text)
    assert _same(lex.scan(norm), lex._scan_regex(norm))
    assert _same(lex.scan(text.lower()), lex._scan_regex(text.lower()))


# Long texts with few non-ASCII characters take normalise()'s sparse path; these
# characters exercise each of its branches (NFKC, also where its quick check cannot
# tell, and where it takes away a Traditional character; context-folded sigma, lower
# cases of other lengths, the Kelvin sign lowering to ASCII, lone surrogates).
_SPARSE_EXTRAS = list("ﬁ⼀㎏\u212aİΣσÉÀÖ…\xa0\ud800🌟\u0301\u0308豈½ǅ")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 600),
            st.one_of(_pieces, st.sampled_from(_SPARSE_EXTRAS), st.just("")),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_long_mostly_ascii_texts_match_the_reference(parts: list[tuple[int, str]]) -> None:
    filler = "Lorem Ipsum dolor SIT amet, consectetur. " * 16
    text = "".join(filler[:n] + piece for n, piece in parts)
    text = filler[: max(0, 2100 - len(text))] + text
    try:
        expected = reference_normalise(text)
    except UnicodeEncodeError:  # OpenCC takes no lone surrogate: nor does normalise()
        with pytest.raises(UnicodeEncodeError):
            normalise(text)
        return
    assert normalise(text) == expected


# Cased characters NFKC keeps, with the common characters normalise() swaps itself:
# the sparse path swaps those after lower-casing, unless a Σ is there.
_SWAPPED_AND_CASED = list("\xa0\u3000，：（）；！？…\u0e33ΣσςÉéÀΩİAz.")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 300), st.lists(st.sampled_from(_SWAPPED_AND_CASED), max_size=4)),
        min_size=1,
        max_size=20,
    )
)
def test_swaps_in_long_texts_match_the_reference(parts: list[tuple[int, list[str]]]) -> None:
    filler = "Lorem Ipsum dolor SIT amet, consectetur. " * 8
    text = "".join(filler[:n] + "".join(piece) for n, piece in parts)
    text = filler[: max(0, 2100 - len(text))] + text
    assert normalise(text) == reference_normalise(text)


def test_long_page_texts_normalise_like_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole texts of mostly-Latin pages, long enough for the sparse path."""
    texts = [t for t in _corpus_texts() if len(t) >= 2048 and not t.isascii()]
    # sparse enough for that path (one extra UTF-8 byte per 16 characters at most), with
    # the cases it hands back: Σ (lowered by context) and Traditional Chinese
    sample = ("Straße ÀÉÎ Ωmega ΣΑΣ naïve café " + "x" * 200) * 20 + "臺灣"
    texts.append(sample)
    sparse: list[str] = []
    real = text_module._normalise_sparse
    monkeypatch.setattr(
        text_module, "_normalise_sparse", lambda t, raw: sparse.append(t) or real(t, raw)
    )
    for text in texts:
        assert normalise(text) == reference_normalise(text)
    assert sample in sparse, "the sample no longer reaches the sparse path"


_ANCHOR_PIECES = st.one_of(
    st.sampled_from(["MAXWIN88", "slot777", "SpinRoyale", "UFABET", "LuckyJet777", "BetaBeat"]),
    st.sampled_from([" ", "\n", "_", "中", "é", "88", "a", "B", "-", "?"]),
    st.text(max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_ANCHOR_PIECES, max_size=6).map("".join), max_size=8))
def test_brand_anchors_like_one_search_per_anchor(anchors: list[str]) -> None:
    expected = {
        i
        for i, anchor in enumerate(anchors)
        if any(detectors.brand_like(token) for token in detectors.brand_tokens(anchor))
    }
    assert detectors._brand_anchors(anchors) == expected


def reference_simhash(text: str) -> int:
    """simhash() the plain way: tokens joined and encoded once, bits counted one by one."""
    tokens = _tokens(text)
    if not tokens:
        return 0
    # Joined by a space, which no token holds (a NUL may be inside one).
    joined = " ".join(tokens).encode("utf-8", "surrogatepass")
    th = [zlib.crc32(token) for token in joined.split(b" ")]
    th += [0] * max(0, 4 - len(th))
    hashes = {hash(tuple(th[i : i + 4])) for i in range(len(th) - 3)}
    result = 0
    for bit in range(64):
        if sum((h >> bit) & 1 for h in hashes) > len(hashes) / 2:
            result |= 1 << bit
    return result


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_pieces, st.sampled_from(["\ud800", "\udfff", "🌟"])), max_size=40))
@example(["a\x00b", "c", "d", "e"])  # a NUL inside a token
@example(["a\x00b", "c", "d", "\ud800"])  # the same with the lone-surrogate fallback
def test_simhash_like_the_reference(pieces: list[str]) -> None:
    text = " ".join(pieces)
    assert simhash(text) == reference_simhash(text)


def test_corpus_simhash_like_the_reference() -> None:
    for text in _corpus_texts()[::20]:
        assert simhash(text) == reference_simhash(text)


_HREF_PIECES = st.sampled_from(
    ["http://", "https://", "HTTP://", "//", "a", "Z", "-", ".", "_", "9", ":80", ":", "/", "?",
     "#", "@", "K", "ſ", "İ", "ı", "é", "%41", " ", "example.com", "EXAMPLE.CO.UK"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_HREF_PIECES, max_size=8).map("".join))
def test_http_host_shortcut_finds_what_simple_host_finds(href: str) -> None:
    fast = _HTTP_HOST.match(href)
    if fast is not None:
        simple = _SIMPLE_HOST.match(href)
        assert simple is not None and simple.group(1) == fast.group(1)


# Written out here, not imported: what has_cjk_thai() must agree with.
REFERENCE_CJK_THAI = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def test_cjk_thai_check_like_the_regex_for_every_character() -> None:
    """Before, in and past the first 256 characters, for every BMP character."""
    pad = "a" * 300 + "é"
    for point in [*range(0x10000), *range(0x10000, 0x110000, 101)]:
        char = chr(point)
        expected = REFERENCE_CJK_THAI.search(char) is not None
        assert has_cjk_thai(pad + char) == expected, hex(point)
        assert has_cjk_thai(char) == expected, hex(point)
        assert has_cjk_thai("é" * 200 + char + "b") == expected, hex(point)


# The edges of the ranges, characters sharing their UTF-8 lead bytes, lone surrogates
# (encoded by surrogatepass with lead byte ED, like Hangul) and astral characters.
_SCRIPT_EDGES = list(
    "a é\u0dff\u0e00\u0e7f\u0e80\u0900\u303f\u3040\u30ff\u3100\u33ff\u3400\u9fff"
    "\ua000\uabff\uac00\ud7af\ud7b0\ud800\udfff\uf900\uff21🌟"
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_SCRIPT_EDGES),
            st.text(max_size=4),
            st.integers(1, 300).map(lambda n: "x" * n),
        ),
        max_size=12,
    ).map("".join)
)
def test_cjk_thai_check_like_the_regex(text: str) -> None:
    assert has_cjk_thai(text) == (REFERENCE_CJK_THAI.search(text) is not None)


def test_one_cjk_thai_check_serves_every_caller() -> None:
    """Summary fingerprints, the headline-run detector and the lexicon's regex path all
    use has_cjk_thai(); the lexicon may gate its CJK and Thai regexes on it only because
    every non-Latin term holds such a character (else a match could be skipped)."""
    assert detectors._maybe_cjk_thai is has_cjk_thai
    assert summary.has_cjk_thai is has_cjk_thai
    terms = [t for t in lexicon().terms if _script(t) != "latin"]
    assert len(terms) > 200
    assert [t for t in terms if not has_cjk_thai(t)] == []


_WHITESPACE_RE = re.compile(r"\s+")  # what collapse_ws() must agree with
_SPACES = list(css._ASCII_WS + css._OTHER_WS)  # every character \s matches


def test_the_whitespace_lists_hold_every_whitespace_character() -> None:
    r"""css's anchors and collapse_ws() (str.split) rely on these being all of \s."""
    every = [c for c in map(chr, range(0x110000)) if c.isspace()]
    assert sorted(_SPACES) == every == [c for c in every if _WHITESPACE_RE.fullmatch(c)]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.sampled_from([*_SPACES, "a", "é", "\u200b"]), st.text(max_size=3))))
def test_collapse_ws_like_the_regex(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert collapse_ws(text) == _WHITESPACE_RE.sub(" ", text).strip()
