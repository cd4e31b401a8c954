"""Bounded Content-Encoding decoding, one implementation for the crawl and ``scan``.

A hostile server can send a compression bomb (10 MB of zeros is 10 KB of gzip) or
hundreds of thousands of empty gzip members: output is produced a chunk at a time and
decoding stops at the first chunk past the caller's limit, so a bomb costs at most
``limit + CHUNK`` bytes; a stream cut short (a body truncated at its size bound)
keeps what it decoded.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable, Iterator
from io import BytesIO
from types import ModuleType

brotli: ModuleType | None
try:  # Scrapy's own dependencies: one of them is installed with it
    import brotli
except ImportError:  # pragma: no cover
    try:
        import brotlicffi as brotli
    except ImportError:
        brotli = None

zstd: ModuleType | None
try:
    if sys.version_info >= (3, 14):  # pragma: no cover
        from compression import zstd
    else:
        from backports import zstd
except ImportError:  # pragma: no cover
    zstd = None

CHUNK = 64 * 1024  # decompressed at a time
# gzip members decoded per body: real servers send one; a body of 250,000 empty members
# would cost quadratic copying of what follows each one
MAX_GZIP_MEMBERS = 64


def _inflate(body: bytes, wbits: int) -> Iterator[bytes]:
    """zlib/gzip output in chunks of at most CHUNK; gzip members one after another.

    A stream that stops early (a cut body) ends the output; a broken one ends it once
    something was decoded (Scrapy's gunzip keeps such pages too) and raises otherwise.
    """
    stream = zlib.decompressobj(wbits)
    data, produced, members = body, False, 1
    while data:
        try:
            chunk = stream.decompress(data, CHUNK)
        except zlib.error:
            if produced:
                return
            raise
        if chunk:
            produced = True
            yield chunk
        if stream.eof:  # a gzip body may hold several members; deflate holds one
            data = stream.unused_data if wbits > zlib.MAX_WBITS else b""
            if data and members >= MAX_GZIP_MEMBERS:  # each copies the rest: quadratic
                if produced:
                    return
                raise zlib.error(f"more than {MAX_GZIP_MEMBERS} gzip members")
            members += 1
            stream = zlib.decompressobj(wbits)
            continue
        left = stream.unconsumed_tail
        if not chunk and len(left) == len(data):
            return  # no progress: the input ends mid-stream
        data = left
    # all input taken, output may still be pending in the window
    while chunk := stream.decompress(b"", CHUNK):
        yield chunk


def _deflate(body: bytes) -> Iterator[bytes]:
    """zlib-wrapped deflate, or raw deflate as some (Microsoft) servers send it (told
    apart on the first chunk, as Scrapy does)."""
    try:
        zlib.decompressobj().decompress(body, CHUNK)
    except zlib.error:
        return _inflate(body, -zlib.MAX_WBITS)
    return _inflate(body, zlib.MAX_WBITS)


def _unbrotli(body: bytes) -> Iterator[bytes]:
    assert brotli is not None
    stream = brotli.Decompressor()
    chunk = stream.process(body, output_buffer_limit=CHUNK)
    while chunk:
        yield chunk
        if stream.is_finished():
            return
        chunk = stream.process(b"", output_buffer_limit=CHUNK)


def _unzstd(body: bytes) -> Iterator[bytes]:
    assert zstd is not None
    reader = zstd.ZstdFile(BytesIO(body))
    while True:
        try:
            chunk = reader.read(CHUNK)
        except EOFError:  # a cut stream: what was decoded stays
            return
        if not chunk:
            return
        yield chunk


def _gunzip(body: bytes) -> Iterator[bytes]:
    return _inflate(body, 16 + zlib.MAX_WBITS)


DECODERS: dict[str, Callable[[bytes], Iterator[bytes]]] = {
    "gzip": _gunzip,
    "x-gzip": _gunzip,
    "deflate": _deflate,
    **({"br": _unbrotli} if brotli is not None else {}),
    **({"zstd": _unzstd} if zstd is not None else {}),
}
# what a client of ours may ask for: every coding it can decode
ACCEPT_ENCODING = ", ".join(coding for coding in DECODERS if coding != "x-gzip")


def decode_bounded(body: bytes, coding: str | bytes, limit: int) -> tuple[bytes, bool]:
    """(``body`` decoded from one ``coding``, cut at ``limit`` bytes; whether it was cut).

    ``limit`` 0 means no limit. Raises KeyError for a coding not in DECODERS, and the
    codec's error for a stream that yields nothing.
    """
    name = coding.decode("latin-1") if isinstance(coding, bytes) else coding
    out = bytearray()
    for chunk in DECODERS[name.strip().lower()](body):
        out += chunk
        if limit and len(out) > limit:
            del out[limit:]
            return bytes(out), True
    return bytes(out), False


def decode_content(body: bytes, content_encoding: str | None, limit: int) -> tuple[bytes, bool]:
    """(``body`` with every coding of a Content-Encoding header undone, whether a step
    was cut at ``limit``); ValueError for a coding that is unknown or undecodable."""
    cut = False
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    for coding in reversed([c for c in codings if c and c != "identity"]):
        if coding not in DECODERS:
            raise ValueError(f"unsupported Content-Encoding {coding[:50]!r}")
        try:
            body, step_cut = decode_bounded(body, coding, limit)
        except Exception as exc:  # zlib.error, brotli.error, zstd's: a zoo of types
            raise ValueError(f"cannot decode Content-Encoding {coding}: {exc}") from exc
        cut = cut or step_cut
    return body, cut
