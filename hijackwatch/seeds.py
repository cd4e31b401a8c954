"""Reading the user's seeds file: one site per line, forgiving but never silent."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class SeedsFileError(Exception):
    """The seeds file as a whole cannot be used (missing, unreadable, empty)."""


@dataclass(frozen=True, slots=True)
class Seed:
    """One site to watch: where to start and which hosts belong to it."""

    url: str  # homepage URL the crawl starts from
    key: str  # site key: host without "www.", plus ":port" when not the default
    host: str  # host as written (lower case, IDNA)
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
            host = host.encode("idna").decode("ascii")
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


def parse_seed(text: str, line: int = 0) -> Seed:
    """Turn one seeds-file entry into a Seed; raise ValueError with the reason."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty entry")
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
        host = host.encode("idna").decode("ascii").lower() if host else ""
    except UnicodeError:
        raise ValueError("host name is not a valid domain") from None
    if not _valid_host(host):
        raise ValueError("not a domain name or IP address")
    netloc = f"{host}:{port}" if port else host
    if ":" in host:  # IPv6 literal
        netloc = f"[{host}]:{port}" if port else f"[{host}]"
    path = parts.path or "/"
    start = f"{parts.scheme}://{netloc}{path}"
    if parts.query:
        start += f"?{parts.query}"
    key = site_key(start)
    assert key is not None
    return Seed(url=start, key=key, host=host, line=line)


def parse_seeds(lines: list[str] | str) -> tuple[list[Seed], list[SeedProblem]]:
    """Parse seed lines; malformed ones are reported by line number, not fatal."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    seeds: list[Seed] = []
    problems: list[SeedProblem] = []
    seen: set[str] = set()
    for number, text in enumerate(lines, start=1):
        entry = text.split("#", 1)[0].strip() if not text.lstrip().startswith("#") else ""
        if not entry:
            continue
        try:
            seed = parse_seed(entry, number)
        except ValueError as exc:
            problems.append(SeedProblem(number, entry, str(exc)))
            continue
        if seed.key in seen:
            problems.append(SeedProblem(number, entry, "duplicate of an earlier entry"))
            continue
        seen.add(seed.key)
        seeds.append(seed)
    return seeds, problems


def read_seeds_file(path: str | Path) -> tuple[list[Seed], list[SeedProblem]]:
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
    text = data.decode("utf-8-sig", errors="replace")
    seeds, problems = parse_seeds(text)
    if not seeds:
        detail = f" ({len(problems)} malformed lines)" if problems else ""
        raise SeedsFileError(f"no usable entries in seeds file {p}{detail}")
    return seeds, problems
