"""registrable_domain() walks tldextract's suffix trie itself for plain hosts, and
link_domain() and url_domain() skip urllib for common URL shapes: all must give exactly
what the plain tldextract and urllib route gives."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import html

from hijackwatch.detect.text import (
    _EXTRACT,
    absolute_url,
    clear_cache,
    link_domain,
    registrable_domain,
    url_domain,
    url_host,
)

CORPUS = Path(__file__).parent / "corpus"


def reference_registrable_domain(host: str) -> str:
    """registrable_domain() by a tldextract call for every host, as it was first written."""
    host = host.strip().lower().rstrip(".")
    if not host:
        return ""
    if host.startswith("[") or host.replace(".", "").isdigit():
        return host.strip("[]")
    ext = _EXTRACT(host)
    if ext.suffix and ext.domain:
        return f"{ext.domain}.{ext.suffix}"
    return host


_RULE_LABELS = sorted({label for rule in _EXTRACT.tlds for label in rule.split(".")})
# Labels next to the wildcard and exception rules, and ones that tldextract's own URL
# parsing or punycode decoding acts on (these must leave the trie walk).
_EDGE_LABELS = [
    "", "www", "city", "kawasaki", "kobe", "ck", "jp", "uk", "sch", "co", "com", "br",
    "nom", "example", "a", "A", "WWW", "CK", "xn--p1ai", "XN--P1AI", "xn--zz", "xn--",
    "рф", "РФ", "例子", "ß", "İ", "K", "1", "255", "256", "0x7f", "a_b", "-a-", "a b",
    " ", "*", "!www", "[::1]", "[", "]", "a:80", "u@h", "a/b", "a?b", "a#b", "//", "\\",
    "\u3002", "\uff0e", "\uff61", "\u200b", "x" * 70,
]  # fmt: skip
_labels = st.one_of(
    st.sampled_from(_RULE_LABELS),
    st.sampled_from(_EDGE_LABELS),
    st.text(alphabet="abcxyz019-_.", max_size=6),
    st.text(max_size=4),
)
_hosts = st.builds(
    lambda labels, dot, pad: pad + ".".join(labels) + dot + pad,
    st.lists(_labels, max_size=7),
    st.sampled_from(["", ".", "..", "\u3002"]),
    st.sampled_from(["", " ", "\t"]),
)


@settings(max_examples=2000, deadline=None)
@given(_hosts)
@example("foo.www.ck")
@example("a.b.kawasaki.jp")
@example("b.kawasaki.jp")
@example("city.kawasaki.jp")
@example("x.city.kawasaki.jp")
@example("a..com")
@example("..co.uk")
@example(".example.com")
@example("1.2.3.4")
@example("1.2.3.4.com")
@example("example.xn--p1ai")
@example("sub.EXAMPLE.co.uk.")
def test_registrable_domain_like_tldextract(host: str) -> None:
    registrable_domain.cache_clear()
    assert registrable_domain(host) == reference_registrable_domain(host)


def test_every_rule_and_its_neighbours_like_tldextract() -> None:
    for rule in _EXTRACT.tlds:
        bare = rule.lstrip("*!.")
        for host in (bare, f"d.{bare}", f"s.d.{bare}", f"www.{bare}", f"city.{bare}"):
            assert registrable_domain(host) == reference_registrable_domain(host), host


def _corpus_links() -> list[tuple[str, str]]:
    links = []
    for path in sorted(CORPUS.rglob("*.html")):
        root = html.fromstring(path.read_bytes())
        base = f"https://{path.stem}.example/{path.parent.name}/"
        links.extend((base, href) for href in root.xpath("//@href | //@src"))
    return links


def test_corpus_link_hosts_like_tldextract() -> None:
    links = _corpus_links()
    assert len(links) > 1000
    hosts = {url_host(href) for _base, href in links} | {
        m.group(1) for _base, href in links if (m := re.search(r"//([^/?#]+)", href))
    }
    assert len(hosts) > 100
    for host in hosts:
        assert registrable_domain(host) == reference_registrable_domain(host), host


def reference_link_domain(base: str, href: str) -> str:
    """link_domain() without its shortcuts: urljoin() and urlsplit() for every link."""
    href = href.strip()
    if not href or href.startswith("#"):
        return ""
    low = href[:12].lower()
    if low.startswith(("mailto:", "javascript:", "tel:", "data:", "sms:")):
        return ""
    if not low.startswith(("http://", "https://", "//")):
        return reference_registrable_domain(url_host(base)) if base and ":" not in href[:12] else ""
    if not base:  # a scheme-relative link keeps http
        return reference_registrable_domain(url_host("http:" + href if low[:2] == "//" else href))
    return reference_registrable_domain(url_host(absolute_url(base, href)))


_URL_PIECES = st.sampled_from(
    ["http://", "https://", "HTTP://", "//", "/", "?", "#", "@", ":", ":80", ":99999", "a",
     "Z", "-", ".", "_", "9", "K", "ſ", "İ", "é", "%41", " ", "\t", "\n", "[::1]", "[",
     "xn--p1ai", "example.com", "EXAMPLE.CO.UK", "www.ck", "a.b.kawasaki.jp", "1.2.3.4",
     "mailto:", "javascript:", "ftp:", "data:"]
)  # fmt: skip
_urls = st.lists(st.one_of(_URL_PIECES, st.text(max_size=3)), max_size=10).map("".join)
_BASES = ["", "https://news.example.co.uk/a/b", "http://www.ck/", "//x.example.org/p", "ftp://h/"]


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(_BASES), _urls)
@example("https://a.example/", "http://Host.EXAMPLE.com:8080/x")
@example("", "//user@host.example.co.uk/")
@example("https://a.example/", "http://host.example\n")
def test_link_and_url_domains_like_the_plain_route(base: str, href: str) -> None:
    clear_cache()
    assert link_domain(base, href) == reference_link_domain(base, href)
    assert url_domain(href) == reference_registrable_domain(url_host(href))
