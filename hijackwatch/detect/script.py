"""Static analysis of page scripts: peel off obfuscation, then look for cloaked navigation.

Nothing is ever executed. Layers that hijack kits use (escapes, fromCharCode,
unescape, atob, Dean Edwards' packer, string concatenation, reversed strings) are
decoded textually, and the decoded text is searched for navigation, title swaps and
written HTML. Scripts are attacker-controlled, so every loop and regex is bounded.
"""

from __future__ import annotations

import base64
import binascii
import operator
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from urllib.parse import unquote

import ahocorasick_rs

from hijackwatch.detect.findings import Finding, unique_findings
from hijackwatch.detect.lexicon import scan
from hijackwatch.detect.text import clip, normalise, url_domain

MAX_SCRIPT_CHARS = 256 * 1024
MAX_DECODED_CHARS = 512 * 1024
MAX_LAYERS = 4
MAX_LITERAL = 200_000

_HEX_ESC = re.compile(r"\\x([0-9a-fA-F]{2})")
_UNI_ESC = re.compile(r"\\u([0-9a-fA-F]{4})")
_UNI_BRACE = re.compile(r"\\u\{([0-9a-fA-F]{1,6})\}")
_OCT_ESC = re.compile(r"\\([0-3][0-7]{2})")
_FROMCHARCODE = re.compile(r"fromCharCode\s*\(\s*([0-9a-fA-FxX\s,]{1,60000})\)")
_DECODER_CALL = re.compile(r"(unescape|decodeURIComponent|decodeURI|atob)\s*\(\s*(['\"`])")
_CONCAT = re.compile(r"(['\"])\s*\+\s*\1")
# _CONCAT as two searches: a literal first character lets re skip ahead in C.
_CONCATS = (re.compile(r"'\s*\+\s*'"), re.compile(r'"\s*\+\s*"'))
_REVERSED = re.compile(
    r"(['\"])([^'\"\\\n]{2,500})\1\s*\.\s*split\(\s*(['\"])\3\s*\)\s*\.\s*reverse\(\s*\)\s*\.\s*join\("
)
_B64_LITERAL = re.compile(r"['\"]([A-Za-z0-9+/]{16,}={0,2})['\"]")
_PERCENT_U = re.compile(r"%u([0-9a-fA-F]{4})")
# A literal's body up to its closing quote (or a line end, except in `template`
# literals); an escape takes the next character whatever it is.
_LITERAL_BODY = {
    q: re.compile(rf"(?:[^{q}\\{nl}]++|\\[\s\S]?)*+")
    for q, nl in (("'", "\n"), ('"', "\n"), ("`", ""))
}
_PACKER = "eval(function(p,a,c,k,e,"
_PACKER_PAYLOAD = re.compile(r"\}\s*\(\s*(['\"])")  # })('payload'
_PACKER_ARGS = re.compile(r"\s*,\s*(\d+|\[\])\s*,\s*(\d+)\s*,\s*(['\"])")  # ,radix,count,'words'
_PACKER_WORD = re.compile(r"\b\w+\b")

# Navigation, title and write patterns, one regex per leading literal: re finds a
# literal prefix in C at memory speed, while an alternation is tried at every
# character (4-10x slower on big bundles). Matches of different patterns never
# overlap, so merging them by position gives what one alternation would find.
_NAV = (
    re.compile(
        r"location\s*(?:(?:\.\s*href\s*)?=(?!=)"
        r"|\[\s*['\"]href['\"]\s*\]\s*=(?!=)"
        r"|\.\s*(?:replace|assign)\s*\()"
    ),
    re.compile(r"window\s*\.\s*open\s*\("),
    # top["location"]= (also ['location'].href=, ['location']['href']=) once
    # 'loc'+'ation' is joined
    re.compile(
        r"\[\s*['\"`]location['\"`]\s*\]\s*(?:=(?!=)|\.\s*(?:replace|assign)\s*\("
        r"|(?:\.\s*href|\[\s*['\"`]href['\"`]\s*\])\s*=(?!=))"
    ),
)
_NAV_OWNER = re.compile(r"(?:window|self|top|parent|document)\s*\.\s*$")
_TITLE_SET = re.compile(r"document\s*\.\s*title\s*=(?!=)\s*")
# The same through the <title> element or a bracket ("ti"+"tle" joined): one pattern
# per leading literal, as for _NAV (an alternation is tried at every character).
_TITLE_PROPERTY = r"\s*\.\s*(?:innerHTML|innerText|textContent|text)\s*=(?!=)\s*"
_TITLE_SETS_OTHER = (
    re.compile(r"getElementsByTagName\s*\(\s*['\"]title['\"]\s*\)\s*\[\s*0\s*\]" + _TITLE_PROPERTY),
    re.compile(r"querySelector\s*\(\s*['\"]title['\"]\s*\)" + _TITLE_PROPERTY),
    re.compile(r"document\s*\[\s*['\"`]title['\"`]\s*\]\s*=(?!=)\s*"),
)
_TITLE_SETS = (_TITLE_SET, *_TITLE_SETS_OTHER)
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]{0,60}")
_BARE_URL = re.compile(r"https?://[^\s'\"`<>()]{3,300}", re.I)
_WRITE = (
    re.compile(r"document\s*\.\s*write(?:ln)?\s*\("),
    re.compile(r"innerHTML\s*\+?=(?!=)"),
    re.compile(r"insertAdjacentHTML\s*\("),
)
_REFERRER = re.compile(r"document\s*\.\s*referr?er|\[\s*['\"]referr?er['\"]\s*\]", re.I)
_SEARCH_ENGINE = re.compile(
    r"baidu|google|sogou|so\.com|sm\.cn|bing|yahoo|yandex|haosou|soso|youdao|toutiao|shenma|"
    r"360\.cn|naver|duckduckgo|coccoc",
    re.I,
)
_USER_AGENT = re.compile(r"navigator\s*\.\s*(?:userAgent|appVersion|platform)", re.I)
_CRAWLER = re.compile(
    r"spider|bot\b|bot[\"'|/)]|crawl|slurp|baidu|googlebot|sogou|yisou|bingbot|bytespider|"
    r"headless|lighthouse",
    re.I,
)
_MOBILE = re.compile(r"android|iphone|ipad|mobile|ucweb|symbian|windows phone|midp", re.I)
_CONDITIONS = (_REFERRER, _SEARCH_ENGINE, _USER_AGENT, _CRAWLER, _MOBILE)
# The same without re.I, for ASCII text lower-cased first: there they match exactly
# where the re.I ones match the original (re.I lets only a few non-ASCII letters,
# such as the Kelvin sign, match ASCII ones; ASCII text holds none, and lower() keeps
# its length and its word characters; the patterns hold no upper-case escape like \S).
# Several times faster: re.I alternations are tried character by character.
_CONDITIONS_ASCII = tuple(re.compile(pattern.pattern.lower()) for pattern in _CONDITIONS)
_URL_LITERAL = re.compile(r"""['"`]((?:https?:)?//[^'"`\s<>]{3,300})""", re.I)
_EXPR_END = re.compile(r"[;}\n]")
# What _written_literals acts on: quotes, statement ends, a closing parenthesis.
_WRITE_STOP = re.compile(r"['\"`;\n)]")
_ANY_LITERAL = re.compile(r"""(['"`])([^'"`\n]{0,300})\1""")
# Plain substrings: a few C-level finds beat one regex alternation over a big bundle.
_ANALYTICS = (
    "hm.baidu.com", "google-analytics.com", "googletagmanager.com", "gtag(", "cnzz.com",
    "51.la", "umeng.com", "clarity.ms", "yandex.ru/metrika", "statcounter.com", "matomo",
    "piwik",
)  # fmt: skip
_DOMAIN_TOKENS = frozenset(
    {
        "bet", "casino", "slot", "slots", "gacor", "togel", "judi", "poker", "porn", "sex",
        "xxx", "tiyu", "yule", "qipai", "caipiao", "xpj", "amjs", "vns", "bocai", "baijiale",
        "replica", "viagra", "cialis", "pharma", "meds", "copy", "supercopy", "tube", "maxwin",
        "zeus", "joker", "ufabet", "sbobet", "pgslot", "jackpot", "baccarat", "bola",
    }
)  # fmt: skip
_DOMAIN_SPLIT = re.compile(r"[-_.\d]+")
_DOMAIN_SHAPES = re.compile(
    r"^(?:casino|slot|porn|xxx|judi)|gacor|togel|maxwin|^bet[a-z]*\d|hg\d{3,}|\d{4,}"
    r"|[a-z]{2,}(?:88|888|777|168|365)(?:[a-z]|$)"
)


@lru_cache(maxsize=4096)
def spammy_domain(domain: str) -> bool:
    """Gambling/porn/pharma-looking registrable domain (used only to raise confidence).

    Whole tokens only (``rx-meds-online24`` yes, ``medscape`` and ``youtube`` no).
    """
    label = domain.split(".", 1)[0].lower()
    tokens = [t for t in _DOMAIN_SPLIT.split(label) if t]
    if any(t in _DOMAIN_TOKENS or (t.endswith("bet") and t != "alphabet") for t in tokens):
        return True
    return bool(_DOMAIN_SHAPES.search(label))


def spammy_url(url: str, domain: str) -> bool:
    """``url`` (on registrable ``domain``) names spam: by its domain's shape or by
    spam terms in the address (``/slot-gacor/``)."""
    return spammy_domain(domain) or scan(normalise(url[:300])).spammy()


@dataclass(slots=True)
class Navigation:
    how: str
    target: str  # '' when the target is not a literal
    obfuscated: bool  # only visible after decoding
    condition: str = ""  # what the navigation is conditioned on ('' = nothing found nearby)


@dataclass(slots=True)
class ScriptReport:
    """Everything analyse() needs from one script, decoded."""

    decoded: str = ""  # decoded layers only
    obfuscated: bool = False
    referer_check: bool = False  # reads document.referrer and names search engines
    crawler_check: bool = False  # reads the user agent and names crawlers
    mobile_check: bool = False
    analytics: bool = False  # analytics code; only looked for when the script navigates
    navigations: list[Navigation] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)  # literals assigned to document.title
    written_html: list[str] = field(default_factory=list)


def read_js_string(text: str, start: int) -> tuple[str, int]:
    """Read the JS string literal whose opening quote is at ``start``.

    Returns (raw contents with escapes left in, index after the closing quote); linear
    (the body regex's alternatives start with different characters: no backtracking).
    """
    quote = text[start]
    end = min(len(text), start + MAX_LITERAL)
    m = _LITERAL_BODY[quote].match(text, start + 1, end)
    i = m.end() if m is not None else start + 1
    if i < end and text[i] == quote:
        return text[start + 1 : i], i + 1
    return text[start + 1 : i], i


def _unescape_js(raw: str) -> str:
    """JS escape sequences in a literal's raw text -> characters."""
    if "\\" not in raw:
        return raw
    out = _HEX_ESC.sub(lambda m: chr(int(m.group(1), 16)), raw)
    out = _UNI_ESC.sub(lambda m: chr(int(m.group(1), 16)), out)
    out = _UNI_BRACE.sub(lambda m: _safe_chr(int(m.group(1), 16)), out)
    out = _OCT_ESC.sub(lambda m: chr(int(m.group(1), 8)), out)
    return (
        out.replace("\\'", "'")
        .replace('\\"', '"')
        .replace("\\/", "/")
        .replace("\\n", "\n")
        .replace("\\t", "\t")
        .replace("\\\\", "\\")
    )


def _safe_chr(n: int) -> str:
    return chr(n) if 0 <= n <= 0x10FFFF else ""


def _char_codes(arguments: str) -> str:
    """The text String.fromCharCode() makes of its comma-separated ``arguments``
    (decimal or 0x hex; unreadable ones are skipped, out-of-range ones give nothing)."""
    parts = arguments.split(",")
    try:
        # Kits write hundreds of plain decimal codes: all at once in C (int() ignores
        # the whitespace strip() would remove; hex or empty parts raise).
        codes = list(map(int, parts))
    except ValueError:
        chars = []
        for part in parts:
            part = part.strip()
            try:
                n = int(part, 16) if part[:2].lower() == "0x" else int(part)
            except ValueError:
                continue
            chars.append(_safe_chr(n))
        return "".join(chars)
    if codes and max(codes) <= 0x10FFFF:  # no sign in the arguments: none is negative
        return "".join(map(chr, codes))
    return "".join(map(_safe_chr, codes))


def _percent_decode(raw: str) -> str:
    raw = _PERCENT_U.sub(lambda m: chr(int(m.group(1), 16)), raw)
    return unquote(raw, errors="replace")


def _b64(raw: str) -> str | None:
    raw = raw.strip()
    if len(raw) < 8:
        return None
    try:
        data = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if text.isprintable():
        return text or None
    printable = sum(map(str.isprintable, text)) + sum(map(text.count, "\n\r\t"))
    return text if printable >= 0.9 * len(text) else None


def _unbase(word: str, radix: int) -> int | None:
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if radix > 62 or radix < 2:
        return None
    n = 0
    for ch in word:
        d = alphabet.find(ch)
        if d < 0 or d >= radix:
            return None
        n = n * radix + d
    return n


def _unpack(source: str) -> list[str]:
    """Decode Dean Edwards' p,a,c,k,e,d packer payloads (at most a few per script)."""
    out = []
    pos = 0
    for _ in range(4):
        idx = source.find(_PACKER, pos)
        if idx < 0:
            break
        pos = idx + len(_PACKER)
        m = _PACKER_PAYLOAD.search(source, pos, pos + MAX_SCRIPT_CHARS)
        if not m:
            break
        payload, after = read_js_string(source, m.end() - 1)
        args = _PACKER_ARGS.match(source, after)
        if not args:
            continue
        keywords, _end = read_js_string(source, args.end() - 1)
        radix = int(args.group(1)) if args.group(1).isdigit() else 62
        words = keywords.split("|")
        payload = _unescape_js(payload)

        def sub(match: re.Match[str], words: list[str] = words, radix: int = radix) -> str:
            n = _unbase(match.group(), radix)
            if n is not None and n < len(words) and words[n]:
                return words[n]
            return match.group()

        out.append(_PACKER_WORD.sub(sub, payload[:MAX_SCRIPT_CHARS]))
    return out


def _decode_layer(text: str) -> list[str]:
    """One round of de-obfuscation; returns newly decoded fragments."""
    found: list[str] = []
    if _PACKER in text:
        found.extend(_unpack(text))
    for m in _FROMCHARCODE.finditer(text) if "fromCharCode" in text else ():
        if chars := _char_codes(m.group(1)):
            found.append(chars)
    has_decoder = "unescape" in text or "decodeURI" in text or "atob" in text
    for m in _DECODER_CALL.finditer(text) if has_decoder else ():
        raw, _ = read_js_string(text, m.end() - 1)
        raw = _unescape_js(raw)
        if m.group(1) == "atob":
            decoded = _b64(raw)
            if decoded:
                found.append(decoded)
        elif "%" in raw:
            found.append(_percent_decode(raw))
    if "atob" in text:
        for m in _B64_LITERAL.finditer(text):
            decoded = _b64(m.group(1))
            if decoded:
                found.append(decoded)
    for m in _REVERSED.finditer(text) if ".reverse(" in text else ():
        found.append(m.group(2)[::-1])
    # Whole-text rewrites (escapes, 'a'+'b' joins) copy the script; only worth it for
    # small scripts or ones dense with escapes (i18n bundles have a few, kits many).
    escapes = text.count("\\x") + text.count("\\u")
    if escapes and (len(text) < 65536 or escapes * 50 > len(text)):
        unescaped = _unescape_js(text)
        if unescaped != text:
            found.append(unescaped)
    if len(text) < 65536 and any(p.search(text) for p in _CONCATS):
        joined = _CONCAT.sub("", text)
        if joined != text:
            found.append(joined)
    return found


def decode_script(source: str) -> tuple[str, bool]:
    """(original + decoded layers, whether anything was decoded)."""
    source = source[:MAX_SCRIPT_CHARS]
    layers = [source]
    frontier = source
    total = len(source)
    seen = {source}
    for _ in range(MAX_LAYERS):
        fresh = [f for f in _decode_layer(frontier) if f and f not in seen]
        if not fresh:
            break
        for fragment in fresh:
            seen.add(fragment)
        frontier = "\n".join(fresh)[: MAX_DECODED_CHARS - total]
        total += len(frontier)
        layers.append(frontier)
        if total >= MAX_DECODED_CHARS:
            break
    return "\n".join(layers), len(layers) > 1


def _literal_after(text: str, pos: int) -> str:
    """The first string literal (URL or not) in the expression starting at ``pos``."""
    window = text[pos : pos + 400]
    stop = _EXPR_END.search(window)
    expr = window[: stop.start()] if stop else window
    m = _ANY_LITERAL.search(expr)
    return m.group(2).strip() if m else ""


def _assigned_text(text: str, pos: int) -> str:
    """The text an assignment starting at ``pos`` gives: its string literals joined
    (``"Online "+a+" casino"``), or a variable's literal value (``document.title=t``
    after ``var t="..."``, its last assignment); '' when computed otherwise.

    Literals are read whole: a ';' or '}' inside one does not end the expression."""
    end = min(len(text), pos + 2000)
    parts: list[str] = []
    i = pos
    while i < end and len(parts) < 20:
        c = text[i]
        if c in "'\"`":
            raw, i = read_js_string(text, i)
            parts.append(_unescape_js(raw))
        elif c in ";}\n":
            break
        else:
            i += 1
    if parts:
        return "".join(parts)
    name = _IDENTIFIER.match(text, pos)
    if name is not None:
        last = None
        for last in _assignments(name.group()).finditer(text, 0, pos):  # noqa: B007
            pass
        if last is not None:
            raw, _ = read_js_string(text, last.start(1))
            return _unescape_js(raw)
    return ""


@lru_cache(maxsize=64)
def _assignments(name: str) -> re.Pattern[str]:
    """Where ``name`` is given a string literal."""
    return re.compile(rf"(?<![\w$.]){re.escape(name)}\s*=\s*(['\"`])")


def scan_script(source: str) -> ScriptReport:
    """Decode one script and collect the facts detectors need."""
    return _scan(source, decode=True)


def _scan(source: str, decode: bool) -> ScriptReport:
    """scan_script(); ``decode=False`` when the script holds no decoder marker (then
    decode_script would return it unchanged)."""
    text, obfuscated = decode_script(source) if decode else (source[:MAX_SCRIPT_CHARS], False)
    original_len = min(len(source), MAX_SCRIPT_CHARS)
    report = ScriptReport(decoded=text[original_len + 1 :], obfuscated=obfuscated)
    original = text[:original_len]
    fallback_url: str | None = None
    for m in _matches(_NAV, text, 20):
        target = _literal_after(text, m.end())
        if not target:
            if fallback_url is None:
                url = _URL_LITERAL.search(text)
                if url is None:  # a decoded layer holds the address without quotes
                    url = _BARE_URL.search(text, original_len)
                fallback_url = url.group(url.lastindex or 0) if url else ""
            target = fallback_url
        hidden = m.start() >= original_len and bool(target) and target not in original
        condition = _condition_near(text, m.start())
        if "referrer" in condition:
            report.referer_check = True
        if "crawler" in condition:
            report.crawler_check = True
        if "mobile" in condition:
            report.mobile_check = True
        owner = _NAV_OWNER.search(text, max(0, m.start() - 12), m.start())
        how = (owner.group() if owner else "") + m.group()
        report.navigations.append(Navigation(clip(how, 40), target, hidden, condition))
    # Only navigation findings look at it: a dozen substring scans saved elsewhere.
    report.analytics = bool(report.navigations) and any(m in text for m in _ANALYTICS)
    for m in _matches(_TITLE_SETS, text, 10) if "title" in text else ():  # 10 at most
        condition = _condition_near(text, m.start())
        report.referer_check = report.referer_check or "referrer" in condition
        report.crawler_check = report.crawler_check or "crawler" in condition
        report.titles.append(_assigned_text(text, m.end()))
    for m in _matches(_WRITE, text, 20):
        report.written_html.append(_written_literals(text, m.end()))
    if report.decoded and "<" in report.decoded:
        report.written_html.append(report.decoded)
    report.written_html = [h for h in report.written_html if "<" in h]
    return report


# Without one of these _decode_layer finds nothing to decode. A marker: the words
# every match of its pattern holds, and the pattern (None: the word is the match).
_Marker = tuple[frozenset[str], re.Pattern[str] | None]
_DECODER_MARKERS: tuple[_Marker, ...] = (
    *(
        (frozenset({marker}), None)
        for marker in (_PACKER, "fromCharCode", "unescape", "decodeURI", "atob", ".reverse(")
    ),
    (frozenset({"\\x"}), None),
    (frozenset({"\\u"}), None),
    (frozenset({"'", "+"}), _CONCATS[0]),
    (frozenset({'"', "+"}), _CONCATS[1]),
)
# Undecoded text can only yield a finding through one of these (_NAV, _TITLE_SETS and
# _WRITE, the document.* ones merged).
_ACTION_MARKERS: tuple[_Marker, ...] = (
    (frozenset({"location"}), _NAV[0]),
    (frozenset({"window", "open"}), _NAV[1]),
    (frozenset({"location"}), _NAV[2]),
    (frozenset({"getElementsByTagName"}), _TITLE_SETS_OTHER[0]),
    (frozenset({"querySelector"}), _TITLE_SETS_OTHER[1]),
    (frozenset({"document", "title"}), _TITLE_SETS_OTHER[2]),
    (frozenset({"document"}), re.compile(r"document\s*\.\s*(?:title\s*=(?!=)|write(?:ln)?\s*\()")),
    (frozenset({"innerHTML"}), _WRITE[1]),
    (frozenset({"insertAdjacentHTML"}), _WRITE[2]),
)
# The markers' words, found in the scripts by one automaton pass (Rust) instead of a
# dozen substring scans; single characters by memchr (``in``), since every script
# holds them many times and the automaton lists every occurrence.
_WORDS = sorted({w for words, _ in _DECODER_MARKERS + _ACTION_MARKERS for w in words if len(w) > 1})
_CHARS = sorted(
    {w for words, _ in _DECODER_MARKERS + _ACTION_MARKERS for w in words if len(w) == 1}
)
# Leftmost-first, non-overlapping: the search then skips ahead with a prefilter
# (several times faster than listing overlapping matches). An occurrence it skips
# starts inside a reported match, so its word overlaps the reported word: only such
# neighbours of the words found are tested for by substring search.
_WORD_AUTOMATON = ahocorasick_rs.BytesAhoCorasick(
    [w.encode() for w in _WORDS],
    implementation=ahocorasick_rs.Implementation.DFA,
    matchkind=ahocorasick_rs.MatchKind.LeftmostFirst,
)


def _can_overlap(a: str, b: str) -> bool:
    """Whether occurrences of ``a`` and ``b`` can overlap in some text."""
    return a in b or b in a or any(a.endswith(b[:k]) or b.endswith(a[:k]) for k in range(1, len(b)))


_NEIGHBOURS = {w: tuple(v for v in _WORDS if v != w and _can_overlap(v, w)) for w in _WORDS}
# The first scripts, up to this many characters in all, are searched by the automaton
# together (one call); the rest by substring tests, which stop at a word's first
# occurrence, while the automaton lists every occurrence (hostile pages repeat words).
MAX_AUTOMATON_CHARS = 32 * 1024


def _words_of(sources: list[str]) -> list[set[str]]:
    """The markers' words that each script holds."""
    words: list[set[str]] = []
    searched: list[bytes] = []  # the automaton's scripts, UTF-8, joined by NULs below
    starts: list[int] = []  # where each begins there
    owners: list[int] = []  # and which script it is
    total = pos = 0
    for i, source in enumerate(sources):
        found: set[str] = set()
        for char in _CHARS:  # a plain loop: cheaper than a generator
            if char in source:
                found.add(char)
        total += len(source)
        if total <= MAX_AUTOMATON_CHARS:
            data = source.encode("utf-8", "surrogatepass")
            searched.append(data)
            starts.append(pos)
            owners.append(i)
            pos += len(data) + 1
        else:
            for word in _WORDS:
                if word in source:
                    found.add(word)
        words.append(found)
    if searched:
        # No word holds a NUL: a match never spans two scripts.
        joined = b"\x00".join(searched)
        reported: dict[int, set[str]] = {}
        for index, start, _end in _WORD_AUTOMATON.find_matches_as_indexes(joined):
            reported.setdefault(owners[bisect_right(starts, start) - 1], set()).add(_WORDS[index])
        for i, found_words in reported.items():
            found = words[i]
            found |= found_words
            source = sources[i]
            for word in found_words:
                for neighbour in _NEIGHBOURS[word]:
                    if neighbour not in found and neighbour in source:
                        found.add(neighbour)
    return words


# What a script holding some words needs searched: its decoder and action patterns
# (None: a marker's words suffice). Scripts hold the same few combinations of words:
# nineteen subset tests per script are made once per combination.
_Patterns = tuple[re.Pattern[str] | None, ...]


@lru_cache(maxsize=1024)
def _patterns_for(words: frozenset[str]) -> tuple[_Patterns, _Patterns]:
    """(decoder, action) patterns of the markers whose words are all in ``words``."""
    return (
        tuple(pattern for needed, pattern in _DECODER_MARKERS if needed <= words),
        tuple(pattern for needed, pattern in _ACTION_MARKERS if needed <= words),
    )


def _matches_any(patterns: _Patterns, source: str) -> bool:
    """Whether ``source`` holds a match of any marker _patterns_for() kept."""
    for pattern in patterns:  # noqa: SIM110 (a plain loop: cheaper than a generator)
        if pattern is None or pattern.search(source) is not None:
            return True
    return False


def scan_scripts(sources: list[str]) -> list[ScriptReport]:
    """scan_script() of each script that can yield a finding, in order; the others
    (configs, JSON-LD, most analytics) would give empty reports and are left out.

    One automaton pass finds the markers' words in all scripts; a marker's pattern
    is searched for only in the scripts holding its words. Scripts without a decoder
    marker skip decoding.
    """
    sources = [source[:MAX_SCRIPT_CHARS] for source in sources]
    reports = []
    for source, words in zip(sources, _words_of(sources), strict=True):
        if not words:
            continue
        decoder, action = _patterns_for(frozenset(words))
        if _matches_any(decoder, source):
            reports.append(_scan(source, True))
        elif _matches_any(action, source):
            reports.append(_scan(source, False))
    return reports


_START = operator.methodcaller("start")


def _matches(patterns: tuple[re.Pattern[str], ...], text: str, limit: int) -> list[re.Match[str]]:
    """The first ``limit`` matches of several patterns, in text order (they never
    overlap, so this is what one alternation of them would find)."""
    found = [m for pattern in patterns for m in islice(pattern.finditer(text), limit)]
    found.sort(key=_START)
    return found[:limit]


def _condition_near(text: str, pos: int) -> str:
    """What the code just before ``pos`` checks: the search-engine referrer, a crawler
    user agent, a mobile user agent; '' when none. Only nearby code counts, so a big
    bundle that reads document.referrer somewhere does not taint every navigation."""
    window = text[max(0, pos - 700) : pos + 80]
    if window.isascii():  # O(1) in CPython; see _CONDITIONS_ASCII
        window = window.lower()
        referrer, engine, agent, crawler, mobile = _CONDITIONS_ASCII
    else:
        referrer, engine, agent, crawler, mobile = _CONDITIONS
    parts = []
    if referrer.search(window) and engine.search(window):
        parts.append("the search-engine referrer")
    if agent.search(window):
        if crawler.search(window):
            parts.append("the crawler user agent")
        elif mobile.search(window):
            parts.append("the mobile user agent")
    return " and ".join(parts)


def _written_literals(text: str, pos: int) -> str:
    """Concatenated string literals of a document.write(...) argument."""
    parts = []
    i = pos
    end = min(len(text), pos + MAX_LITERAL)
    while len(parts) < 200:
        # Every other character only moves the loop on by one: jump past them in C.
        stop = _WRITE_STOP.search(text, i, end)
        if stop is None:
            break
        i = stop.start()
        ch = text[i]
        if ch in "'\"`":
            raw, i = read_js_string(text, i)
            parts.append(_unescape_js(raw))
            continue
        if ch in ";\n" or (ch == ")" and not parts):
            break
        if ch == ")":
            # end of the write() call unless more '+' concatenation follows
            rest = text[i + 1 : i + 3].lstrip()
            if not rest.startswith("+"):
                break
        i += 1
    return "".join(parts)


def external_target(target: str, page_domain: str) -> str | None:
    """Registrable domain of a navigation target when it leaves the page's site."""
    if not target:
        return None
    low = target.lower()
    if not (low.startswith(("http://", "https://", "//"))):
        return None
    domain = url_domain(target if not low.startswith("//") else "http:" + target)
    if not domain or domain == page_domain:
        return None
    return domain


def navigation_findings(report: ScriptReport, page_domain: str) -> list[Finding]:
    """script_redirect findings for one decoded script."""
    findings: list[Finding] = []
    for nav in report.navigations:
        cloaked = "referrer" in nav.condition or "crawler" in nav.condition
        domain = external_target(nav.target, page_domain)
        if domain is None:
            if cloaked and not nav.target and not report.analytics:
                findings.append(
                    Finding(
                        "script_redirect",
                        "medium",
                        f"script checks {nav.condition} and navigates ({nav.how}) "
                        "to a computed address",
                    )
                )
            continue
        spam = spammy_url(nav.target, domain)
        if cloaked or spam:  # every (or every mobile) visitor sent to a casino-like site
            severity = "high"
        elif nav.obfuscated:
            severity = "medium"
        elif nav.condition:
            severity = "low"
        else:
            continue  # plain navigation to another site: logins, paywalls, share buttons
        findings.append(
            Finding(
                "script_redirect",
                severity,
                clip(
                    f"script {'(obfuscated) ' if nav.obfuscated else ''}"
                    f"{'checks ' + nav.condition + ' and ' if nav.condition else ''}"
                    f"sends visitors to {nav.target} via {nav.how}"
                ),
            )
        )
    return unique_findings(findings)


def _condition(report: ScriptReport) -> str:
    parts = []
    if report.referer_check:
        parts.append("the search-engine referrer")
    if report.crawler_check:
        parts.append("the crawler user agent")
    if not parts and report.mobile_check:
        parts.append("the mobile user agent")
    return " and ".join(parts) or "nothing"


def title_findings(report: ScriptReport, page_title_spam: bool = False) -> list[Finding]:
    """title_swap: scripts rewriting document.title, the classic cloaked-title trick."""
    findings = []
    for title in report.titles:
        spam = scan(normalise(title)).spammy() if title else False
        if report.crawler_check or report.referer_check or spam or page_title_spam:
            severity = "high"
        elif report.obfuscated:
            severity = "medium"
        else:
            continue
        why = []
        if report.crawler_check or report.referer_check:
            why.append(f"after checking {_condition(report)}")
        if page_title_spam and not spam:
            why.append("restoring a clean title over a spam <title>")
        if spam:
            why.append("to spam text")
        findings.append(
            Finding(
                "title_swap",
                severity,
                clip(f"script sets document.title = {title!r} " + " ".join(why)),
            )
        )
    return unique_findings(findings)
