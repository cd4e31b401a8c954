"""Bytes to text for hostile pages: explicit charset, BOM, <meta charset>, then guessing.

Chinese, Taiwanese and Japanese sites still serve GBK, Big5 and Shift_JIS; the
legacy labels are widened to their supersets so rare characters survive.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache

import charset_normalizer

MAX_BYTES = 4 * 1024 * 1024  # analyse at most the first 4 MB of a page

_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "cp950": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "tis-620": "cp874",
}
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,300}?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]{2,40})""", re.I
)
_BINARY_MAGIC = (
    (b"\x89PNG", "PNG image"),
    (b"GIF8", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"%PDF", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"RIFF", "RIFF media"),
    (b"\x00\x00\x01\x00", "icon"),
    (b"wOFF", "web font"),
    (b"wOF2", "web font"),
    (b"\x7fELF", "executable"),
    (b"MZ", "executable"),
)


# The encodings browsers implement (WHATWG Encoding Standard): a page in anything else
# does not render either, and sniffing only these is several times faster.
WEB_CODECS = (
    "utf_8", "ibm866", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_5", "iso8859_6",
    "iso8859_7", "iso8859_8", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15",
    "iso8859_16", "koi8_r", "koi8_u", "mac_roman", "mac_cyrillic", "cp874", "cp1250",
    "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    "gb18030", "gbk", "gb2312", "big5", "big5hkscs", "euc_jp", "iso2022_jp", "shift_jis",
    "cp932", "euc_kr", "cp949", "tis_620", "utf_16_be", "utf_16_le",
)  # fmt: skip

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BOM_STARTS = tuple(bom for bom, _codec in _BOMS)
_CONTROL_BYTES = bytes([*range(9), *range(14, 32)])
_NON_CONTROL_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_MAGICS = tuple(magic for magic, _what in _BINARY_MAGIC)
_XML_BAD_BYTES = bytes([*range(9), 11, 12, *range(14, 32)])
_PRINTABLE = bytes(1 if 32 <= b < 127 or b in (9, 10, 13) else 0 for b in range(256))
# Tags an HTML page opens with; a binary holding "<html" somewhere does not have one
# in its first kilobyte (of text without NULs).
# (No one-letter tags: "<p " turns up in random bytes.)
_MARKUP_SOURCE = (
    r"<(?:!--|(?:!doctype|html|head|body|title|meta|link|script|style|div|span|table"
    r"|iframe)[\s>/])"
)
_MARKUP = re.compile(_MARKUP_SOURCE.encode(), re.I)
_MARKUP_TEXT = re.compile(_MARKUP_SOURCE, re.I)
_MARKUP_WINDOW = 1024
_HEAD = 4096  # bytes judged for binary data
_META_WINDOW = 8192  # bytes searched for a <meta charset>
# Share of the bytes at one parity that are NUL before undeclared text is read as
# UTF-16: ASCII-heavy markup gives far more (~0.9), a page's few stray NULs far less.
WIDE_DENSITY = 0.3
NUL_MARGIN = 4  # ... and that many times the NULs at the other parity
# Multi-byte codecs that read every byte below 0x80 at a character boundary as that
# ASCII character, with no state (unlike ISO-2022 or HZ): their C decoders take ~3 ns
# a byte even for ASCII, which _decode() hands to the ASCII decoder instead.
_ASCII_MULTIBYTE = frozenset({"gb18030", "big5hkscs", "euc_jp", "cp932", "cp949"})
_CHUNK = 1024  # bytes _decode() tests for non-ASCII at once ...
_SUB = 128  # ... and at the ends of a stretch holding some


class UndecodableError(ValueError):
    """The input is not a text document (binary or empty)."""


def codec_name(label: str | None) -> str | None:
    """A Python codec for a charset label, or None when unknown."""
    if not label:
        return None
    return _codec_name(label)


@lru_cache(maxsize=256)
def _codec_name(label: str) -> str | None:
    """codec_name() of a non-empty label; a crawl sees the same few labels on every page."""
    label = label.strip().strip("\"'").lower()
    label = _SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _magic(body: bytes) -> str | None:
    """What a file format's magic number says the body is, if it has one."""
    if body.startswith(_MAGICS):  # one call for the common case: no magic number
        for magic, what in _BINARY_MAGIC:
            if body.startswith(magic):
                return what
    return None


def _too_many_controls(head: bytes) -> bool:
    controls = len(head.translate(None, _NON_CONTROL_BYTES))  # keeps only the controls
    return controls > len(head) // 10


def _nul_order(head: bytes) -> str | None:
    """The UTF-16/32 byte order the NULs of ASCII characters give, or None.

    ASCII markup in UTF-16LE is ``<\\x00h\\x00``: NULs at odd offsets, NUL_MARGIN times
    as many as at even ones (characters U+xx00 put a few there: 开 is 00 5F), and at
    least WIDE_DENSITY of the bytes at those offsets. NUL padding, or NULs sprinkled
    into a page, fall at both parities alike; a handful placed by an attacker are far
    below the density of text that really is UTF-16.
    """
    zeros = [head[i::4].count(0) for i in range(4)]
    quarter = len(head) // 4
    if zeros[2] + zeros[3] > quarter * 1.8 and zeros[0] < quarter // 2:
        return "utf-32-le"
    if zeros[0] + zeros[1] > quarter * 1.8 and zeros[3] < quarter // 2:
        return "utf-32-be"
    odd, even = zeros[1] + zeros[3], zeros[0] + zeros[2]
    dense = WIDE_DENSITY * (len(head) // 2)
    if odd > NUL_MARGIN * even and odd >= dense:
        return "utf-16-le"
    if even > NUL_MARGIN * odd and even >= dense:
        return "utf-16-be"
    return None


def _utf16_codec(codec: str) -> str:
    """The codec a declared UTF-16 label means: a bare "utf-16" without a BOM is
    little-endian, as WHATWG (and so every browser) reads it, whatever the NULs say."""
    return "utf-16-le" if codec == "utf-16" else codec


def _ascii_misread(body: bytes, codec: str, text: str) -> bool:
    """True when a sniffed UTF-16/32 reading turns runs of plain ASCII into other text.

    A page can start as UTF-16 and go on in ASCII; a browser drops the NULs and shows
    the ASCII. Read as UTF-16, two ASCII bytes make one CJK-looking unit: real UTF-16
    text has at most ~47% of its non-ASCII units so made (Japanese, on the corpus), a
    misread run ~100%. Read as UTF-32, ASCII makes invalid code points (U+FFFD).
    """
    if codec.startswith("utf-32"):
        return text.count("\ufffd") > len(text) // 100
    even = body[: len(body) // 2 * 2]
    low, high = (even[0::2], even[1::2]) if codec == "utf-16-le" else (even[1::2], even[0::2])
    wide = len(high) - high.count(0)
    # Bitwise AND of two 0/1 byte strings through big ints: C speed on a 4 MB body.
    pairs = int.from_bytes(low.translate(_PRINTABLE), "big") & int.from_bytes(
        high.translate(_PRINTABLE), "big"
    )
    return pairs.bit_count() > wide * 3 // 4


def _decode_wide(body: bytes, head: bytes, declared: str | None) -> tuple[str, str] | None:
    """(text, codec) for a BOM-less UTF-16/32 page, or None.

    The HTTP charset is honoured as browsers do. Without any declaration (HTTP or
    ``<meta charset>``) the NUL pattern of ASCII markup tells, only when it is as dense
    as real UTF-16 text gives, and the reading must not hide ASCII a browser would show:
    browsers never guess UTF-16, so a few NULs placed in a page declared or read as
    UTF-8 must not turn it into CJK noise. Either way the text must open with HTML
    markup (a mislabelled or binary body does not).
    """
    if declared and declared.startswith("utf-16"):
        codec = _utf16_codec(declared)
        text = body.decode(codec, errors="replace")
        return (text, codec) if _MARKUP_TEXT.search(text, 0, _MARKUP_WINDOW) else None
    # Browsers know no UTF-32 label (they read such a page by its <meta>): neither
    # is it honoured here, nor does any declared charset leave room for a guess.
    if declared or _META_CHARSET.search(body, 0, _META_WINDOW):
        return None
    codec = _nul_order(head)
    if codec is None:
        return None
    text = body.decode(codec, errors="replace")
    if _MARKUP_TEXT.search(text, 0, _MARKUP_WINDOW) and not _ascii_misread(body, codec, text):
        return text, codec
    return None


def _nul_html_head(body: bytes, head: bytes) -> bytes:
    """The first 4 KB of ``body`` without NULs when it is an HTML page with NULs in it;
    raises UndecodableError when it is binary.

    Browsers do not sniff a text/html response as binary: NUL padding in front of a
    page hides nothing from a visitor. The NULs stay in the text (parsing turns them
    into U+FFFD, which tokenises ``<!\\0-- >`` or ``<scr\\0ipt>`` as a browser does:
    deleting them would open a comment the browser never sees). A binary has no HTML
    markup at its NUL-free start.
    """
    stripped = body.replace(b"\x00", b"")
    found = _MARKUP.search(stripped, 0, _MARKUP_WINDOW)
    if found is not None and not _too_many_controls(stripped[: found.start()]):
        return stripped[:4096]
    if head.count(0) > len(head) // 20:
        raise UndecodableError("not an HTML page (binary data)")
    return head


def xml_safe_bytes(body: bytes, codec: str) -> bool:
    """True when text decoded from ``body`` cannot hold XML-incompatible characters.

    In UTF-8 and the legacy CJK/Latin encodings, control characters are single bytes
    below 0x20 (multi-byte sequences never use them), so one C-level byte pass tells;
    UTF-16/32 text has to be checked after decoding.
    """
    if codec.startswith(("utf-16", "utf-32")):
        return False
    return _no_xml_bad_bytes(body)


def _no_xml_bad_bytes(body: bytes) -> bool:
    """Whether ``body`` holds no byte of _XML_BAD_BYTES.

    One memchr() per bad byte value (``map`` over the C method, no Python loop): 27
    vectorised scans cost less than one byte-by-byte translate() pass over the body.
    """
    return not any(map(body.__contains__, _XML_BAD_BYTES))


def _decode(body: bytes, codec: str) -> str:
    """``body.decode(codec, errors="replace")``. The multi-byte CJK codecs take ~3 ns a
    byte even for ASCII: only the stretches of their pages holding non-ASCII bytes go
    through the codec (three times faster on a page that is mostly markup).

    The text is the same wherever the stretches are cut: each is decoded strictly from
    where the one before ended, and a stateless decoder reads the same characters from
    the same bytes, so a stretch decoded without error is what the whole decode reads
    there; the ASCII bytes between stretches are ASCII characters. Any error (invalid
    text, or a cut inside a character) decodes the body whole, with replacements. A
    stretch ends one byte after its last non-ASCII sub-chunk, the ASCII trail byte a
    character may end with: valid text is then cut only between characters.
    """
    if codec not in _ASCII_MULTIBYTE:
        return body.decode(codec, errors="replace")
    pieces = []
    done = i = 0
    n = len(body)
    try:
        while i < n:
            if body[i : i + _CHUNK].isascii():
                i += _CHUNK
                continue
            j = i + _CHUNK
            while j < n and not body[j : j + _CHUNK].isascii():
                j += _CHUNK
            # Trimmed to its first and last non-ASCII sub-chunks.
            start, end = i, min(j, n)
            while body[start : start + _SUB].isascii():
                start += _SUB
            while body[max(end - _SUB, start) : end].isascii():
                end -= _SUB
            end = min(end + 1, n)
            pieces.append(body[done:start].decode("ascii"))
            pieces.append(body[start:end].decode(codec))
            done = end
            i = j + _CHUNK  # the chunk at j is ASCII (or past the end)
    except UnicodeDecodeError:
        return body.decode(codec, errors="replace")
    pieces.append(body[done:].decode("ascii"))
    return "".join(pieces)


def _decode_declared(body: bytes, codec: str) -> tuple[str, bool] | None:
    """(``body`` decoded with a declared codec, whether the text holds U+FFFD), or None
    when that fails."""
    if codec.startswith(("utf-16", "utf-32")):
        return None
    text = _decode(body, codec)
    # Declarations lie (a Big5 page saying utf-8); many U+FFFD means sniff instead.
    # (Finding one is far cheaper than counting; most pages have none.)
    if "\ufffd" not in text:
        return text, False
    if text.count("\ufffd") <= max(2, len(text) // 1000):
        return text, True
    return None


@dataclass(slots=True)
class Decoded:
    """A body's text and codec, with what decoding learnt on the way (for analyse())."""

    text: str
    codec: str
    # The text is the body's strict UTF-8 reading (a UTF-8 reading without U+FFFD
    # replaced nothing): parse() can hand libxml2 the body itself.
    exact: bool
    clean: bool | None  # no XML-incompatible byte in the body; None: not looked at


def decode_body(body: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Return (text, codec used). Raises UndecodableError for binary or empty input."""
    decoded = decode_bytes(body, encoding)
    return decoded.text, decoded.codec


def decode_bytes(body: bytes, encoding: str | None = None, *, scan: bool = False) -> Decoded:
    """decode_body() with what it learnt. ``scan``: also tell whether the body holds
    an XML-incompatible byte (analyse() needs it): the scan then replaces the check
    for binary control bytes at the start, which finds none in a clean body."""
    body = body[:MAX_BYTES]
    if not body or body.isspace():  # what ``not body.strip()`` says, without a copy
        raise UndecodableError("empty document")
    if body.startswith(_BOM_STARTS):  # one call for the common case: no BOM
        for bom, codec in _BOMS:
            if body.startswith(bom):
                return Decoded(body.decode(codec, errors="replace"), codec, False, None)
    what = _magic(body)
    if what:
        raise UndecodableError(f"not an HTML page ({what})")
    declared = codec_name(encoding)
    # The first 4 KB are judged for binary data, read in place: in a run of analyses a
    # fresh 4 KB copy cost more than the tests on it, so it is sliced only when needed.
    head = None
    if body.find(0, 0, _HEAD) >= 0 or (declared and declared.startswith("utf-16")):  # rare
        head = body[:_HEAD]
        if (wide := _decode_wide(body, head, declared)) is not None:
            return Decoded(*wide, False, None)
        if b"\x00" in head:
            head = _nul_html_head(body, head)  # NULs judged: the rest is checked alone
    # Control bytes are XML-incompatible too: a clean body has none in its head, so
    # the binary check is left for bodies the scan found some in (or did not scan).
    clean = _no_xml_bad_bytes(body) if scan else None
    if not clean and _too_many_controls(body[:_HEAD] if head is None else head):
        raise UndecodableError("not an HTML page (binary data)")
    # The HTTP charset first; the page's <meta> is only searched when that is missing
    # or wrong, and a codec that already failed is not tried twice.
    if declared and (read := _decode_declared(body, declared)) is not None:
        return Decoded(read[0], declared, declared == "utf-8" and not read[1], clean)
    match = _META_CHARSET.search(body, 0, _META_WINDOW)
    if match:
        codec = codec_name(match.group(1).decode("ascii", "replace"))
        if codec and codec != declared and (read := _decode_declared(body, codec)) is not None:
            return Decoded(read[0], codec, codec == "utf-8" and not read[1], clean)
    try:
        # Strict: the text holds no replacement, whatever U+FFFD the page itself has.
        return Decoded(body.decode("utf-8"), "utf-8", True, clean)
    except UnicodeDecodeError as exc:
        if exc.start >= len(body) - 4:  # a multi-byte character cut off by truncation
            return Decoded(body.decode("utf-8", errors="replace"), "utf-8", False, clean)
    best = charset_normalizer.from_bytes(body[:262144], cp_isolation=list(WEB_CODECS)).best()
    codec = codec_name(best.encoding) if best is not None else None
    if codec is None:
        codec = "utf-8"
    text = _decode(body, codec)
    return Decoded(text, codec, codec == "utf-8" and "\ufffd" not in text, clean)
