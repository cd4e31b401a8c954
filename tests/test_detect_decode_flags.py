"""decode_bytes() tells analyse() what it used to find out for itself.

analyse() scanned the body for XML-incompatible bytes (xml_safe_bytes) and the text
for U+FFFD after decoding; decode_bytes() hands over both, and its scan replaces the
check for binary control bytes. The references below are the code analyse() ran.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hijackwatch.detect.decode import (
    _XML_BAD_BYTES,
    UndecodableError,
    decode_body,
    decode_bytes,
    xml_safe_bytes,
)


def reference_flags(body: bytes, text: str, used: str) -> tuple[bool, bool]:
    """(xml_safe, whether parse() was handed the body as the text's UTF-8) as analyse()
    computed them."""
    safe = not used.startswith(("utf-16", "utf-32")) and not any(
        byte in body for byte in _XML_BAD_BYTES
    )
    return safe, used == "utf-8" and "\ufffd" not in text


_PIECES = st.sampled_from(
    [
        b"<html>", b"<head>", b"<title>t</title>", b"<body>", b"<p>x</p>", b"</html>",
        b'<meta charset="utf-8">', b'<meta charset="big5">', b'<meta charset="gbk">',
        b'<meta charset="shift_jis">', b'<meta charset="utf-16">', b"<meta charset=latin1>",
        b"\x00", b"\x01", b"\x0b", b"\x0c", b"\x1f", b"\t", b"\n", b"\r", b" ",
        b"\xef\xbf\xbd", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x89PNG", b"%PDF",
        "中文".encode(), "中文".encode("big5"), "日本語".encode("cp932"), "é".encode(),
        b"\xe9", b"\xe4\xb8", b"<\x00h\x00t\x00m\x00l\x00>\x00", b"abc" * 20,
    ]
)  # fmt: skip
_BODIES = st.one_of(
    st.lists(_PIECES, max_size=30).map(b"".join),
    st.binary(max_size=200),
)
_LABELS = st.sampled_from([None, "utf-8", "big5", "gbk", "utf-16", "utf-16-be", "latin1", "x"])


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_BODIES, _LABELS)
def test_flags_are_what_analyse_computed(body: bytes, label: str | None) -> None:
    try:
        expected = decode_body(body, label)
    except UndecodableError as exc:
        try:
            decode_bytes(body, label, scan=True)
        except UndecodableError as again:
            assert str(again) == str(exc)
            return
        raise AssertionError("decode_bytes(scan=True) accepted an undecodable body") from None
    decoded = decode_bytes(body, label, scan=True)
    assert (decoded.text, decoded.codec) == expected
    safe, exact = reference_flags(body, decoded.text, decoded.codec)
    if exact:
        assert decoded.exact
    if decoded.exact:
        # Also for a page's own U+FFFD read strictly (analyse() then encoded the text
        # again): what parse() is handed must be the text's UTF-8.
        assert decoded.codec == "utf-8"
        assert decoded.text.encode("utf-8") == body
    if decoded.clean is None:  # not scanned: analyse() asks xml_safe_bytes()
        assert xml_safe_bytes(body, decoded.codec) == safe
    else:
        assert (decoded.clean and not decoded.codec.startswith(("utf-16", "utf-32"))) == safe
