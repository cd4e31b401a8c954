"""Bytes a browser shows as a page stay pages (NUL padding, BOM-less UTF-16/32), and
binaries stay binaries: the decoding step of analyse(), the real CLI and real Chromium."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from hijackwatch.cli import main
from hijackwatch.detect import analyse
from tests.conftest import SEED_PAGE, http_server

SEED = SEED_PAGE.read_bytes()
SEED_TEXT = SEED.decode("utf-8")
SEED_TITLE = analyse(SEED).title
ASCII_SPAM = (
    "<html><head><meta charset='utf-8'><title>best online casino free spins no deposit bonus"
    " - online casino real money</title></head><body><p>The Department of Physics offers "
    "undergraduate programmes. Seminars are held every Thursday.</p>"
    '<div style="display:none">'
    + " ".join(
        f'<a href="http://c{i}.example/">best online casino free spins {i}</a>' for i in range(25)
    )
    + "</div></body></html>"
)


def nul_sprinkled(body: bytes, seed: int = 0) -> bytes:
    """``body`` with one to three NULs before every tag and inside runs of ASCII text
    (never inside a tag, where a browser reads them as U+FFFD: ``</titl\\0e>`` ends no
    title; nor inside a UTF-8 sequence)."""
    rng = random.Random(seed)
    out = bytearray()
    in_tag = False
    for byte in body:
        if byte == 0x3C or (not in_tag and byte < 0x80 and rng.random() < 0.3):
            out += b"\x00" * rng.randint(1, 3)
        in_tag = (in_tag or byte == 0x3C) and byte != 0x3E
        out.append(byte)
    return bytes(out)


def assert_hijacked_seed(body: bytes, encoding: str | None = None) -> None:
    analysis = analyse(body, "https://news.example.cn/news/1.html", encoding=encoding)
    assert analysis.error is None
    assert analysis.verdict == "hijacked"
    # NULs in the title show as U+FFFD, as in a browser's tab (RCDATA)
    assert analysis.title is not None
    assert "".join(analysis.title.replace("\ufffd", "").split()) == "".join(SEED_TITLE.split())
    assert {"title_injection", "template_debris"} <= {f.kind for f in analysis.findings}


# ------------------------------------------------------------------ NULs in a page


@pytest.mark.parametrize("pad", [300, 301, 10_000])
def test_nul_padding_in_front_of_a_hijacked_page_hides_nothing(pad: int) -> None:
    assert_hijacked_seed(b"\x00" * pad + SEED)


def test_nuls_sprinkled_through_a_hijacked_page_hide_nothing() -> None:
    body = nul_sprinkled(SEED)
    assert body[:4096].count(0) > 4096 // 20  # what the old check called binary data
    analysis = analyse(body, "https://news.example.cn/news/1.html")
    assert analysis.error is None and analysis.verdict == "hijacked"
    assert "template_debris" in {f.kind for f in analysis.findings}


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x1f", "\x0b"])
def test_nuls_inside_spam_words_hide_none_of_them(control: str) -> None:
    """A browser shows no NUL or control character in text ("casi\\0no" reads casino),
    and neither does the lexicon: such a character split every spam word of a page."""
    spam = ASCII_SPAM.replace("<html>", "<html><p>x</p>", 1)  # a control byte, not padding
    for word in ("casino", "spins", "deposit", "bonus", "money"):
        spam = spam.replace(word, word[:2] + control + word[2:])
    analysis = analyse(spam.encode())
    assert analysis.error is None and analysis.verdict == "hijacked"
    evidence = " ".join(f.evidence for f in analysis.findings)
    assert "casino" in evidence, evidence


@pytest.mark.parametrize(
    "trick",
    [b"<!-- <\x00!\x00-\x00-\x00 -->", b"<!\x00-- >", b"<scr\x00ipt>", b"<!-\x00- >"],
)
def test_a_few_nuls_placed_by_an_attacker_hide_nothing(trick: bytes) -> None:
    """A reviewer hid every hijacked page of the corpus with these: four NULs at odd
    offsets made it read as UTF-16 (even declared UTF-8), one NUL deleted from
    ``<!\0-- >`` opened a comment no browser sees. Browsers read neither way."""
    body = SEED.replace(b"<body", trick + b"<body", 1)
    assert_hijacked_seed(body)
    assert analyse(body, encoding="utf-8").verdict == "hijacked"


def test_chromium_renders_the_nul_padded_page_as_analyse_reads_it(
    chromium: str, tmp_path: Path
) -> None:
    page = tmp_path / "padded.html"
    page.write_bytes(b"\x00" * 300 + ASCII_SPAM.encode())
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    analysis = analyse(page.read_bytes())
    assert analysis.verdict == "hijacked"
    assert f"<title>{analysis.title}</title>" in dom


# ------------------------------------------------------------------ UTF-16/32 without a BOM


@pytest.mark.parametrize(
    ("codec", "declared"),
    [
        ("utf-16-le", "utf-16le"),
        ("utf-16-be", "utf-16be"),
        ("utf-16-le", "utf-16"),  # a bare label means little-endian, as in browsers
        ("utf-16-be", "UTF-16"),  # not what browsers read: found by the last guess
        ("utf-16-le", "utf-8"),  # a wrong label: the NULs of the markup tell
        ("utf-16-be", None),
        ("utf-32-be", None),
    ],
)
def test_bomless_wide_hijacked_page_is_hijacked(codec: str, declared: str | None) -> None:
    body = SEED_TEXT.encode(codec)
    assert not body.startswith((b"\xff\xfe", b"\xfe\xff"))
    assert_hijacked_seed(body, declared)
    assert analyse(body, encoding=declared).encoding == codec


@pytest.mark.parametrize(
    ("label", "opening"),
    [("utf-32", "<!--".encode("utf-32-le")), ("utf-16", "\ufeff".encode("utf-16-be")[2:])],
)
def test_a_wide_label_does_not_hide_a_utf8_page(label: str, opening: bytes) -> None:
    """A reviewer hid every UTF-8 hijacked page behind `charset=utf-32` and a UTF-32
    "<!--" in front (browsers know no UTF-32 label and read the page by its meta)."""
    body = opening + SEED
    assert analyse(body, "https://news.example.cn/news/1.html", encoding=label).verdict == (
        "hijacked"
    )


def test_utf16_markup_in_front_of_ascii_is_read_as_a_browser_shows_it() -> None:
    # Undeclared, a browser drops the NULs of the UTF-16 opening and shows the ASCII
    # spam after it; reading it all as UTF-16 would turn that spam into CJK noise.
    opening = "<html><head><title>Department news</title></head><body>".encode("utf-16-le")
    body = opening + ASCII_SPAM.split("<body>", 1)[1].encode() * 3
    analysis = analyse(body)
    assert analysis.encoding != "utf-16-le"
    assert analysis.verdict == "hijacked"


# ------------------------------------------------------------------ binaries stay binaries

RANDOM = random.Random(7).randbytes(6000)


@pytest.mark.parametrize(
    ("body", "declared", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + RANDOM + b"<html><head><title>x</title></head>", None, "PNG"),
        (b"\x89PNG\r\n\x1a\n" + RANDOM, "utf-16le", "PNG"),
        (b"%PDF-1.7\n" + bytes(200) + b"<html><body>", None, "PDF"),
        (gzip.compress(SEED), None, "gzip"),
        (gzip.compress(SEED), "utf-16", "gzip"),
        (RANDOM, None, "binary data"),
        (RANDOM, "utf-16le", "binary data"),
        (RANDOM + b"<html><head><title>x</title></head>", None, "binary data"),
        # NUL-rich binary with markup after its first kilobyte
        (bytes(2000) + RANDOM[:1500] + b"<html><head><title>x</title></head>", None, "binary"),
        (bytes(5000), None, "binary data"),
        (b"\x00" * 100 + b"   ", None, "binary data"),
    ],
)
def test_binaries_still_give_the_binary_error(body: bytes, declared: str | None, what: str) -> None:
    analysis = analyse(body, encoding=declared)
    assert analysis.verdict == "clean"
    assert analysis.error and analysis.error.startswith("not an HTML page")
    assert what in analysis.error


# ------------------------------------------------------------------ through a real server


class _Handler(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, tuple[str, bytes]]] = {}

    def do_GET(self) -> None:
        content_type, body = self.pages.get(self.path, ("text/plain", b"not found"))
        self.send_response(200 if self.path in self.pages else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    _Handler.pages = {
        "/u16le.html": ("text/html; charset=utf-16le", SEED_TEXT.encode("utf-16-le")),
        "/u16be.html": ("text/html; charset=utf-16be", SEED_TEXT.encode("utf-16-be")),
        "/padded.html": ("text/html; charset=utf-8", b"\x00" * 300 + SEED),
    }
    with http_server(_Handler) as url:
        yield url


@pytest.mark.parametrize("path", ["/u16le.html", "/u16be.html", "/padded.html"])
def test_scan_url_finds_the_hijack(
    server: str, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    code = main(["scan", "--json", "--profile", "browser", server + path])
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0  # analysed, not an error
    assert record["verdict"] == "hijacked", record
    assert {view["verdict"] for view in record["profiles"]} == {"hijacked"}


def test_a_bare_utf16_label_is_read_little_endian_whatever_the_nuls_say() -> None:
    """A reviewer steered the byte order with NULs (1500 x U+4E00 put them at even
    offsets) and a real UTF-16LE hijacked page read as big-endian noise: clean."""
    page = SEED_TEXT
    body = b"\0<\0!\0-\0-" + ("<!--" + "\u4e00" * 1500 + "-->" + page).encode("utf-16-le")
    analysis = analyse(body, "https://news.example.cn/news/1.html", encoding="utf-16")
    assert analysis.encoding == "utf-16-le" and analysis.verdict == "hijacked"
