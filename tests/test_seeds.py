from __future__ import annotations

from pathlib import Path

import pytest

from hijackwatch.detect.cloaking import absolute_script_urls
from hijackwatch.detect.text import ascii_url
from hijackwatch.seeds import (
    URL_LENGTH_LIMIT,
    SeedsFileError,
    parse_seeds,
    read_seeds_file,
    same_site,
    site_key,
    sites_of,
)

SEEDS = """\
# campus and government sites
example.edu.cn
https://www.Gov.example.cn/portal/index.html   # trailing comment
127.0.0.2:8001

bad host name
ftp://files.example.org/
-bad-.com
www.example.edu.cn
http://[::1]:8080/
"""


def test_parse_seeds_keeps_good_lines_and_reports_bad_ones_by_number() -> None:
    seeds, problems = parse_seeds(SEEDS)
    assert [s.url for s in seeds] == [
        "http://example.edu.cn/",
        "https://www.gov.example.cn/portal/index.html",
        "http://127.0.0.2:8001/",
        "http://[::1]:8080/",
    ]
    assert [s.key for s in seeds] == [
        "example.edu.cn",
        "gov.example.cn",
        "127.0.0.2:8001",
        "[::1]:8080",
    ]
    assert [(p.line, p.text) for p in problems] == [
        (6, "bad host name"),
        (7, "ftp://files.example.org/"),
        (8, "-bad-.com"),
        (9, "www.example.edu.cn"),
    ]
    assert "duplicate" in problems[-1].reason
    assert "scheme" in problems[1].reason


def test_same_site_covers_subdomains_and_ports_but_not_lookalikes() -> None:
    assert same_site("example.edu.cn", site_key("http://news.example.edu.cn/a") or "")
    assert same_site("example.edu.cn", site_key("https://www.example.edu.cn/") or "")
    assert not same_site("example.edu.cn", site_key("http://badexample.edu.cn/") or "")
    assert not same_site("example.edu.cn", site_key("http://example.edu.cn.evil.com/") or "")
    assert not same_site("127.0.0.2:8001", site_key("http://127.0.0.2:8002/") or "")
    assert not same_site("127.0.0.2:8001", site_key("http://1.127.0.0.2:8001/") or "")
    assert same_site("[::1]:8080", site_key("http://[::1]:8080/x") or "")


def test_idn_domain_is_encoded() -> None:
    seeds, problems = parse_seeds("北京大学.cn\n")
    assert not problems
    assert seeds[0].host == "xn--1lq90ic7fzpc.cn"


def test_read_seeds_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SeedsFileError, match="not found"):
        read_seeds_file(tmp_path / "missing.txt")
    with pytest.raises(SeedsFileError, match="directory"):
        read_seeds_file(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n\n")
    with pytest.raises(SeedsFileError, match="no usable entries"):
        read_seeds_file(empty)
    junk = tmp_path / "junk.txt"  # bytes that are not UTF-8 on one line: that line only
    junk.write_bytes(b"\x80\x81garbage\nexample.org\n")
    seeds, problems = read_seeds_file(junk)
    assert [s.key for s in seeds] == ["example.org"]
    assert [(p.line, "UTF-8" in p.reason) for p in problems] == [(1, True)]
    binary = tmp_path / "binary.txt"  # NUL bytes and no byte-order mark: not text
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\nexample.org\n")
    with pytest.raises(SeedsFileError, match="not a text file"):
        read_seeds_file(binary)
    odd = tmp_path / "odd.txt"  # a UTF-16 mark, then an odd number of bytes
    odd.write_bytes(b"\xff\xfeh\x00i")
    with pytest.raises(SeedsFileError, match="UTF-16"):
        read_seeds_file(odd)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_seeds_file_is_decoded_by_its_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    """Notepad saves "Unicode" as UTF-16 LE with a mark, and CRLF line ends."""
    text = "http://127.0.0.28:8008/\r\n例子.中国\r\nbad host\r\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path = tmp_path / "seeds.txt"
    path.write_bytes(data)
    seeds, problems = read_seeds_file(path)
    assert [s.url for s in seeds] == ["http://127.0.0.28:8008/", "http://xn--fsqu00a.xn--fiqs8s/"]
    assert [(p.line, p.text) for p in problems] == [(3, "bad host")]


def test_every_line_bad_lists_each_line_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_text("# header\nwww.example.gov/portal page\nhttps//example.edu.cn\n")
    with pytest.raises(SeedsFileError) as caught:
        read_seeds_file(path)
    problems = caught.value.problems
    assert [(p.line, p.text) for p in problems] == [
        (2, "www.example.gov/portal page"),
        (3, "https//example.edu.cn"),
    ]
    assert "without spaces" in problems[0].reason
    message = str(caught.value)
    assert "line 2: an entry is one domain" in message and "line 3:" in message


def test_seed_url_longer_than_the_url_length_limit_is_a_malformed_line() -> None:
    """Scrapy's UrlLengthMiddleware drops longer start URLs without a word."""
    base = "http://127.0.0.30:8010/?q="
    fits = base + "a" * (URL_LENGTH_LIMIT - len(base))
    too_long = fits.replace("127.0.0.30", "127.0.0.31") + "a"  # another site
    seeds, problems = parse_seeds(f"{fits}\n\n{too_long}\n")
    assert [s.url for s in seeds] == [fits]
    assert [p.line for p in problems] == [3]
    assert f"{URL_LENGTH_LIMIT + 1} characters" in problems[0].reason
    assert "URLLENGTH_LIMIT" in problems[0].reason
    assert len(problems[0].text) < 200  # quoted shortened, not 2000 characters of it
    # measured as the request carries it, percent-encoded: 页 is 9 characters
    path = "/" + "页" * (URL_LENGTH_LIMIT // 9)
    seeds, problems = parse_seeds(f"127.0.0.30:8010{path}\n")
    assert not seeds and "URLLENGTH_LIMIT" in problems[0].reason
    # the crawl's own limit: larger, or 0 (no limit, as in Scrapy)
    assert parse_seeds(too_long, max_length=5000)[0]
    assert parse_seeds(too_long, max_length=0)[0]


def test_unicode_links_match_their_punycode_site() -> None:
    """Pages link to an IDN site by its Unicode name; the seed is stored as punycode."""
    seed = parse_seeds("北京大学.cn\n")[0][0]
    assert site_key("https://www.北京大学.cn/news/") == seed.host
    assert same_site(seed.host, site_key("http://lib.北京大学.cn/") or "")
    assert site_key("http://\u0080bad..\u3002/") is None  # not encodable: not a site


@pytest.mark.parametrize(
    ("entry", "host"),
    [
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2003 made it fass.de: another registrant's domain
        ("https://straße.de/impressum", "xn--strae-oqa.de"),
        ("FAß.DE", "xn--fa-hia.de"),
        ("www.BÜCHER.de:8080", "www.xn--bcher-kva.de"),
        ("例子。中国", "xn--fsqu00a.xn--fiqs8s"),  # an ideographic full stop separates labels
    ],
)
def test_idn_seeds_are_encoded_as_browsers_and_registries_do(entry: str, host: str) -> None:
    """UTS #46 with IDNA 2008 (non-transitional), as browsers resolve and registries sell."""
    (seed,), problems = parse_seeds(entry)
    assert not problems
    assert seed.host == host
    assert seed.url.split("/")[2].rsplit(":", 1)[0] == host
    assert seed.key == host.removeprefix("www.") + (":8080" if ":8080" in entry else "")
    assert seed.url.isascii()


def test_an_idn_seed_and_its_punycode_are_one_site() -> None:
    seeds, problems = parse_seeds("faß.de\nxn--fa-hia.de\nfass.de\n")
    assert [s.key for s in seeds] == ["xn--fa-hia.de", "fass.de"]
    assert [(p.line, p.reason) for p in problems] == [(2, "duplicate of an earlier entry")]
    assert site_key("https://www.Faß.de/x") == "xn--fa-hia.de"
    assert not same_site("xn--fa-hia.de", site_key("http://fass.de/") or "")


def test_a_host_idna_2008_refuses_is_a_malformed_line_with_the_reason() -> None:
    """IDNA 2003 took symbols and emoji (☃.net was xn--n3h.net); browsers no longer do."""
    seeds, problems = parse_seeds("example.org\n☃.net\nhttp://i❤.ws/x\nab\u200dc.de\n")
    assert [s.key for s in seeds] == ["example.org"]
    assert [p.line for p in problems] == [2, 3, 4]
    for problem, codepoint in zip(problems, ("U+2603", "U+2764", "U+200D"), strict=True):
        assert problem.reason.startswith("host name is not a valid internationalised domain")
        assert codepoint in problem.reason
    assert site_key("http://☃.net/") is None  # a link to it is to no site


def test_urls_fetched_outside_scrapy_spell_their_host_with_idna_2008() -> None:
    """scan's urllib fetches and the crawl's script URLs: Python's codec (IDNA 2003)
    would send faß.de to fass.de, another registrant's domain."""
    assert ascii_url("http://faß.de/x?y#z") == "http://xn--fa-hia.de/x?y#z"
    assert ascii_url("https://u:p@Straße.de:8080/a") == "https://u:p@xn--strae-oqa.de:8080/a"
    assert ascii_url("http://example.org/ß") == "http://example.org/ß"  # only the host
    with pytest.raises(UnicodeError):
        ascii_url("http://☃.net/")
    srcs = ["http://faß.de/x.js", "http://☃.net/a.js", "/local.js"]
    assert absolute_script_urls(srcs, "http://site.example/") == [
        "http://xn--fa-hia.de/x.js",
        "http://site.example/local.js",
    ]


def test_more_urls_of_a_site_are_more_start_pages_and_the_same_page_a_duplicate() -> None:
    """The README: a URL starts the crawl at that page. A second start page used to be
    dropped as a duplicate of the site; the same page again still is one."""
    seeds, problems = parse_seeds(
        "example.edu.cn\nhttp://example.edu.cn/library/\nhttps://www.example.edu.cn/library/\n"
        "http://example.edu.cn/library/?lang=en\nother.example.org\n"
    )
    assert [(s.url, s.key) for s in seeds] == [
        ("http://example.edu.cn/", "example.edu.cn"),
        ("http://example.edu.cn/library/", "example.edu.cn"),
        ("http://example.edu.cn/library/?lang=en", "example.edu.cn"),
        ("http://other.example.org/", "other.example.org"),
    ]
    assert [(p.line, p.reason) for p in problems] == [(3, "duplicate of an earlier entry")]
    assert {key: [s.line for s in starts] for key, starts in sites_of(seeds).items()} == {
        "example.edu.cn": [1, 2, 4],
        "other.example.org": [5],
    }
