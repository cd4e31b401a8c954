"""Reading the user's seeds file: one site per line, forgiving but never silent."""

from __future__ import annotations

import codecs
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from w3lib.url import safe_url_string

from hijackwatch.detect.text import ascii_host

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

# Scrapy's URLLENGTH_LIMIT default: a longer start URL is dropped by UrlLengthMiddleware
# without a word, so the seeds file reports it instead
URL_LENGTH_LIMIT = 2083

# longest first: the UTF-32 LE mark begins with the UTF-16 LE one
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class SeedsFileError(Exception):
    """The seeds file as a whole cannot be used (missing, unreadable, not text, no entries).

    ``problems``: its malformed lines, when it has lines but none usable.
    """

    def __init__(self, message: str, problems: Sequence[SeedProblem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Seed:
    """One site to watch: where to start and which hosts belong to it."""

    url: str  # a start page of the site (a site listed with several URLs has several)
    key: str  # site key: host without "www.", plus ":port" when not the default
    host: str  # host as written (lower case, ASCII: see ascii_host)
    line: int = 0


@dataclass(frozen=True, slots=True)
class SeedProblem:
    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.text!r}"


def site_key(url: str) -> str | None:
    """Host (www-stripped) and non-default port of a URL, the unit we call a site."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    if not host.isascii():  # a link to https://例子.中国/ is the seed xn--fsqu00a.xn--fiqs8s
        try:
            host = ascii_host(host)
        except UnicodeError:
            return None
    if host.startswith("www."):
        host = host[4:]
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{host}:{port}" if port and port != default else host


def _split_key(key: str) -> tuple[str, str]:
    """(host, port) of a site key; IPv6 hosts keep their brackets."""
    if key.startswith("["):
        host, _, rest = key.partition("]")
        return host + "]", rest.lstrip(":")
    host, _, port = key.partition(":")
    return host, port


def same_site(key: str, other: str) -> bool:
    key_host, key_port = _split_key(key)
    host, port = _split_key(other)
    if port != key_port:
        return False
    return host == key_host or (not _is_ip(key_host) and host.endswith("." + key_host))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


LOOPBACK_ENV = "HIJACKWATCH_LOOPBACK_ONLY"


def loopback_only() -> bool:
    """Tests, benchmarks and the demo set this: no fetch may leave 127.0.0.0/8."""
    return os.environ.get(LOOPBACK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def is_loopback(url: str) -> bool:
    """True for URLs whose host is a loopback IP literal or ``localhost``."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return host == "localhost" or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)


def _valid_host(host: str) -> bool:
    if _is_ip(host):
        return True
    if host == "localhost":
        return True
    labels = host.split(".")
    return len(labels) >= 2 and all(_LABEL.match(label) for label in labels)


def parse_seed(text: str, line: int = 0, max_length: int = URL_LENGTH_LIMIT) -> Seed:
    """Turn one seeds-file entry into a Seed; raise ValueError with the reason.

    ``max_length``: the crawl's URLLENGTH_LIMIT (0: none); longer start URLs are refused.
    """
    raw = text.strip()
    if not raw:
        raise ValueError("empty entry")
    if "\ufffd" in raw:
        raise ValueError("bytes that are not UTF-8 text (save the seeds file as UTF-8)")
    if any(ch.isspace() for ch in raw):
        raise ValueError("an entry is one domain or URL, without spaces")
    url = raw if "://" in raw else f"http://{raw}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"unsupported scheme {parts.scheme!r} (use http or https)")
    host = (parts.hostname or "").rstrip(".")
    try:
        host = ascii_host(host)
    except UnicodeError as exc:
        raise ValueError(
            f"host name is not a valid internationalised domain name ({exc})"
        ) from None
    if not _valid_host(host):
        raise ValueError("not a domain name or IP address")
    netloc = f"{host}:{port}" if port else host
    if ":" in host:  # IPv6 literal
        netloc = f"[{host}]:{port}" if port else f"[{host}]"
    path = parts.path or "/"
    start = f"{parts.scheme}://{netloc}{path}"
    if parts.query:
        start += f"?{parts.query}"
    length = len(safe_url_string(start))  # as the request will carry it, percent-encoded
    if max_length > 0 and length > max_length:
        raise ValueError(
            f"URL of {length} characters, longer than URLLENGTH_LIMIT ({max_length}): "
            "the crawl would drop it"
        )
    key = site_key(start)
    assert key is not None
    return Seed(url=start, key=key, host=host, line=line)


def parse_seeds(
    lines: list[str] | str, max_length: int = URL_LENGTH_LIMIT
) -> tuple[list[Seed], list[SeedProblem]]:
    """Parse seed lines; malformed ones are reported by line number, not fatal.

    Several URLs of one site are each a start page of it (one Seed each, same key);
    only the same page listed again is reported as a duplicate.
    """
    if isinstance(lines, str):
        lines = lines.splitlines()
    seeds: list[Seed] = []
    problems: list[SeedProblem] = []
    seen: set[tuple[str, str]] = set()
    for number, text in enumerate(lines, start=1):
        entry = text.split("#", 1)[0].strip() if not text.lstrip().startswith("#") else ""
        if not entry:
            continue
        try:
            seed = parse_seed(entry, number, max_length)
        except ValueError as exc:
            problems.append(SeedProblem(number, _shown(entry), str(exc)))
            continue
        # another page of a listed site is one more start page of that site (same key,
        # same page budget); the same page again, whatever its scheme or www., is not
        page = (seed.key, start_page(seed.url))
        if page in seen:
            problems.append(SeedProblem(number, _shown(entry), "duplicate of an earlier entry"))
            continue
        seen.add(page)
        seeds.append(seed)
    return seeds, problems


def start_page(url: str) -> str:
    """Path and query of a start URL: what tells two start pages of one site apart."""
    parts = urlsplit(url)
    return f"{parts.path or '/'}?{parts.query}" if parts.query else parts.path or "/"


def sites_of(seeds: Sequence[Seed]) -> dict[str, list[Seed]]:
    """Seeds grouped by site key, in file order: a site listed with several start URLs
    is one site with several start pages."""
    sites: dict[str, list[Seed]] = {}
    for seed in seeds:
        sites.setdefault(seed.key, []).append(seed)
    return sites


def _shown(entry: str, limit: int = 120) -> str:
    """An entry as quoted in a message: a 5000-character URL is cut short."""
    return entry if len(entry) <= limit else f"{entry[:limit]}... ({len(entry)} characters)"


def decode_seeds(data: bytes, path: Path) -> str:
    """Text of a seeds file: by its byte-order mark (Notepad saves UTF-16), else UTF-8.

    Bytes that are not UTF-8 become U+FFFD, and their line is reported as malformed;
    NUL bytes without a mark mean the file is not text (or UTF-16 without a mark).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise SeedsFileError(
                    f"seeds file {path} starts with a {encoding.upper()} byte-order mark "
                    f"but is not {encoding.upper()} text ({exc.reason} at byte {exc.start})"
                ) from None
    if b"\x00" in data:
        raise SeedsFileError(
            f"seeds file {path} is not a text file (it contains NUL bytes); "
            "save it as plain text, UTF-8"
        )
    return data.decode("utf-8", errors="replace")


def read_seeds_file(
    path: str | Path, max_length: int = URL_LENGTH_LIMIT
) -> tuple[list[Seed], list[SeedProblem]]:
    """Read and parse a seeds file; SeedsFileError when it cannot be read at all."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise SeedsFileError(f"seeds file not found: {p}") from None
    except IsADirectoryError:
        raise SeedsFileError(f"seeds file is a directory: {p}") from None
    except OSError as exc:
        raise SeedsFileError(f"cannot read seeds file {p}: {exc.strerror}") from None
    seeds, problems = parse_seeds(decode_seeds(data, p), max_length)
    if not seeds:
        detail = ""
        if problems:
            listed = "; ".join(str(problem) for problem in problems[:5])
            more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
            detail = f" ({len(problems)} malformed lines: {listed}{more})"
        raise SeedsFileError(f"no usable entries in seeds file {p}{detail}", problems)
    return seeds, problems
