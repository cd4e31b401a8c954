"""ViewSummary: the compact fingerprint of one view of a page, for cloaking comparison."""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

from hijackwatch.detect.text import CJK_THAI_CHARS, has_cjk_thai

# Single characters of the scripts written without spaces, or words.
_TOKEN = re.compile(f"[{CJK_THAI_CHARS}]|[^\\W_]+")
MAX_TEXT = 8_000  # characters of main text fingerprinted (enough to tell views apart)
MAX_TOKENS = 600  # shingles fingerprinted; plenty to tell two views of a page apart
# _BIT_MASKS[j] has bit j of every byte set: ``(column & mask).bit_count()`` counts
# bit j over a whole byte column of the packed hashes in one C operation.
_BIT_MASKS = [int.from_bytes(bytes([1 << j]) * MAX_TOKENS, "little") for j in range(8)]


def _tokens(text: str) -> list[str]:
    """Whitespace-separated words; single characters for CJK/Thai/Hangul, which are
    written without spaces (a regex pass there, over only as much text as needed)."""
    head = text[:MAX_TEXT]
    if not has_cjk_thai(head):
        # At most MAX_TOKENS + 1 pieces, the last one the unsplit rest (if any).
        return head.split(None, MAX_TOKENS)[:MAX_TOKENS]
    end = 2 * MAX_TOKENS
    while True:
        tokens = _TOKEN.findall(head, 0, end)
        # One token more than needed: then none of the kept ones was cut at ``end``.
        if len(tokens) > MAX_TOKENS or end >= len(head):
            return tokens[:MAX_TOKENS]
        end *= 2


def _shingle_hashes(text: str) -> set[int]:
    """Signed 64-bit hashes of 4-token shingles.

    All in C: one crc32 per token via ``map``, then the tuple hash of four ints per
    shingle (int and tuple hashes are not salted per process, unlike str hashes,
    so fingerprints stay comparable across runs).
    """
    tokens = _tokens(text)
    if not tokens:
        return set()
    try:
        # Encoding each token is cheaper than joining, encoding and splitting.
        th = list(map(zlib.crc32, map(str.encode, tokens)))
    except UnicodeEncodeError:  # lone surrogates: the same bytes, kept by surrogatepass
        # Joined by a space, which no token holds (a NUL may be inside one).
        joined = " ".join(tokens).encode("utf-8", "surrogatepass")
        th = list(map(zlib.crc32, joined.split(b" ")))
    if len(th) < 4:
        th += [0] * (4 - len(th))
    return set(map(hash, zip(th, th[1:], th[2:], th[3:], strict=False)))


def simhash(text: str) -> int:
    """64-bit simhash over token shingles of the text; 0 for empty text."""
    hashes = _shingle_hashes(text)
    if not hashes:
        return 0
    data = struct.pack(f"<{len(hashes)}q", *hashes)
    half = len(hashes) / 2
    result = 0
    bit = 1  # bit j of byte b of the hashes is bit 8 * b + j of the result
    for byte in range(8):
        column = int.from_bytes(data[byte::8], "little")
        for mask in _BIT_MASKS:
            if (column & mask).bit_count() > half:
                result |= bit
            bit <<= 1
    return result


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@dataclass(slots=True)
class ViewSummary:
    """What matters of one view of a page when comparing views (cloaking checks).

    The simhash is computed on first use: only views that differ from the browser's
    are compared by text, and most views never are (a page served alike to every
    visitor shares one analysis; ``scan FILE`` and crawls without visitor profiles
    compare nothing). It costs about as much as lxml's parse of the page.
    """

    title: str = ""
    description: str = ""
    text_length: int = 0
    spam_hits: int = 0  # spam-lexicon hits in visible text, title and meta
    spam_terms: tuple[str, ...] = ()
    outbound_domains: frozenset[str] = frozenset()
    hidden_link_domains: frozenset[str] = frozenset()
    redirect_to: str | None = None  # meta refresh / script navigation target, if any
    main_text: str = ""  # the normalised visible text, as much as simhash() reads
    _simhash: int | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def simhash(self) -> int:
        """64-bit simhash of the main text's shingles (0: no text)."""
        if self._simhash is None:
            self._simhash = simhash(self.main_text)
        return self._simhash

    def seal(self, *, fingerprint: bool) -> None:
        """Drop the kept text before the summary is held or sent elsewhere (a crawl keeps
        thousands); with ``fingerprint`` the simhash is computed first, for views that
        may be compared."""
        if fingerprint:
            self.simhash  # noqa: B018 (computed and kept)
        self.main_text = ""


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
        main_text=norm_text[:MAX_TEXT],
        text_length=len(norm_text.strip()),
        spam_hits=spam_hits,
        spam_terms=spam_terms,
        outbound_domains=outbound,
        hidden_link_domains=hidden_domains,
        redirect_to=redirect_to,
    )


__all__ = ["ViewSummary", "build_summary", "hamming", "simhash"]
