"""ViewSummary: the compact fingerprint of one view of a page, for cloaking comparison."""

from __future__ import annotations

import re
import struct
import zlib
from itertools import islice

from hijackwatch.detect.findings import Finding, ViewSummary

_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0e00-\u0e7f]|[^\W_]+")
MAX_TEXT = 8_000  # characters of main text fingerprinted (enough to tell views apart)
MAX_TOKENS = 600  # shingles fingerprinted; plenty to tell two views of a page apart
_M64 = (1 << 64) - 1
_K1, _K2, _K3, _K4 = (
    0x9E3779B97F4A7C15,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0xD6E8FEB86659FD93,
)
# _BIT_TABLES[j] maps a byte to 1 when its bit j is set, so bytes.translate + count
# tally one bit position over all hashes in C.
_BIT_TABLES = [bytes((b >> j) & 1 for b in range(256)) for j in range(8)]


def _shingle_hashes(text: str) -> list[int]:
    """64-bit hashes of 3-token shingles (4 for CJK, where a token is one character)."""
    tokens = [m.group() for m in islice(_TOKEN.finditer(text, 0, MAX_TEXT), MAX_TOKENS)]
    if not tokens:
        return []
    th = [zlib.crc32(t.encode("utf-8", "surrogatepass")) for t in tokens]
    if len(th) < 4:
        th = th + [0] * (4 - len(th))
    mixed = {
        ((a * _K1 + b * _K2 + c * _K3 + d) * _K4 >> 32) & _M64
        for a, b, c, d in zip(th, th[1:], th[2:], th[3:], strict=False)
    }
    return list(mixed)


def simhash(text: str) -> int:
    """64-bit simhash over token shingles of the text; 0 for empty text."""
    hashes = _shingle_hashes(text)
    if not hashes:
        return 0
    data = struct.pack(f"<{len(hashes)}Q", *hashes)
    half = len(hashes) / 2
    result = 0
    for byte in range(8):
        column = data[byte::8]
        for j in range(8):
            if column.translate(_BIT_TABLES[j]).count(1) > half:
                result |= 1 << (byte * 8 + j)
    return result


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def build_summary(
    *,
    title: str,
    description: str,
    norm_text: str,
    spam_hits: int,
    spam_terms: tuple[str, ...],
    outbound: frozenset[str],
    hidden_domains: frozenset[str],
    redirect_to: str | None,
) -> ViewSummary:
    return ViewSummary(
        title=title,
        description=description,
        simhash=simhash(norm_text),
        text_length=len(norm_text.strip()),
        spam_hits=spam_hits,
        spam_terms=spam_terms,
        outbound_domains=outbound,
        hidden_link_domains=hidden_domains,
        redirect_to=redirect_to,
    )


__all__ = ["Finding", "build_summary", "hamming", "simhash"]
