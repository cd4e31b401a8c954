"""Visitor profiles (who the crawler pretends to be) and a Scrapy-free multi-profile fetch.

Cloaked hijacks show spam only to search-engine crawlers, or redirect only visitors
who arrive from a search result, so one page is fetched as several visitors and the
views compared. ``browser`` is the baseline every other profile is compared with.

``HIJACKWATCH_PROFILES`` selects them: a comma-separated list of built-in names
(``"browser,googlebot,search-baidu"``), a list of names, or a JSON object / dict
``{"name": {"user_agent": "...", "referer": "https://…?q={query}"}}`` for custom
ones (``referer`` may use ``{host}`` and ``{query}``; a profile with a referer
reveals referer cloaking, one without reveals user-agent cloaking).
``scan_url_views(url)`` is what ``hijackwatch scan`` uses: urllib, bounded in size
and time (a deadline per fetch, however slowly the bytes arrive), no Scrapy.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote, urljoin, urlsplit

from hijackwatch.compression import ACCEPT_ENCODING, decode_content
from hijackwatch.detect import Analysis, Finding, analyse, score_findings
from hijackwatch.detect.cloaking import (
    REFERER_CLOAKING,
    UA_CLOAKING,
    absolute_script_urls,
    compare_fetches,
    external_script_findings,
)
from hijackwatch.detect.decode import codec_name
from hijackwatch.detect.text import ascii_url, url_domain
from hijackwatch.seeds import LOOPBACK_ENV, is_loopback, loopback_only
from hijackwatch.threads import parallel_map

BASELINE = "browser"

DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
MOBILE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_MOBILE_UA = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
BAIDUSPIDER_UA = (
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"
)
BAIDU_SEARCH = "https://www.baidu.com/s?wd={query}"
GOOGLE_SEARCH = "https://www.google.com/search?q={query}"

SCRIPT_MAX_BYTES = 512 * 1024
# as sent and after Content-Encoding, as the crawl's DOWNLOAD_MAXSIZE: a longer page is
# cut there and analysed (padding must not hide it), with the crawl's partial_body note
PAGE_MAX_BYTES = 10 * 1024 * 1024
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


FETCH_THREAD = "hijackwatch-fetch"


@dataclass(frozen=True, slots=True)
class Profile:
    """One kind of visitor: a User-Agent and, for search visitors, a search-result Referer."""

    name: str
    user_agent: str
    referer: str | None = None  # template: {host} and {query} (the host, URL-quoted)
    # What that visitor's software sends: kits that serve spam to Chinese search traffic
    # only can test it. None: no Accept-Language at all (Googlebot sends none).
    accept_language: str | None = "en-US,en;q=0.9"

    @property
    def is_baseline(self) -> bool:
        return self.name == BASELINE

    @property
    def kind(self) -> str:
        """Finding kind this profile's differences reveal."""
        return REFERER_CLOAKING if self.referer else UA_CLOAKING

    def referer_for(self, url: str) -> str | None:
        if not self.referer:
            return None
        host = urlsplit(url).hostname or ""
        return self.referer.replace("{host}", host).replace("{query}", quote(host, safe=""))

    def headers_for(self, url: str) -> dict[str, str | None]:
        """Request headers; a None value means the header is not sent (the crawl's
        default headers would otherwise add Scrapy's ``Accept-Language: en``)."""
        headers: dict[str, str | None] = {
            "User-Agent": self.user_agent,
            "Accept-Language": self.accept_language,
        }
        referer = self.referer_for(url)
        if referer:
            headers["Referer"] = referer
        return headers


BUILTIN_PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(BASELINE, DESKTOP_UA),
        Profile("googlebot", GOOGLEBOT_UA, accept_language=None),
        Profile("googlebot-mobile", GOOGLEBOT_MOBILE_UA, accept_language=None),
        Profile("baiduspider", BAIDUSPIDER_UA, accept_language="zh-cn,zh-tw"),
        Profile("search-baidu", DESKTOP_UA, BAIDU_SEARCH, "zh-CN,zh;q=0.9"),
        Profile("search-google-mobile", MOBILE_UA, GOOGLE_SEARCH),
    )
}
DEFAULT_PROFILES = tuple(BUILTIN_PROFILES)


_HEADER_VALUE = re.compile(r"[ -~]{1,1000}")  # printable ASCII: no CR/LF, no controls
# Language ranges with optional weights, as browsers send them (RFC 9110 12.5.4); the
# first is also the rendered browser's locale.
_Q = r"(?:[ \t]*;[ \t]*q=[01](?:\.[0-9]{0,3})?)?"
_RANGE = rf"[A-Za-z]{{1,8}}(?:-[A-Za-z0-9]{{1,8}})*{_Q}"
_LANGUAGES = re.compile(rf"{_RANGE}(?:[ \t]*,[ \t]*(?:{_RANGE}|\*{_Q}))*")


def _custom(name: str, spec: Any) -> Profile:
    if spec is None or spec == {}:
        if name not in BUILTIN_PROFILES:
            raise ValueError(f"unknown profile {name!r} (built-in: {', '.join(BUILTIN_PROFILES)})")
        return BUILTIN_PROFILES[name]
    if not isinstance(spec, Mapping):
        raise ValueError(f"profile {name!r}: want an object with user_agent/referer, got {spec!r}")
    if name == BASELINE:  # the crawl's own fetches: USER_AGENT and DEFAULT_REQUEST_HEADERS
        raise ValueError(f"profile {BASELINE!r} is the baseline and cannot be changed here")
    unknown = set(spec) - {"user_agent", "referer", "accept_language"}
    if unknown:
        raise ValueError(f"profile {name!r}: unknown keys {sorted(unknown)}")
    base = BUILTIN_PROFILES.get(name)
    user_agent = spec.get("user_agent") or (base.user_agent if base else None)
    if not (isinstance(user_agent, str) and _HEADER_VALUE.fullmatch(user_agent)):
        raise ValueError(f"profile {name!r} needs a user_agent (printable ASCII)")
    referer = spec.get("referer", base.referer if base else None)
    if referer is not None and not (
        isinstance(referer, str) and referer.startswith("http") and _HEADER_VALUE.fullmatch(referer)
    ):
        raise ValueError(f"profile {name!r}: referer must be an http(s) URL template")
    language = spec.get("accept_language", (base or BUILTIN_PROFILES[BASELINE]).accept_language)
    if language is not None and not (isinstance(language, str) and _LANGUAGES.fullmatch(language)):
        raise ValueError(
            f"profile {name!r}: accept_language must be language tags (zh-CN,zh;q=0.9) or null"
        )
    return Profile(name, user_agent, referer or None, language or None)


def parse_profiles(value: Any = None) -> list[Profile]:
    """Profiles from the ``HIJACKWATCH_PROFILES`` setting; ``browser`` always first.

    Raises ValueError with a one-line reason on anything it cannot use.
    """
    if value is None or value == "" or value == []:
        entries: list[tuple[str, Any]] = [(n, None) for n in DEFAULT_PROFILES]
    else:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text[:1] in "[{" else text.split(",")
        if isinstance(value, Mapping):
            entries = [(str(k), v) for k, v in value.items()]
        elif isinstance(value, Iterable):
            entries = []
            for entry in value:
                if isinstance(entry, Mapping) and "name" in entry:
                    spec = {k: v for k, v in entry.items() if k != "name"}
                    entries.append((str(entry["name"]), spec))
                elif isinstance(entry, str):
                    entries.append((entry, None))
                else:
                    raise ValueError(f"cannot read profile entry {entry!r}")
        else:
            raise ValueError(f"HIJACKWATCH_PROFILES: cannot read {value!r}")
    profiles: dict[str, Profile] = {}
    for raw_name, spec in entries:
        name = raw_name.strip().lower()
        if not name:
            continue
        if not all(c.isalnum() or c in "-_." for c in name) or len(name) > 64:
            raise ValueError(f"bad profile name {raw_name!r} (letters, digits, - _ . only)")
        if name in profiles:
            raise ValueError(f"profile {name!r} listed twice")
        profiles[name] = _custom(name, spec)
    baseline = profiles.pop(BASELINE, BUILTIN_PROFILES[BASELINE])
    return [baseline, *profiles.values()]


# --- Scrapy-free fetching for ``hijackwatch scan`` ----------------------------------------


@dataclass(slots=True)
class View:
    """One profile's fetch of a URL (redirects on the same site followed, others recorded)."""

    profile: Profile
    url: str
    final_url: str | None = None
    status: int | None = None
    body: bytes | None = None
    encoding: str | None = None
    error: str | None = None
    refresh: str | None = None  # the HTTP Refresh: header (browsers follow it)
    cut_at: int | None = None  # the body was longer and cut at this many bytes


Fetch = Callable[[str, Profile], View]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # every hop is decided (and recorded) by fetch_page


# what a hostile server can make a fetch raise: http.client's protocol errors (a bad
# status line, an endless header, a short body) are not OSErrors and urllib passes them on
FETCH_ERRORS = (OSError, ValueError, urllib.error.URLError, http.client.HTTPException)


class _Watchdog:
    """Shuts a fetch's connections down when its deadline passes.

    A server trickling bytes (headers, TLS records or body) satisfies every recv, so
    socket timeouts never fire; a shut-down socket makes the blocked read return at
    once. It shuts down a dup of each socket: that fd is ours, so a late timer can
    never hit an fd number the closed connection handed on to another fetch.
    """

    def __init__(self, deadline: float) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._closed = False
        self.fired = False
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True  # Ctrl-C must not wait for it
        self._timer.start()

    def watch(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            if not self.fired and not self._closed:
                self._socks.append(sock.dup())
                return sock
        sock.close()
        raise TimeoutError("timed out")

    def _fire(self) -> None:
        with self._lock:
            if self._closed:
                return
            self.fired = True
            for sock in self._socks:
                with contextlib.suppress(OSError):  # already gone
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._closed = True
            for sock in self._socks:
                sock.close()
            self._socks.clear()


class _WatchedConnection:
    """Mixin for http.client connections: each socket is handed to the fetch's watchdog."""

    def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the raw TCP socket: shutting it down also ends a TLS handshake in progress
        self._create_connection = lambda *a, **kw: watchdog.watch(  # type: ignore[attr-defined]
            socket.create_connection(*a, **kw)
        )


class _HTTPConnection(_WatchedConnection, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_WatchedConnection, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self.watchdog = watchdog

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req, watchdog=self.watchdog)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self.watchdog = watchdog

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            _HTTPSConnection,
            req,
            context=self._context,  # type: ignore[attr-defined]
            watchdog=self.watchdog,
        )


def _read_bounded(response: Any, max_bytes: int) -> bytes:
    """At most ``max_bytes`` + 1 bytes of the body: one more tells that it was longer."""
    chunks: list[bytes] = []
    size = 0
    while size <= max_bytes:
        chunk = response.read(min(65536, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[: max_bytes + 1]


class Fetched(NamedTuple):
    """What :func:`fetch_page` got."""

    status: int
    final_url: str
    body: bytes
    charset: str | None
    refresh: str | None  # the HTTP Refresh: header
    cut_at: int | None  # the body was longer and cut at this many bytes


def fetch_page(
    url: str,
    headers: Mapping[str, str | None],
    *,
    timeout: float = 15.0,
    max_bytes: int = PAGE_MAX_BYTES,
    max_redirects: int = 5,
    follow: Callable[[str, str], bool] | None = None,
) -> Fetched:
    """A GET; redirects followed while ``follow(from, to)``.

    The whole fetch, redirects included, is bounded by ``timeout`` however slowly the
    server sends (TimeoutError); the body is cut at ``max_bytes`` as sent and after its
    Content-Encoding is undone (at most ``max_bytes`` decoded), and ``cut_at``
    says so; a redirect not followed is returned as is (its Location is the final URL).
    """
    deadline = time.monotonic() + timeout
    watchdog = _Watchdog(deadline)
    opener = urllib.request.build_opener(
        _NoRedirect, _HTTPHandler(watchdog), _HTTPSHandler(watchdog)
    )
    sent = {name: value for name, value in headers.items() if value is not None}
    headers = {"Accept-Encoding": ACCEPT_ENCODING, **sent}
    try:
        result = _fetch(opener, url, headers, deadline, max_bytes, max_redirects, follow)
    except FETCH_ERRORS as exc:
        watchdog.close()
        if watchdog.fired or time.monotonic() > deadline:
            raise TimeoutError(f"timed out: no complete answer within {timeout:g} s") from exc
        raise
    finally:
        watchdog.close()
    if watchdog.fired:  # the shut-down socket ended the body early
        raise TimeoutError(f"timed out: no complete answer within {timeout:g} s")
    return result


def _fetch(
    opener: urllib.request.OpenerDirector,
    url: str,
    headers: Mapping[str, str],
    deadline: float,
    max_bytes: int,
    max_redirects: int,
    follow: Callable[[str, str], bool] | None,
) -> Fetched:
    current = url
    for _ in range(max_redirects + 1):
        if urlsplit(current).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {current[:200]}")
        if loopback_only() and not is_loopback(current):
            raise ValueError(f"{LOOPBACK_ENV} is set: not fetching {current[:200]}")
        request = urllib.request.Request(ascii_url(current), headers=dict(headers))
        remaining = max(0.01, deadline - time.monotonic())
        try:
            response = opener.open(request, timeout=remaining)
        except urllib.error.HTTPError as err:  # 3xx (no redirect handler), 4xx, 5xx
            response = err
        with response:
            status = int(response.status or response.code)
            location = response.headers.get("Location")
            charset = response.headers.get_content_charset()
            refresh = response.headers.get("Refresh")
            body = _read_bounded(response, max_bytes)
            cut = len(body) > max_bytes
            if body:
                encoding = response.headers.get("Content-Encoding")
                # decoded up to max_bytes (a script: 512 KB), cut there, not 10 MB first
                body, decoded_cut = decode_content(body[:max_bytes], encoding, max_bytes)
                cut = cut or decoded_cut
        cut_at = max_bytes if cut else None
        if status in REDIRECT_STATUSES and location:
            target = urljoin(current, location.strip())
            if follow is not None and follow(current, target):
                current = target
                continue
            return Fetched(status, target, body, charset, refresh, cut_at)
        return Fetched(status, current, body, charset, refresh, cut_at)
    raise ValueError(f"more than {max_redirects} redirects")


def _same_site(src: str, dst: str) -> bool:
    return url_domain(src) == url_domain(dst)


def fetch_view(
    url: str, profile: Profile, *, timeout: float = 15.0, max_bytes: int = PAGE_MAX_BYTES
) -> View:
    """Fetch ``url`` as ``profile``; never raises (a failure is the view's ``error``)."""
    try:
        status, final, body, charset, refresh, cut_at = fetch_page(
            url, profile.headers_for(url), timeout=timeout, max_bytes=max_bytes, follow=_same_site
        )
    except FETCH_ERRORS as exc:
        return View(profile, url, error=f"{type(exc).__name__}: {exc}"[:500])
    return View(profile, url, final, status, body, charset, refresh=refresh, cut_at=cut_at)


def fetch_views(
    url: str, profiles: list[Profile] | None = None, fetch: Fetch | None = None
) -> list[View]:
    """Every profile's view of ``url``, fetched in parallel, in profile order."""
    profiles = profiles or parse_profiles()
    fetch = fetch or fetch_view
    return parallel_map(lambda p: fetch(url, p), profiles, 8, FETCH_THREAD)


def unanalysed_is_error(analysis: Analysis) -> Analysis:
    """An analysis that read nothing (binary, compressed or empty body) gets verdict ``error``.

    ``analyse`` calls such input clean (no findings); shown as clean, a page nobody
    looked at would pass for a checked one.
    """
    if analysis.error is not None:
        analysis.verdict, analysis.score = "error", 0.0
    return analysis


def _analysis(view: View) -> Analysis:
    if view.error is not None or view.body is None:
        return Analysis(verdict="error", score=0.0, error=view.error or "no body")
    if not view.body.strip() and view.status in REDIRECT_STATUSES:
        return Analysis(verdict="clean", score=0.0)  # a bare redirect: the hop is the evidence
    analysis = analyse(
        view.body, view.final_url or view.url, encoding=view.encoding, refresh=view.refresh
    )
    if view.cut_at is not None:
        analysis.findings.append(cut_note(view.cut_at))
    return unanalysed_is_error(analysis)


PARTIAL_BODY = "partial_body"  # finding kind of the note on a body cut short


def cut_note(limit: int) -> Finding:
    """The ``partial_body`` note for a body cut at ``limit`` bytes (crawl and scan)."""
    why = f"the body is longer than {limit} bytes (DOWNLOAD_MAXSIZE): the first {limit}"
    return Finding(PARTIAL_BODY, "low", f"{why} were analysed", points=0.0)


def _script_findings(
    views: list[View], analyses: list[Analysis], timeout: float, max_scripts: int
) -> None:
    """Fetch each external script once and add its findings to every view that loads it.

    The scripts a view loads come from its analysis, which parsed the page already.
    """
    per_view = [
        absolute_script_urls(analysis.script_srcs, view.final_url or view.url)
        for view, analysis in zip(views, analyses, strict=True)
    ]
    wanted = list(dict.fromkeys(u for urls in per_view for u in urls))[:max_scripts]
    headers = BUILTIN_PROFILES[BASELINE].headers_for("")

    def load(script_url: str) -> list:
        try:
            fetched = fetch_page(script_url, headers, timeout=timeout, max_bytes=SCRIPT_MAX_BYTES)
        except FETCH_ERRORS:
            return []
        # the server names the charset: an unknown one must not end the scan
        source = fetched.body.decode(codec_name(fetched.charset) or "utf-8", "replace")
        return external_script_findings(source, script_url)

    found = dict(zip(wanted, parallel_map(load, wanted, 4, FETCH_THREAD), strict=True))
    for urls, analysis in zip(per_view, analyses, strict=True):
        for script_url in urls:
            analysis.findings.extend(found.get(script_url, []))


def rescore(analysis: Analysis) -> None:
    """Score and verdict again after findings were added (errors stay errors)."""
    if analysis.verdict == "error":
        return
    analysis.score, analysis.verdict = score_findings(analysis.findings)


def scan_url_views(
    url: str,
    profiles: list[Profile] | None = None,
    *,
    fetch: Fetch | None = None,
    scripts: bool = True,
    timeout: float = 15.0,
    max_scripts: int = 20,
) -> list[tuple[Profile, View, Analysis]]:
    """Fetch ``url`` as every profile, analyse each view, add script and cloaking findings.

    Each non-baseline profile's analysis carries its cloaking findings against the
    browser view (with both views in the evidence); external scripts the views load
    are fetched once each (512 KB, ``timeout``) and analysed statically, never run.
    """
    profiles = profiles or parse_profiles()
    if fetch is None:
        fetch = lambda u, p: fetch_view(u, p, timeout=timeout)  # noqa: E731
    views = fetch_views(url, profiles, fetch)
    analyses = [_analysis(view) for view in views]
    if scripts:
        _script_findings(views, analyses, timeout, max_scripts)
    base_view, base = views[0], analyses[0]
    base_facts = (None if base.error else base.summary, base_view.final_url)
    for view, analysis in zip(views[1:], analyses[1:], strict=True):
        if base_view.error or view.error:
            continue
        other = (None if analysis.error else analysis.summary, view.final_url)
        analysis.findings.extend(
            compare_fetches(url, base_facts, other, view.profile.name, kind=view.profile.kind)
        )
    for analysis in analyses:
        rescore(analysis)
    return list(zip(profiles, views, analyses, strict=True))


def with_profiles(profiles: list[Profile], names: Iterable[str]) -> list[Profile]:
    """The subset of ``profiles`` named (browser kept), e.g. for a ``--profile`` option.

    Raises ValueError naming an unknown name: dropping a misspelt ``googelbot`` would
    scan as the browser only and miss the cloaking it was asked to look for.
    """
    names = list(names)
    keep = {n.strip().lower() for n in names} - {""}
    known = [p.name for p in profiles]
    if names and not keep:  # "--profile ," would quietly mean the browser only
        raise ValueError(f"no profile named (known: {', '.join(known)})")
    unknown = sorted(keep - set(known))
    if unknown:
        raise ValueError(
            f"unknown profile {', '.join(repr(n[:64]) for n in unknown)} "
            f"(known: {', '.join(known)})"
        )
    return [p for p in profiles if p.is_baseline or p.name in keep]


__all__ = [
    "BASELINE",
    "BUILTIN_PROFILES",
    "DEFAULT_PROFILES",
    "Profile",
    "View",
    "fetch_page",
    "fetch_view",
    "fetch_views",
    "parse_profiles",
    "rescore",
    "scan_url_views",
    "unanalysed_is_error",
    "with_profiles",
]
