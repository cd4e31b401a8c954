from __future__ import annotations

from pathlib import Path

import pytest

from hijackwatch.seeds import SeedsFileError, parse_seeds, read_seeds_file, same_site, site_key

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
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00garbage\x00\nexample.org\n")
    seeds, problems = read_seeds_file(binary)
    assert [s.key for s in seeds] == ["example.org"] and len(problems) == 1


def test_unicode_links_match_their_punycode_site() -> None:
    """Pages link to an IDN site by its Unicode name; the seed is stored as punycode."""
    seed = parse_seeds("北京大学.cn\n")[0][0]
    assert site_key("https://www.北京大学.cn/news/") == seed.host
    assert same_site(seed.host, site_key("http://lib.北京大学.cn/") or "")
    assert site_key("http://\u0080bad..\u3002/") is None  # not encodable: not a site
