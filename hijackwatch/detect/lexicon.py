"""Spam lexicons (one data file per language) matched in one Aho-Corasick pass.

The rules of a match (per script, longest term at each start, Latin terms between
word boundaries) are those of one trie regex per script, which stay as the
reference and as the fallback for text UTF-8 cannot hold (lone surrogates). A
trie-shaped alternation lets ``re`` test only branches that share the current
character, without backtracking blow-ups (no nested quantifiers in the pattern).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import resources
from itertools import accumulate

import ahocorasick_rs

from hijackwatch.detect.text import has_cjk_thai, known_utf8, normalise, normalise_many

LANGUAGES = ("zh", "en", "id", "ja", "vi", "th")
STRONG = 3


@dataclass(frozen=True, slots=True)
class Term:
    term: str
    weight: int  # 0 = counter-context, 1 weak, 2 suspicious, 3 strong
    category: str
    language: str


@dataclass(slots=True)
class SpamHits:
    """Lexicon hits in one piece of text."""

    counts: Counter[str]
    terms: dict[str, Term]
    length: int
    covered: int = 0  # characters of the text inside spam terms (overlaps counted once)

    @property
    def spam_terms(self) -> list[str]:
        return [t for t, term in self.terms.items() if term.weight > 0]

    @property
    def distinct(self) -> int:
        return sum(1 for term in self.terms.values() if term.weight > 0)

    @property
    def weight(self) -> int:
        """Sum of weights of distinct spam terms (repeats do not count twice)."""
        return sum(term.weight for term in self.terms.values())

    @property
    def strong(self) -> int:
        return sum(1 for term in self.terms.values() if term.weight >= STRONG)

    @property
    def occurrences(self) -> int:
        return sum(n for t, n in self.counts.items() if self.terms[t].weight > 0)

    @property
    def counter(self) -> int:
        """Distinct counter-context terms (police, court, revenue...)."""
        return sum(1 for term in self.terms.values() if term.weight == 0)

    @property
    def categories(self) -> Counter[str]:
        return Counter(t.category for t in self.terms.values() if t.weight > 0)

    def spammy(self) -> bool:
        """Enough to call a short piece of text (title, anchor, hidden block) spam."""
        if not self.terms:  # most anchors and blocks: skip the three sums
            return False
        return self.strong >= 1 or (self.weight >= 4 and self.distinct >= 2)

    def describe(self, limit: int = 8, original: str = "", folded: str | None = None) -> str:
        """The strongest terms; spelled as ``original`` (the text these hits were found
        in, before folding) spells them where that can be told, so a webmaster can
        search the page for them (偽物, not the folded 伪物). ``folded``: normalise()
        of ``original``, when the caller has it."""
        ranked = sorted(self.spam_terms, key=lambda t: (-self.terms[t].weight, -self.counts[t]))
        return ", ".join(spelled_as(ranked[:limit], original, folded))


def spelled_as(terms: list[str], original: str, folded: str | None = None) -> list[str]:
    """``terms`` (folded) as ``original`` writes them, where folding kept every
    character in place (NFKC, Traditional to Simplified and lower-casing mostly do);
    elsewhere, and for terms not found, the folded term. ``folded``: normalise() of
    ``original``, if known."""
    if not original or original.isascii():  # ASCII: only the case differs
        return terms
    if folded is None:
        folded = normalise(original)
    if len(folded) != len(original):
        return terms
    out = []
    unsure = []  # (index in out, slice): slices that must be folded to be judged
    fixed = lexicon().fixed
    for term in terms:
        at = folded.find(term)
        spelled = original[at : at + len(term)] if at >= 0 else ""
        # equal totals can hide shifts (a removed zero-width character, ㎏ -> kg): the
        # slice must fold to the term itself, or the folded term is shown; a slice
        # spelled as a term that folds to itself needs no folding to tell
        if spelled and not (spelled == term and term in fixed):
            unsure.append((len(out), spelled))
        out.append(spelled or term)
    if unsure:
        # folded together: one pass (and one OpenCC call) for all the slices
        norms = normalise_many([spelled for _i, spelled in unsure])
        for (i, _spelled), norm in zip(unsure, norms, strict=True):
            if norm != terms[i]:
                out[i] = terms[i]
    return out


def _parse(language: str, text: str) -> list[Term]:
    terms = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        weight, category, term = line.split(" ", 2)
        # Terms go through the same folding as page text (t2s also maps Japanese kanji).
        terms.append(Term(normalise(term.strip()), int(weight), category, language))
    return terms


def _trie_pattern(words: list[str]) -> str:
    """A regex matching any of ``words``, longest first, shaped as a trie."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        end = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if end:
            return f"(?:{body})?"
        return body

    # Iterative depth is bounded by the longest term (a few dozen characters).
    return build(trie)


class Lexicon:
    """All languages' terms; ``scan(text)`` returns hits on already-normalised text."""

    def __init__(self, terms: list[Term]) -> None:
        self.terms: dict[str, Term] = {}
        for term in terms:
            old = self.terms.get(term.term)
            # The same word listed by two languages keeps the more cautious weight.
            if old is None or term.weight < old.weight:
                self.terms[term.term] = term
        # One regex per script, each run only when the text holds that script; a
        # first-character class up front lets re skip most positions cheaply, and the
        # capturing lookahead finds overlapping terms ("娱乐官方网站" holds both 娱乐官方
        # and 官方网站): at each position the longest term wins.
        groups: dict[str, list[str]] = {}
        for word in self.terms:
            groups.setdefault(_script(word), []).append(word)
        self.patterns: list[tuple[re.Pattern[str] | None, re.Pattern[str]]] = []
        for script, words in sorted(groups.items()):
            first = "[" + "".join(re.escape(c) for c in sorted({w[0] for w in words})) + "]"
            trie = _trie_pattern(words)
            # The first character is consumed (so re skips to candidates in C), then a
            # one-character lookbehind holding a lookahead captures the whole term.
            if script == "latin":
                pattern = rf"{first}(?<![\w].)(?<=(?=({trie})(?![\w])).)"
            else:
                pattern = rf"{first}(?<=(?=({trie})).)"
            self.patterns.append((_SCRIPT_PRESENT.get(script), re.compile(pattern)))
        # The same rules over one automaton of every term: Rust reports each occurrence
        # of each term in one pass, faster than the regexes, which
        # test a lookbehind at nearly every letter of Latin text. Per term: its script's
        # rank in the regexes' order, whether it needs word boundaries, and the regex
        # that must find its script in the text before it counts (None: the term holds
        # such a character itself, so a match proves the script is present).
        ranks = {script: rank for rank, script in enumerate(sorted(groups))}
        self._words = list(self.terms)
        self._base = []  # script rank << _RANK_SHIFT: where the term's script's keys start
        self._latin = []
        self._gate: list[re.Pattern[str] | None] = []
        for word in self._words:
            script = _script(word)
            present = _SCRIPT_PRESENT.get(script)
            self._base.append(ranks[script] << _RANK_SHIFT)
            self._latin.append(script == "latin")
            self._gate.append(present if present and not present.search(word) else None)
        # Per term, what _accepted() must check: 0 nothing, 1 word boundaries (Latin),
        # 2 its script's presence in the text (the gate).
        self._check = [
            1 if latin else 0 if gate is None else 2
            for latin, gate in zip(self._latin, self._gate, strict=True)
        ]
        self._automaton = ahocorasick_rs.AhoCorasick(
            self._words, implementation=ahocorasick_rs.Implementation.DFA
        )
        # The same automaton over UTF-8 bytes walks the same bytes a third faster (the
        # str one converts every offset), for texts with few multi-byte characters.
        self._bytes_automaton = ahocorasick_rs.BytesAhoCorasick(
            [word.encode("utf-8") for word in self._words],
            implementation=ahocorasick_rs.Implementation.DFA,
        )
        self._lengths = [len(word) for word in self._words]
        self._weights = [self.terms[word].weight for word in self._words]
        self._index = {word: index for index, word in enumerate(self._words)}
        # Terms that normalise() leaves as they are (spelled_as() need not fold them).
        self.fixed = frozenset(word for word in self.terms if normalise(word) == word)

    def _find(self, text: str) -> list[tuple[int, int, int]]:
        """(term index, start, end), in characters, of every occurrence of every term
        in ``text``; UnicodeEncodeError for lone surrogates, which UTF-8 cannot hold.

        A term's UTF-8 starts with a lead byte and ends a character, so its matches in
        the text's UTF-8 are exactly its occurrences in the text. Their byte offsets are
        character offsets in ASCII text, and cheap to convert in long texts with few
        multi-byte characters (most pages' text); other texts take the str automaton.
        """
        if text.isascii():
            return self._bytes_automaton.find_matches_as_indexes(
                text.encode("ascii"), overlapping=True
            )
        if len(text) < _BYTES_MIN_CHARS:
            return self._automaton.find_matches_as_indexes(text, overlapping=True)
        raw = known_utf8(text)  # the page text's, from folding it
        if raw is None:
            raw = text.encode("utf-8")
        if (len(raw) - len(text)) * _BYTES_MAX_SHARE > len(text):
            return self._automaton.find_matches_as_indexes(text, overlapping=True)
        found = self._bytes_automaton.find_matches_as_indexes(raw, overlapping=True)
        if not found:
            return found
        chars = {}  # byte offset -> character offset, counted by decoding each gap
        pos = count = 0
        for start in sorted({start for _index, start, _end in found}):
            count += len(raw[pos:start].decode("utf-8"))
            chars[start] = count
            pos = start
        lengths = self._lengths
        return [(index, chars[start], chars[start] + lengths[index]) for index, start, _e in found]

    def _accepted(self, text: str, found: list[tuple[int, int, int]]) -> list[Match]:
        """What the regexes match, sorted as they find them (by script, then start),
        out of every occurrence of every term that the automaton ``found`` in ``text``.

        At each start the longest term wins (terms at other starts may overlap it);
        Latin terms need a non-word character (or the text's edge) on both sides,
        ``\\w`` being ``str.isalnum()`` or ``_`` as in ``re``.
        """
        size = len(text)
        checks, bases, gates = self._check, self._base, self._gate  # read once per call
        edges = _ASCII_NON_WORD  # most neighbours: a set lookup instead of two tests
        best: dict[int, Match] = {}
        for index, start, end in found:
            check = checks[index]
            if check:
                if check == 1:
                    if start:
                        before = text[start - 1]
                        if before not in edges and (before.isalnum() or before == "_"):
                            continue
                    if end < size:
                        after = text[end]
                        if after not in edges and (after.isalnum() or after == "_"):
                            continue
                elif gates[index].search(text) is None:  # type: ignore[union-attr]
                    continue
            key = bases[index] + start
            # The automaton reports matches in the order they end: a later match at
            # the same start of the same script is a longer term.
            best[key] = (key, bases[index] + end, index)
        # One int per key: sorted without comparing nested tuples.
        return sorted(best.values())

    def scan(self, text: str) -> SpamHits:
        try:
            found = self._find(text)
        except UnicodeEncodeError:  # lone surrogates, which UTF-8 cannot hold
            return self._scan_regex(text)
        hits = empty_hits(len(text))
        if found:  # most texts: no term at all
            self._count(self._accepted(text, found), hits)
        return hits

    def _scan_regex(self, text: str) -> SpamHits:
        """scan() by the per-script regexes (the reference rules)."""
        hits = SpamHits(Counter(), {}, len(text))
        self._count(list(self._regex_matches(text)), hits)
        return hits

    def scan_many(self, texts: list[str]) -> list[SpamHits]:
        """scan() for many short texts with one automaton pass over their concatenation.

        Texts must not contain SEPARATOR (control characters are removed at parse time).
        """
        return [
            empty_hits(len(text)) if hits is None else hits
            for text, hits in zip(texts, self.scan_each(texts), strict=True)
        ]

    def scan_each(self, texts: list[str]) -> list[SpamHits | None]:
        """scan_many(), with None for each text holding no term: most texts of a page
        hold none, and their empty hits cost more to build than the scan."""
        joined = SEPARATOR.join(texts)
        try:
            found = self._find(joined)
        except UnicodeEncodeError:  # lone surrogates, which UTF-8 cannot hold
            return self._scan_many_regex(texts, joined)
        hits: list[SpamHits | None] = [None] * len(texts)
        if found:
            self._tally(self._accepted(joined, found), _offsets(texts), hits, texts)
        return hits

    def spammy_each(self, texts: list[str]) -> list[bool]:
        """``[hits.spammy() for hits in scan_many(texts)]``, cheaper: the terms of all
        texts together are checked first (spammy() only grows with more terms, so no
        text is spammy when they are not), and only texts holding a term get hits."""
        joined = SEPARATOR.join(texts)
        try:
            found = self._find(joined)
        except UnicodeEncodeError:  # lone surrogates, which UTF-8 cannot hold
            return [hits.spammy() for hits in self._scan_many_regex(texts, joined)]
        spammy = [False] * len(texts)
        if not found:
            return spammy
        accepted = self._accepted(joined, found)
        terms, words = self.terms, self._words
        all_terms = {words[i]: terms[words[i]] for _key, _end, i in accepted}
        if not _terms_hits(all_terms).spammy():
            return spammy
        starts = _offsets(texts)
        per_text: dict[int, dict[str, Term]] = {}
        for key, _end, index in accepted:
            word = words[index]
            per_text.setdefault(bisect_right(starts, key & _START_MASK) - 1, {})[word] = terms[word]
        for i, text_terms in per_text.items():
            spammy[i] = _terms_hits(text_terms).spammy()
        return spammy

    def _scan_many_regex(self, texts: list[str], joined: str) -> list[SpamHits]:
        """scan_many() by the per-script regexes (the reference rules)."""
        hits = [SpamHits(Counter(), {}, len(text)) for text in texts]
        self._tally(list(self._regex_matches(joined)), _offsets(texts), hits, texts)
        return hits

    def _regex_matches(self, text: str) -> Iterator[Match]:
        """Every match of the per-script regexes."""
        # Without a CJK/Thai character only Latin terms can match (every other term of
        # the lexicon holds one, as a test checks): one fast check rules the rest out.
        foreign = has_cjk_thai(text)
        index = self._index
        for rank, (present, regex) in enumerate(self.patterns):
            if present is None or (foreign and present.search(text)):
                base = rank << _RANK_SHIFT
                for m in regex.finditer(text):
                    yield base + m.start(), base + m.end(1), index[m.group(1)]

    def _tally(
        self,
        matches: list[Match],
        starts: list[int],
        hits: list[SpamHits | None],
        texts: list[str],
    ) -> None:
        """Count ``matches`` (by script, then in text order) into ``hits``, one per
        text starting at each of ``starts`` in the scanned text; a text's hits are made
        when its first match comes (None until then: ``texts`` gives their lengths).
        """
        per_text: dict[int, list[Match]] = {}
        for match in matches:
            start = match[0] & _START_MASK
            per_text.setdefault(bisect_right(starts, start) - 1, []).append(match)
        for i, text_matches in per_text.items():
            text_hits = hits[i]
            if text_hits is None:
                text_hits = hits[i] = empty_hits(len(texts[i]))
            self._count(text_matches, text_hits)

    def _count(self, matches: list[Match], hits: SpamHits) -> None:
        """Count one text's ``matches`` into its ``hits``.

        Overlapping spam terms cover their characters once per script, as the regexes
        count them: keys of different scripts lie 2**40 apart, so the reach of one
        script's terms never covers another's.
        """
        counts = hits.counts
        words, weights = self._words, self._weights
        # counted in C (Counter.update of an iterable), in the order terms first occur
        counts.update([words[index] for _key, _end, index in matches])
        reach = covered = 0  # reach: end key of the spam terms counted so far
        for key, end_key, index in matches:
            if end_key > reach and weights[index]:
                covered += end_key - (key if key > reach else reach)
                reach = end_key
        hits.covered += covered
        terms = self.terms
        hits.terms = {t: terms[t] for t in counts}


def _offsets(texts: list[str]) -> list[int]:
    """Where each text starts in ``SEPARATOR.join(texts)`` (summed in C)."""
    starts = list(accumulate(map(_PLUS_ONE, map(len, texts)), initial=0))
    starts.pop()  # the end of the last text
    return starts


def empty_hits(length: int) -> SpamHits:
    """Hits of a text of ``length`` characters holding no term."""
    return SpamHits(_new_counter(), {}, length)


def _terms_hits(terms: dict[str, Term]) -> SpamHits:
    """Hits holding just ``terms``: enough for spammy(), which reads nothing else."""
    return SpamHits(_new_counter(), terms, 0)


SEPARATOR = "\x1f"
# A term's match: (key, end key, term index), as Lexicon._accepted() sorts them. A key is
# the start plus the script's rank << _RANK_SHIFT (the end key, the end plus the same):
# sorted by script, then start, as the regexes find them, by one int each.
Match = tuple[int, int, int]
_RANK_SHIFT = 40
_START_MASK = (1 << _RANK_SHIFT) - 1
_PLUS_ONE = (1).__add__
# ASCII characters outside ``\w``: word boundaries for Latin terms.
_ASCII_NON_WORD = frozenset(c for c in map(chr, range(128)) if not (c.isalnum() or c == "_"))
# Lexicon._find() takes the bytes automaton for non-ASCII texts of this many
# characters at least, with at most one extra UTF-8 byte per _BYTES_MAX_SHARE characters:
# shorter or denser texts often hold more matches than the bytes saved pay for.
_BYTES_MIN_CHARS = 4096
_BYTES_MAX_SHARE = 16
# An empty Counter without Counter.__init__ (a Python-level update() call): cheaper,
# and a page's scans make one per text holding a term.
_new_counter = partial(dict.__new__, Counter)
_SCRIPT_PRESENT = {
    "cjk": re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]"),
    "thai": re.compile(r"[\u0e00-\u0e7f]"),
}


def _script(term: str) -> str:
    if _is_latin(term):
        return "latin"
    if _SCRIPT_PRESENT["thai"].search(term):
        return "thai"
    return "cjk"


def _is_latin(term: str) -> bool:
    return all(
        ch.isascii() or "\u00c0" <= ch <= "\u024f" or "\u1e00" <= ch <= "\u1eff" for ch in term
    )


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    package = resources.files("hijackwatch.detect") / "lexicons"
    terms: list[Term] = []
    for language in LANGUAGES:
        terms.extend(_parse(language, (package / f"{language}.txt").read_text(encoding="utf-8")))
    return Lexicon(terms)


def scan(text: str) -> SpamHits:
    return lexicon().scan(text)


def scan_many(texts: list[str]) -> list[SpamHits]:
    return lexicon().scan_many(texts)


def scan_each(texts: list[str]) -> list[SpamHits | None]:
    return lexicon().scan_each(texts)


def spammy_each(texts: list[str]) -> list[bool]:
    return lexicon().spammy_each(texts)
