"""Just enough CSS to know when an element is invisible to a human visitor.

Injected link blocks are hidden with inline styles or with a class rule in a
<style> block; both are checked. Only declarations are read, never layout.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from functools import lru_cache
from operator import itemgetter
from threading import Lock

import ahocorasick_rs


def _has_comment_py(css: str) -> bool:
    """``"/*" in css``, the one-character test first: it is a memchr, str's search for
    "/*" is not (~1 ns a character)."""
    return "/" in css and "/*" in css


# The compiled comment test, lowercasing of ASCII stylesheets and font-size anchor
# search (_walk.pyx), when built and not disabled (HIJACKWATCH_PURE_PYTHON=1, as in
# document.py).
try:
    from hijackwatch.detect import _walk as _compiled
except ImportError:
    _compiled = None
if os.environ.get("HIJACKWATCH_PURE_PYTHON") == "1":
    _compiled = None
_lower_ascii = _compiled.lower_ascii if _compiled is not None else None
_has_comment = _compiled.has_comment if _compiled is not None else _has_comment_py

MAX_STYLE_CHARS = 256 * 1024  # per page, all <style> blocks together
Selectors = tuple[frozenset[str], frozenset[str]]  # (classes, ids) a stylesheet hides

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
# Every whitespace character ``\s`` matches in a str pattern (== str.isspace()).
_ASCII_WS = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "
_OTHER_WS = (
    "\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)
# One regex per hint, each starting with a literal so re can skip ahead quickly (a
# single alternation of them scans the stylesheet character by character). Each comes
# with anchors: literals every match of the hint contains (whitespace anchors cover
# ASCII whitespace; stylesheets holding other whitespace take the slow path).
_HINTS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"display\s*:\s*none"), ("none",)),
    (re.compile(r"visibility\s*:\s*(?:hidden|collapse)"), ("visibility",)),
    (re.compile(r"opacity\s*:\s*0"), ("opacity",)),
    (re.compile(r":\s*-\d{3}"), (":-", *(w + "-" for w in _ASCII_WS))),
    (re.compile(r"clip"), ("clip",)),
    (
        re.compile(r"font-size\s*:\s*(?:0|[0-2](?:\.\d+)?(?:px|pt|em|rem)?\s*[;}!]|\.)"),
        (
            "size:0",
            "size:.",
            *(
                "size:" + d + c
                for d in "12"
                for c in (".", "p", "e", "r", ";", "}", "!", *_ASCII_WS)
            ),
            *("size" + w for w in _ASCII_WS),
            *("size:" + w for w in _ASCII_WS),
        ),
    ),
    (re.compile(r"overflow[-xy]*\s*:\s*hidden"), ("hidden",)),
)
_HIDING_HINTS = tuple(hint for hint, _ in _HINTS)


def _anchor_automaton(
    hints: tuple[int, ...],
) -> tuple[ahocorasick_rs.BytesAhoCorasick, tuple[frozenset[int], ...]]:
    """One leftmost-first automaton over the anchors of ``hints``, and for each anchor
    the hints a match of it may stand for.

    Leftmost-first matching skips an anchor that overlaps an earlier match; the hints
    of every anchor that can overlap a match are therefore counted as found with it
    (both lie in the same rule: anchors hold no brace except as their last character).
    """
    anchors: list[str] = []
    owners: list[int] = []
    for h in hints:
        anchors.extend(_HINTS[h][1])
        owners.extend([h] * len(_HINTS[h][1]))
    enables = []
    for z in anchors:
        enables.append(
            frozenset(
                owner
                for x, owner in zip(anchors, owners, strict=True)
                if any(z[k:].startswith(x) or x.startswith(z[k:]) for k in range(len(z)))
            )
        )
    automaton = ahocorasick_rs.BytesAhoCorasick(
        [a.encode() for a in anchors], matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_FIRST
    )
    return automaton, tuple(enables)


# Two automata, not one: the Rust crate's SIMD prefilter handles each group fast
# (measured ~2 us each on 40 KB stylesheets); one automaton of all anchors took 10x that.
_ANCHOR_AUTOMATA = (_anchor_automaton((0, 1, 2, 4, 6, 3)), _anchor_automaton((5,)))
# (search, enables) per group. Every font-size anchor starts with "size" and enables
# that hint alone: the compiled search finds them from the 'z's (memchr; rare in CSS),
# 2.9 us a bench stylesheet against the automaton's 5.1, and reports pattern 0 for each.
_ANCHOR_SEARCHES = (
    (_ANCHOR_AUTOMATA[0][0].find_matches_as_indexes, _ANCHOR_AUTOMATA[0][1]),
    (
        _compiled.font_size_anchors
        if _compiled is not None
        else _ANCHOR_AUTOMATA[1][0].find_matches_as_indexes,
        _ANCHOR_AUTOMATA[1][1],
    ),
)
_OTHER_WS_AUTOMATON = ahocorasick_rs.BytesAhoCorasick(
    [w.encode() for w in _OTHER_WS], matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_FIRST
)
MAX_HINT_RULES = 32  # rules re-read per hint before a plain pass over the whole sheet pays
MAX_ANCHORS = 2000  # anchor matches placed in their rules one by one (hostile sheets: more)
_DECL = re.compile(r"([a-z-]{1,40})\s*:\s*([^;]{0,200})")
_NUM = re.compile(r"(-?\d{1,7}(?:\.\d{1,4})?)\s*(px|em|rem|%|pt|vw|vh|in|cm)?")
_SIMPLE_TOKEN = re.compile(r"([.#])(-?[_a-zA-Z][\w-]{0,80})")


def _number(value: str) -> float | None:
    m = _NUM.match(value.strip())
    return float(m.group(1)) if m else None


def _length_px(value: str) -> float | None:
    """Approximate pixels for a CSS length; None when not a plain length."""
    m = _NUM.match(value.strip())
    if not m:
        return None
    n = float(m.group(1))
    unit = m.group(2) or "px"
    return {"em": n * 16, "rem": n * 16, "pt": n * 1.33, "in": n * 96, "cm": n * 38}.get(unit, n)


_NEGATIVE = re.compile(r"-\d")


@lru_cache(maxsize=2048)
def hiding_reason(style: str) -> str | None:
    """Why a declaration block makes its element invisible, or None.

    Screen-reader-only boxes (1px, clipped) count as hidden too: what they contain
    decides whether that matters.
    """
    if len(style) > 4000:
        style = style[:4000]
    low = style.lower()
    important = "!" in low
    # Values are read with "!important" removed, which can join a word ("no!importantne");
    # the words are looked for in the text so cleaned.
    plain = low.replace("!important", "") if important else low
    # Every reason below needs one of these words in the declarations, or a negative
    # number: most styles hold none, and are answered without parsing. (An `or` chain:
    # half the time of any() over a tuple.)
    if not (
        "none" in plain
        or "hidden" in plain
        or "collapse" in plain
        or "opacity" in plain
        or "font-size" in plain
        or "absolute" in plain
        or "fixed" in plain
        or _NEGATIVE.search(plain)
    ):
        return None
    if important:
        decls = {k: v.replace("!important", "").strip() for k, v in _DECL.findall(low)}
    else:
        decls = {k: v.strip() for k, v in _DECL.findall(low)}
    if not decls:
        return None
    if decls.get("display") == "none":
        return "display:none"
    if decls.get("visibility") in ("hidden", "collapse"):
        return "visibility:hidden"
    opacity = _number(decls.get("opacity", ""))
    if opacity is not None and opacity <= 0.01:
        return "opacity:0"
    fs = decls.get("font-size")
    size = _length_px(fs) if fs is not None else None
    if size is not None and size < 3:
        return f"font-size:{fs}"
    # (A length without "-" is not negative: _length_px is called only for those with.)
    indent = decls.get("text-indent")
    if indent is not None and "-" in indent and (_length_px(indent) or 0.0) <= -500:
        return "negative text-indent"
    position = decls.get("position", "")
    if position in ("absolute", "fixed"):
        for side in ("left", "top", "right", "bottom", "margin-left", "margin-top"):
            v = decls.get(side)
            if v is not None and "-" in v and (_length_px(v) or 0.0) <= -500:
                return f"off-screen ({side}:{v})"
        clip = decls.get("clip", "") + decls.get("clip-path", "")
        if clip.startswith("rect(0") or "inset(50%" in clip or "rect(1px" in clip:
            return "clipped"
    for side in ("left", "top", "margin-left", "margin-top"):
        v = decls.get(side)
        if v is not None and "-" in v and (_length_px(v) or 0.0) <= -2000:
            return f"off-screen ({side}:{v})"
    overflow = decls.get("overflow", "") + decls.get("overflow-y", "") + decls.get("overflow-x", "")
    if "hidden" in overflow:
        h = decls.get("height")
        w = decls.get("width")
        hp = _length_px(h) if h is not None else None
        wp = _length_px(w) if w is not None else None
        if (hp is not None and hp <= 2) or (wp is not None and wp <= 2):
            return "tiny box with overflow:hidden"
    return None


def hidden_selectors(css: str) -> Selectors:
    """(classes, ids) that simple rules in a stylesheet hide.

    Only the last compound of each selector is read (``.box a`` hides links in
    ``.box``'s position well enough); rules behind pseudo-classes are skipped
    because they describe states (hover, focus) rather than the default view.
    Cached per stylesheet text: a site's pages share their inline stylesheets, and
    reading one (a lowercased copy and an anchor scan of tens of KB) is still a fair
    part of the page's hidden-element search.
    """
    css = css[:MAX_STYLE_CHARS]
    # Keyed by length and both ends, then the whole text compared (a memcmp): cheaper
    # than hashing tens of KB, which a plain lru_cache does for every new page.
    key = (len(css), css[:128], css[-128:])
    hit = _SELECTORS_CACHE.get(key)
    if hit is not None and hit[0] == css:
        return hit[1]
    found = _hidden_selectors(css)
    _remember(key, css, found)
    return found


# Sized for a crawl visiting many sites at once; bounded in characters held too.
_SELECTORS_CACHE_SIZE = 64
_CACHE_CHARS = 4 * 1024 * 1024
_SELECTORS_CACHE: OrderedDict[tuple[int, str, str], tuple[str, Selectors]] = OrderedDict()
_CACHE_LOCK = Lock()  # detection may run in threads; only updates take it
_cached_chars = 0


def _remember(key: tuple[int, str, str], css: str, found: Selectors) -> None:
    """Cache a result, dropping the oldest entries beyond the size and character caps."""
    global _cached_chars
    with _CACHE_LOCK:
        replaced = _SELECTORS_CACHE.pop(key, None)
        if replaced is not None:
            _cached_chars -= len(replaced[0])
        _SELECTORS_CACHE[key] = (css, found)
        _cached_chars += len(css)
        while len(_SELECTORS_CACHE) > 1 and (
            len(_SELECTORS_CACHE) > _SELECTORS_CACHE_SIZE or _cached_chars > _CACHE_CHARS
        ):
            _cached_chars -= len(_SELECTORS_CACHE.popitem(last=False)[1][0])


def clear_cache() -> None:
    """Forget every stylesheet and style read so far."""
    global _cached_chars
    with _CACHE_LOCK:
        _SELECTORS_CACHE.clear()
        _cached_chars = 0
    hiding_reason.cache_clear()


def _hidden_selectors(css: str) -> Selectors:
    """Uncached :func:`hidden_selectors` of an already capped stylesheet."""
    if _has_comment(css):
        css = _COMMENT.sub(" ", css)
    classes: set[str] = set()
    ids: set[str] = set()
    # Jump from one hiding hint to the next and read only the rule around it: big
    # stylesheets have hundreds of rules and only a few can hide anything. All
    # searches are plain finds, linear even with unbalanced braces.
    seen: set[int] = set()
    # (a 40 KB sheet: str.lower ~12 us, the compiled loop ~2 us)
    low = _lower_ascii(css) if _lower_ascii is not None and css.isascii() else css.lower()
    if len(low) != len(css):  # exotic case mappings change lengths; then match lowercased
        css = low
    positions = _hint_positions(low)
    for pos in positions[:5000]:
        start = css.rfind("}", 0, pos) + 1
        if start in seen:
            continue
        seen.add(start)
        brace = css.rfind("{", start, pos)
        if brace < 0:
            continue
        end = css.find("}", pos)
        body = css[brace + 1 : end if end >= 0 else len(css)]
        selectors = css[start:brace].rpartition("{")[2]  # inside @media {...}
        if not selectors.strip() or hiding_reason(body) is None:
            continue
        for selector in selectors[-1000:].split(","):
            selector = selector.strip()
            if not selector or ":" in selector or "@" in selector:
                continue
            compounds = selector.replace(">", " ").replace("+", " ").replace("~", " ").split()
            for compound in reversed(compounds):
                tokens = _SIMPLE_TOKEN.findall(compound)
                for kind, name in tokens:
                    (classes if kind == "." else ids).add(name)
                if tokens:
                    break
    return frozenset(classes), frozenset(ids)


def _hint_positions(low: str) -> list[int]:
    """Start of every hiding hint in a lowercased stylesheet, sorted: what a finditer
    pass per hint over the whole text finds.

    Those passes cost most of a stylesheet's reading, and most hints are absent. The
    anchor automata (SIMD in Rust) tell which hints may be present and in which rules;
    each such hint is then searched for in those rules only (a match never spans a
    rule: it holds no brace but, for font-size, the closing one).
    """
    data = low.encode("utf-8", "surrogatepass")
    # Byte offsets are character offsets only for ASCII; otherwise hints are searched
    # for in the whole text. Whitespace the anchors do not cover: every hint, everywhere.
    ascii_offsets = len(data) == len(low)
    if not ascii_offsets and _OTHER_WS_AUTOMATON.find_matches_as_indexes(data):
        return sorted(m.start() for hint in _HIDING_HINTS for m in hint.finditer(low))
    whole: set[int] = set()  # hints searched for in the whole text
    rules: dict[int, dict[int, int]] = {}  # other hints: {rule start: rule end (exclusive)}
    for search, enables in _ANCHOR_SEARCHES:
        matches = search(data)
        if not ascii_offsets or len(matches) > MAX_ANCHORS:
            for anchor in set(map(itemgetter(0), matches)):
                whole.update(enables[anchor])
            continue
        first = end = 0  # the rule around the last anchor: anchors come in source order
        for anchor, start, _ in matches:
            if start >= end:  # each rule's braces are looked for once
                first = low.rfind("}", 0, start) + 1
                close = low.find("}", start)
                end = close + 1 if close >= 0 else len(low)
            for hint in enables[anchor]:
                found = rules.setdefault(hint, {})
                if len(found) < MAX_HINT_RULES:
                    found[first] = end
                elif first not in found:
                    whole.add(hint)
    positions = [m.start() for hint in whole for m in _HIDING_HINTS[hint].finditer(low)]
    for hint, found in rules.items():
        if hint not in whole:
            for first, end in found.items():
                positions.extend(m.start() for m in _HIDING_HINTS[hint].finditer(low, first, end))
    positions.sort()
    return positions
