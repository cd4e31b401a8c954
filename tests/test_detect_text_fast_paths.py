"""The fast text paths give exactly what their plain reference gives.

The lexicon is matched by an Aho-Corasick automaton with a post-filter for the rules
of the per-script trie regexes (kept as the reference and the fallback); normalise()
skips NFKC, zero-width removal and t2s where they cannot change anything.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hijackwatch.detect.document import parse
from hijackwatch.detect.lexicon import SEPARATOR, lexicon
from hijackwatch.detect.text import _T2S, _ZERO_WIDTH, _special, normalise

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
