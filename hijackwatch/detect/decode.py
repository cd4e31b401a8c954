"""Bytes to text for hostile pages: explicit charset, BOM, <meta charset>, then guessing.

Chinese, Taiwanese and Japanese sites still serve GBK, Big5 and Shift_JIS; the
legacy labels are widened to their supersets so rare characters survive.
"""

from __future__ import annotations

import codecs
import re
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


def _looks_binary(head: bytes) -> str | None:
    if head.startswith(_MAGICS):  # one call for the common case: no magic number
        for magic, what in _BINARY_MAGIC:
            if head.startswith(magic):
                return what
    if b"\x00" in head:
        # UTF-16 text has NULs too, but it starts with a BOM (handled before this check).
        nuls = head.count(b"\x00")
        if nuls > len(head) // 20:
            return "binary data"
    controls = len(head.translate(None, _NON_CONTROL_BYTES))  # keeps only the controls
    if head and controls > len(head) // 10:
        return "binary data"
    return None


def xml_safe_bytes(body: bytes, codec: str) -> bool:
    """True when text decoded from ``body`` cannot hold XML-incompatible characters.

    In UTF-8 and the legacy CJK/Latin encodings, control characters are single bytes
    below 0x20 (multi-byte sequences never use them), so one C-level byte pass tells;
    UTF-16/32 text has to be checked after decoding.
    """
    if codec.startswith(("utf-16", "utf-32")):
        return False
    # One memchr() per bad byte value (``map`` over the C method, no Python loop): 27
    # vectorised scans cost less than one byte-by-byte translate() pass over the body.
    return not any(map(body.__contains__, _XML_BAD_BYTES))


def _decode_declared(body: bytes, codec: str) -> str | None:
    """``body`` decoded with a declared codec, or None when that fails."""
    if codec.startswith(("utf-16", "utf-32")):
        return None
    text = body.decode(codec, errors="replace")
    # Declarations lie (a Big5 page saying utf-8); many U+FFFD means sniff instead.
    # (Finding one is far cheaper than counting; most pages have none.)
    if "\ufffd" not in text or text.count("\ufffd") <= max(2, len(text) // 1000):
        return text
    return None


def decode_body(body: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Return (text, codec used). Raises UndecodableError for binary or empty input."""
    body = body[:MAX_BYTES]
    if not body or body.isspace():  # what ``not body.strip()`` says, without a copy
        raise UndecodableError("empty document")
    if body.startswith(_BOM_STARTS):  # one call for the common case: no BOM
        for bom, codec in _BOMS:
            if body.startswith(bom):
                return body.decode(codec, errors="replace"), codec
    head = body[:4096]
    what = _looks_binary(head)
    if what:
        raise UndecodableError(f"not an HTML page ({what})")
    # The HTTP charset first; the page's <meta> is only searched when that is missing
    # or wrong, and a codec that already failed is not tried twice.
    declared = codec_name(encoding)
    if declared and (text := _decode_declared(body, declared)) is not None:
        return text, declared
    match = _META_CHARSET.search(body[:8192])
    if match:
        codec = codec_name(match.group(1).decode("ascii", "replace"))
        if codec and codec != declared and (text := _decode_declared(body, codec)) is not None:
            return text, codec
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(body) - 4:  # a multi-byte character cut off by truncation
            return body.decode("utf-8", errors="replace"), "utf-8"
    best = charset_normalizer.from_bytes(body[:262144], cp_isolation=list(WEB_CODECS)).best()
    codec = codec_name(best.encoding) if best is not None else None
    if codec is None:
        codec = "utf-8"
    return body.decode(codec, errors="replace"), codec
