"""Text normalisation and domain helpers shared by every detector.

Spam gangs dodge keyword filters with Traditional characters, full-width letters,
zero-width joiners and entities; everything is folded to one form before matching.
"""

from __future__ import annotations

import itertools
import re
import sys
import unicodedata
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

import idna
import opencc
import tldextract

# Removed before matching: invisible, they split words for the lexicon only. U+FFFD is
# what parsing made of NULs and control characters, which browsers do not show either.
_ZERO_WIDTH_CHARS = "\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u180e\ufffd"
_ZERO_WIDTH = re.compile(f"[{_ZERO_WIDTH_CHARS}]")
_SIMPLE_HOST = re.compile(r"(?:https?:)?//([a-z0-9._-]+)(?::[0-9]{0,5})?(?:[/?#]|$)", re.I)
# _SIMPLE_HOST for lower-case http(s) URLs, faster: without re.I, which tests
# case variants of each character (and lets a few non-ASCII letters like K, the
# Kelvin sign, into [a-z]: such hosts fall through to _SIMPLE_HOST).
_HTTP_HOST = re.compile(r"https?://([A-Za-z0-9._-]+)(?::[0-9]{0,5})?(?:[/?#]|$)")
_T2S = opencc.OpenCC("t2s")
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
# Hosts registrable_domain() looks up in its own copy of tldextract's suffix trie: no
# character tldextract's URL parsing acts on, no punycode label to decode, not all
# digits and dots (an IP address).
_PLAIN_HOST = re.compile(r"(?![0-9.]*$)[a-z0-9._-]+")
_SUFFIX_TRIE: dict[object, dict] = {}
_RULE_END = object()
# Blocks OpenCC's t2s tables cover (radicals, CJK punctuation, ideographs A-H).
_T2S_BLOCKS = (
    (0x2E80, 0x2FDF), (0x3000, 0x303F), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF), (0x20000, 0x323AF),
)  # fmt: skip
# Characters t2s changes only inside a phrase (沈 in 深沈, 覆 in 答覆), found once
# offline from OpenCC's TSPhrases table; every other changed character changes alone.
_PHRASE_ONLY = "么俱哩坏彷沈甦瞭藉衹覆"
_ASTRAL = "\U00020000-\U000323af"
_COMMON_CHARS = "\xa0\u3000，：（）；！？…\u0e33"
_COMMON_NFKC = tuple((c, unicodedata.normalize("NFKC", c)) for c in _COMMON_CHARS)
# Thai, kana, CJK ideographs (Extension A and the unified block) and Hangul syllables:
# the scripts the detectors treat as written without spaces between words.
CJK_THAI_CHARS = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af"
CJK_THAI = re.compile(f"[{CJK_THAI_CHARS}]")
# In UTF-8 each of those characters starts with byte E0 (Thai) or E3-ED: every other
# byte value, deleted in one bytes.translate() pass.
_NOT_CJK_THAI_LEADS = bytes(b for b in range(256) if not (b == 0xE0 or 0xE3 <= b <= 0xED))
_ASCII_BYTES = bytes(range(128))
# normalise() searches long texts holding few non-ASCII characters (most pages in
# Latin script) through those characters alone; shorter or denser texts directly.
_SPARSE_MIN_CHARS = 512
_SPARSE_MAX_SHARE = 16  # at most one extra UTF-8 byte per this many characters
_SIGMA = "\u03a3"  # the one character str.lower() folds by context (to σ or ς)
_SURROGATE = re.compile("[\ud800-\udfff]")
# The last long text normalise() folded through its UTF-8, and that UTF-8 (strict: made
# only for texts without lone surrogates), for known_utf8().
_last_utf8: tuple[str, bytes] = ("", b"")


def _char_class(chars: set[str]) -> str:
    """A regex character class for ``chars``, consecutive code points as ranges."""
    points = sorted(map(ord, chars))
    parts = []
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        a, b = chr(points[i]), chr(points[j])
        parts.append(re.escape(a) if i == j else f"{re.escape(a)}-{re.escape(b)}")
        i = j + 1
    return "[" + "".join(parts) + "]"


def _nfkc_unsafe_bmp() -> set[str]:
    """BMP characters whose presence may let NFKC change a text.

    A character is safe when NFKC leaves it alone unchanged and its NFKD starts with
    a starter (combining class 0) that no composition takes as its second part: in a
    text of safe characters each one's decomposition recomposes to itself and nothing
    composes across them, so NFKC changes nothing (precomposed letters like é are safe),
    and a text can be cut before a safe character and folded in two. Beyond the BMP
    every character counts as unsafe (rare, and a class with one range stays fast).
    """
    decomposable = list(filter(unicodedata.decomposition, map(chr, range(sys.maxunicode + 1))))
    # Second parts of canonical pairs, and Hangul vowels and trailing consonants
    # (Hangul syllables compose by rule, not from the table).
    second = {chr(c) for a, b in ((0x1161, 0x1175), (0x11A8, 0x11C2)) for c in range(a, b + 1)}
    for char in decomposable:
        parts = unicodedata.decomposition(char).split()
        if not parts[0].startswith("<"):
            second.update(chr(int(part, 16)) for part in parts[1:])
    unsafe = {c for c in map(chr, range(0x10000)) if unicodedata.combining(c) or c in second}
    hangul = map(chr, range(0xAC00, 0xD7A4))  # decomposed by rule too
    for char in itertools.chain((c for c in decomposable if c <= "\uffff"), hangul):
        first = unicodedata.normalize("NFKD", char)[0]
        if (
            unicodedata.normalize("NFKC", char) != char
            or unicodedata.combining(first)
            or first in second
        ):
            unsafe.add(char)
    return unsafe


@lru_cache(maxsize=1)
def _special() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(any character normalise() might change but case, zero-width or t2s-changed
    character, t2s-changed character, any character normalise() might change but ASCII
    letters) patterns.

    Most CJK pages (all Simplified ones) hold no character t2s would change, and most
    pages none NFKC would change, so one regex pass tells that only lower-casing is
    left. Built once by converting every character of the covered blocks in one
    OpenCC call and checking every code point's decomposition (once per process).
    """
    chars = [chr(c) for a, b in _T2S_BLOCKS for c in range(a, b + 1)]
    converted = _T2S.convert("\n".join(chars)).split("\n")
    changed = {c for c, o in zip(chars, converted, strict=True) if c != o}
    changed.update(_PHRASE_ONLY)
    # re compiles a BMP-only class to a bitmap (one lookup per character); beyond the
    # BMP a whole-range test stands in (such characters are rare, converting is safe).
    bmp_changed = _char_class({c for c in changed if c <= "\uffff"})[1:-1]
    t2s_class = f"[{bmp_changed}{_ASTRAL}]"
    changeable = f"{_char_class(_nfkc_unsafe_bmp())[1:-1]}{_ZERO_WIDTH_CHARS}{bmp_changed}"
    # Non-ASCII characters lower() changes (Σ too, whose lower case depends on context).
    cased = _char_class({c for c in map(chr, range(0x80, 0x10000)) if c.lower() != c})[1:-1]
    return (
        re.compile(f"[{changeable}\U00010000-\U0010ffff]"),
        re.compile(f"[{_ZERO_WIDTH_CHARS}{t2s_class[1:-1]}]"),
        re.compile(t2s_class),
        re.compile(f"[{changeable}{cased}\U00010000-\U0010ffff]"),
    )


def has_cjk_thai(text: str) -> bool:
    """Whether ``text`` holds a Thai, kana, CJK or Hangul character (``CJK_THAI``).

    Pages in those scripts show one near the start; elsewhere the regex would test
    every character, while encoding and deleting every byte that cannot start such a
    character is several times faster and usually leaves nothing.
    """
    if text.isascii():  # O(1) in CPython
        return False
    if CJK_THAI.search(text, 0, 256) is not None:
        return True
    if not text.encode("utf-8", "surrogatepass").translate(None, _NOT_CJK_THAI_LEADS):
        return False
    return CJK_THAI.search(text, 256) is not None


def normalise(text: str) -> str:
    """Fold text for matching: NFKC, no zero-width chars, Simplified Chinese, lowercase.

    Each step runs only when a C-level check says it would change something.
    """
    if not text:
        return ""
    if not text.isascii():  # O(1) in CPython
        raw = None
        if len(text) >= _SPARSE_MIN_CHARS:
            raw = text.encode("utf-8", "surrogatepass")
            if (len(raw) - len(text)) * _SPARSE_MAX_SHARE <= len(text):
                return _normalise_sparse(text, raw)
        changeable, _, _, cased = _special()
        hit = cased.search(text)
        if hit is None:
            # Nothing to fold and no case to change beyond ASCII letters, which
            # bytes.lower() changes alone (faster than str.lower() here; UTF-8
            # bytes below 0x80 are ASCII characters).
            if raw is None:
                raw = text.encode("utf-8", "surrogatepass")
            return raw.lower().decode("utf-8", "surrogatepass")
        # Nothing before the hit is changeable. Texts whose only such characters are
        # cased letters (capitals of Vietnamese...) skip the searches for common ones.
        hit = changeable.search(text, hit.start())
        if hit is not None:  # else NFKC, zero-width removal and t2s change nothing
            first = hit.start()
            # NFKC costs far more than a substring search; most pages only need it for a
            # few common characters (all changeable: none before ``first``), swapped
            # for exactly what NFKC gives them.
            for char, folded in _COMMON_NFKC:
                if text.find(char, first) >= 0:
                    text = text.replace(char, folded)
            if hit.group() in _COMMON_CHARS:  # else still there: the first changeable
                hit = changeable.search(text, first)
        if hit is not None:
            # Before the hit all characters are safe (see _nfkc_unsafe_bmp) and NFKC
            # joins nothing to what precedes a safe character: only the rest from the
            # last safe character on may change, and no special character is earlier.
            start = max(hit.start() - 1, 0)
            rest = text[start:]
            if not unicodedata.is_normalized("NFKC", rest):  # a cheap check
                # NFKC itself is much slower: run it only up to the last changeable
                # character (safe ones follow), found searching the reversed rest.
                end = len(rest) - changeable.search(rest[::-1]).start()  # type: ignore[union-attr]
                text = text[:start] + unicodedata.normalize("NFKC", rest[:end]) + rest[end:]
            text = _fold_special(text, start)
    return text.lower()


def _fold_special(text: str, start: int) -> str:
    """``text`` without zero-width characters and in Simplified Chinese, given that
    nothing before ``start`` is changeable."""
    _changeable, special, t2s, _cased = _special()
    if special.search(text, start) is not None:
        text = _ZERO_WIDTH.sub("", text)
        if t2s.search(text) is not None:
            text = _T2S.convert(text)
    return text


def _normalise_sparse(text: str, raw: bytes) -> str:
    """normalise() of a long text with few non-ASCII characters (``raw``: its UTF-8).

    Each regex search over the whole text costs a few nanoseconds per character; the
    special characters are all non-ASCII, so the searches run over the text's
    non-ASCII characters alone, in order (``wide``), and str.find() locates a hit in
    the text.
    """
    changeable, special, t2s, cased = _special()
    wide = _non_ascii(raw)
    if cased.search(wide) is None:
        return _lower(text, "", wide, raw)
    swaps = [(char, folded) for char, folded in _COMMON_NFKC if char in wide]
    for char, folded in swaps:
        wide = wide.replace(char, folded)
    hit = changeable.search(wide)
    if hit is None and _SIGMA not in wide:
        # The swaps trade caseless characters for caseless ones: made after lower()
        # (Σ aside, lowered by its neighbours) they give the same and spare encoding
        # the text again.
        return _lower(text, wide, wide, raw, swaps)
    for char, folded in swaps:
        text = text.replace(char, folded)
    utf8 = None if swaps else raw  # the text's UTF-8 while known
    if hit is None:
        return _lower(text, wide, wide, utf8)
    # The first and last changeable characters of the text are the first and last
    # ones in ``wide``; NFKC may change the text only from the one before the first to
    # the last (see _nfkc_unsafe_bmp), so only that part is checked and folded.
    start = max(text.find(hit.group()) - 1, 0)
    end = text.rfind(changeable.search(wide[::-1]).group()) + 1  # type: ignore[union-attr]
    if not unicodedata.is_normalized("NFKC", text[start:end]):
        folded = unicodedata.normalize("NFKC", text[start:end])
        text = text[:start] + folded + text[end:]
        # ``wide`` may now hold characters NFKC took away: at most a needless check,
        # zero-width removal or t2s conversion follows (none changes such a text).
        wide += _non_ascii(folded.encode("utf-8", "surrogatepass"))
        utf8 = None
    if special.search(wide) is not None:
        if _ZERO_WIDTH.search(wide) is not None:  # else the substitution keeps the text
            text = _ZERO_WIDTH.sub("", text)
            wide = _ZERO_WIDTH.sub("", wide)
            utf8 = None
        if t2s.search(wide) is not None:
            text = _T2S.convert(text)
            utf8 = text.encode("utf-8", "surrogatepass")
            wide = _non_ascii(utf8)
    return _lower(text, wide, wide, utf8)


def _non_ascii(utf8: bytes) -> str:
    """The non-ASCII characters of a text, in order, from its UTF-8 (multi-byte
    sequences hold no ASCII byte)."""
    return utf8.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")


def _lower(
    text: str,
    wide: str,
    chars: str,
    utf8: bytes | None,
    swaps: list[tuple[str, str]] | None = None,
) -> str:
    """``text.lower()`` with each of ``swaps`` (caseless character, caseless
    replacement) replaced after, given ``wide``, holding the text's non-ASCII cased
    characters (maybe more), ``chars``, holding all its non-ASCII characters (maybe
    more), and ``utf8``, its UTF-8 if known.

    str.lower() maps every character on its own (Σ aside) and no character's lower
    case changes again, so lowering the ASCII letters as bytes (faster) and then
    replacing each distinct non-ASCII cased character is the same. Without any such
    replacement the lowered bytes are the result's UTF-8, kept for known_utf8().
    """
    cased = {char for char in set(wide) if char.lower() != char}
    if _SIGMA in cased or len(cased) > 16:
        out = text.lower()
        for char, folded in swaps or ():
            out = out.replace(char, folded)
        return out
    if utf8 is None:
        utf8 = text.encode("utf-8", "surrogatepass")
    low = utf8.lower()
    out = low.decode("utf-8", "surrogatepass")
    global _last_utf8
    if cased or swaps:
        # replaced in the str: bytes.replace() of a multi-byte sequence is far slower
        for char in cased:
            out = out.replace(char, char.lower())
        for char, folded in swaps or ():
            out = out.replace(char, folded)
        _last_utf8 = ("", b"")
    else:
        # Lone surrogates (non-ASCII, so in ``chars`` if in the text) UTF-8 cannot hold.
        _last_utf8 = (out, low) if _SURROGATE.search(chars) is None else ("", b"")
    return out


def known_utf8(text: str) -> bytes | None:
    """``text.encode("utf-8")`` if ``text`` is the last long text normalise() folded
    (the page text, which is scanned next: no need to encode it again), else None."""
    last, utf8 = _last_utf8
    return utf8 if text is last else None


def normalise_many(texts: list[str], separator: str = "\x1f") -> list[str]:
    """normalise() for many texts in one pass (one OpenCC call instead of hundreds).

    The separator must not occur in the texts; if folding ever merges or splits it,
    each text is folded on its own instead.
    """
    if not texts:
        return []
    out = normalise(separator.join(texts)).split(separator)
    if len(out) != len(texts):
        return [normalise(t) for t in texts]
    return out


def collapse_ws(text: str) -> str:
    """Whitespace runs as one space, none at the ends. str.split() takes the same
    characters for whitespace as the regex ``\\s`` (str.isspace()), 4x faster."""
    return " ".join(text.split())


def clip(text: str, limit: int = 300) -> str:
    """Evidence snippet: one line, bounded."""
    text = collapse_ws(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """Registrable domain of a host (``news.example.co.uk`` -> ``example.co.uk``).

    IP addresses and single-label hosts are their own domain.
    """
    host = host.strip().lower().rstrip(".")
    if _PLAIN_HOST.fullmatch(host) is None or "xn--" in host:
        return _registrable_domain_extracted(host)
    # tldextract's URL parsing and label decoding leave such a host alone: walk its
    # suffix trie directly, as its suffix_index() does (3x faster than a call).
    labels = host.split(".")
    node = _SUFFIX_TRIE or _load_suffix_trie()
    i = start = len(labels)  # start: the first label of the public suffix
    while i:
        child = node.get(labels[i - 1])
        if child is None:
            if "*" in node:  # a wildcard rule, unless an exception rule names the label
                start = i if "!" + labels[i - 1] in node else i - 1
            break
        i -= 1
        node = child
        if _RULE_END in node:
            start = i
    if 0 < start < len(labels) and labels[start - 1]:
        return ".".join(labels[start - 1 :])
    return host


def _registrable_domain_extracted(host: str) -> str:
    """registrable_domain() of a stripped, lower-cased host, by tldextract itself."""
    if not host:
        return ""
    if host.startswith("[") or host.replace(".", "").isdigit():
        return host.strip("[]")
    ext = _EXTRACT(host)
    return f"{ext.domain}.{ext.suffix}" if ext.suffix and ext.domain else host


def _load_suffix_trie() -> dict[object, dict]:
    """tldextract's public suffix rules as nested dicts, last label first, in
    ``_SUFFIX_TRIE`` (built on first use: tldextract loads them in ~40 ms, this takes
    ~10 ms more). ``_RULE_END`` marks where a rule ends."""
    global _SUFFIX_TRIE
    root: dict[object, dict] = {}
    for rule in _EXTRACT.tlds:
        node = root
        for label in reversed(rule.split(".")):
            node = node.setdefault(label, {})
        node[_RULE_END] = {}
    _SUFFIX_TRIE = root
    return root


def url_host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


@lru_cache(maxsize=1024)
def url_domain(url: str) -> str:
    # Where _HTTP_HOST matches, urlsplit() finds the same host (see link_domain), slower
    # (registrable_domain() lower-cases it).
    simple = _HTTP_HOST.match(url)
    return registrable_domain(simple.group(1) if simple is not None else url_host(url))


def clear_cache() -> None:
    """Forget the domains of hosts and URLs seen so far."""
    registrable_domain.cache_clear()
    url_domain.cache_clear()


def absolute_url(base: str, href: str) -> str:
    """Resolve href against the page URL; unparseable hrefs come back unchanged."""
    href = href.strip()
    if not base:
        return href
    try:
        return urljoin(base, href)
    except ValueError:
        return href


def link_domain(base: str, href: str) -> str:
    """Registrable domain an href points to ('' for relative links without a page URL,
    fragments, mailto: and javascript: links)."""
    href = href.strip()
    if not href:
        return ""
    # Shortcuts for the commonest shapes, "/path" and "http(s)://host/...", giving what
    # the general checks below give (without lower-casing a copy of the start).
    first = href[0]
    if first == "/" and href[1:2] != "/":
        return url_domain(base) if base and ":" not in href[:12] else ""
    if first == "#":
        return ""
    if first == "h":
        # Where this matches, _SIMPLE_HOST (below) matches the same host (an ASCII one,
        # lower-cased by registrable_domain()).
        simple = _HTTP_HOST.match(href)
        if simple is not None:
            return registrable_domain(simple.group(1))
    low = href[:12].lower()
    if low.startswith(("mailto:", "javascript:", "tel:", "data:", "sms:")):
        return ""
    if not low.startswith(("http://", "https://", "//")):
        if not base or ":" in href[:12]:
            return ""  # relative without a page URL, or another scheme (ftp:, data:...)
        return url_domain(base)  # relative links stay on the page's own site
    # Plain host (no userinfo, no escapes): what urlsplit would say, without urljoin.
    simple = _SIMPLE_HOST.match(href)
    if simple is not None:
        return registrable_domain(simple.group(1))  # which lower-cases it
    return url_domain(
        absolute_url(base, href) if base else ("http:" + href if href.startswith("//") else href)
    )


@lru_cache(maxsize=4096)
def ascii_host(host: str) -> str:
    """The ASCII name of a host as browsers and registries spell it: UTS #46 with IDNA 2008
    (non-transitional), so ``faß.de`` is ``xn--fa-hia.de``, another registrant's domain than
    the ``fass.de`` of Python's IDNA 2003 codec. Raises :class:`idna.IDNAError` (a
    UnicodeError) with the reason for a name IDNA 2008 refuses (``☃.net``, say)."""
    if host.isascii():
        return host.lower()
    return idna.encode(host, uts46=True, transitional=False).decode("ascii")


def ascii_url(url: str) -> str:
    """``url`` with its host spelled as :func:`ascii_host` does; Python's urllib and
    Scrapy would otherwise encode a Unicode host with IDNA 2003 (``faß.de`` -> fass.de,
    someone else's domain). Raises UnicodeError for a host IDNA 2008 refuses and
    ValueError for a port out of range."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host.isascii():
        return url
    user = parts.netloc[: parts.netloc.rfind("@") + 1]  # user info as written
    port = f":{parts.port}" if parts.port is not None else ""
    return parts._replace(netloc=user + ascii_host(host) + port).geturl()
