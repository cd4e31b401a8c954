"""Render mode: real headless Chromium (/usr/bin/chromium) against fixture servers on 127.0.0.x.

The browser may only load the page's own host and, here, 127.0.0.0/8: every other
request is aborted and recorded, so nothing reaches the internet.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hijackwatch.demo import FixtureWeb, SiteSpec
from hijackwatch.demo.cloaking_sites import CASINO, cloaking_sites
from hijackwatch.demo.sites import html_page, page
from hijackwatch.profiles import BUILTIN_PROFILES, Profile
from hijackwatch.render import (
    CHROMIUM,
    HostPolicy,
    Renderer,
    RenderResult,
    SandboxError,
    chromium_available,
    render_findings,
)
from tests.conftest import unavailable
from tests.test_e2e_crawl import FAST, run_cli

needs_chromium = pytest.mark.usefixtures("chromium")
SEARCH = BUILTIN_PROFILES["search-baidu"]
BROWSER = BUILTIN_PROFILES["browser"]
LEAKY = html_page(
    "Leaky page",
    '<p>hello</p><img src="http://example.com/pixel.gif">'
    '<script src="https://www.google-analytics.com/analytics.js"></script>'
    "<script>fetch('http://example.org/beacon').catch(function(){});"
    "try{new WebSocket('ws://example.net/socket')}catch(e){}</script>",
)


def test_host_policy() -> None:
    policy = HostPolicy(["127.0.0.0/8", "static.example.org"])
    assert policy.allowed("http://site.example/x.js", "site.example")
    assert policy.allowed("http://127.0.0.55:8000/a", "site.example")
    assert policy.allowed("https://static.example.org/a.js", "site.example")
    assert not policy.allowed("https://cdn.example.org/a.js", "site.example")
    assert not policy.allowed("http://10.0.0.1/", "site.example")
    assert not policy.allowed("ftp://site.example/", "site.example")
    strict = HostPolicy()
    assert not strict.allowed("http://127.0.0.1/", "site.example")
    assert strict.allowed("data:text/plain,x", "site.example")
    offline = HostPolicy(["127.0.0.0/8"], loopback_only=True)
    assert not offline.allowed("http://site.example/x.js", "site.example")
    assert offline.allowed("http://127.0.0.12:8000/x.js", "127.0.0.12")
    assert offline.allowed("http://127.0.0.13:8000/x.js", "127.0.0.12")


@pytest.fixture(scope="module")
def web() -> Iterator[FixtureWeb]:
    sites = [*cloaking_sites(1), SiteSpec("leaky", {"/": page(LEAKY)})]
    with FixtureWeb(sites=sites, first_address=100) as fixture:
        yield fixture


@pytest.fixture
def chromium() -> None:
    """Skip without Chromium on a developer's machine; CI installs it and must not skip."""
    if not chromium_available():
        unavailable(f"{CHROMIUM} not installed (CI installs Debian chromium)")


@pytest.fixture(scope="module")
def renderer() -> Iterator[Renderer]:
    if not chromium_available():
        unavailable(f"{CHROMIUM} not installed (CI installs Debian chromium)")
    r = Renderer(allow_hosts=["127.0.0.0/8"], timeout=10, settle=1.0, loopback_only=True)
    yield r
    r.close()


def render_once(r: Renderer) -> RenderResult:
    """One render of a dead address with a renderer that is closed afterwards."""
    try:
        return r.executor.submit(
            r.render, "http://127.0.0.1:9/", user_agent="x", referer=None
        ).result(timeout=60)
    finally:
        r.close()


def render(r: Renderer, url: str, profile: Profile = SEARCH) -> RenderResult:
    job = r.executor.submit(
        r.render, url, user_agent=profile.user_agent, referer=profile.referer_for(url)
    )
    return job.result(timeout=60)


@needs_chromium
def test_search_visitor_is_sent_away_by_an_obfuscated_script(
    web: FixtureWeb, renderer: Renderer
) -> None:
    url = web.base_of("script-redirect")
    result = render(renderer, url)
    assert result.error is None
    assert result.navigations[0] == url
    assert result.final_url == CASINO and CASINO in result.blocked  # recorded, never loaded
    (finding,) = [
        f for f in render_findings(result, "Harbour Gazette") if f.kind == "script_redirect"
    ]
    assert finding.severity == "high" and CASINO in finding.evidence
    assert "baidu.com" in finding.evidence
    # a visitor who typed the address stays
    direct = render(renderer, url, BROWSER)
    assert direct.final_url == url and direct.title == "Harbour Gazette"
    assert render_findings(direct, "Harbour Gazette") == []


@needs_chromium
def test_external_script_on_another_host_redirects_in_the_browser(
    web: FixtureWeb, renderer: Renderer
) -> None:
    url = web.base_of("script-redirect") + "news/4.html"
    hits_before = len(web.hits("script-cdn"))
    result = render(renderer, url)
    assert len(web.hits("script-cdn")) > hits_before  # 127.0.0.0/8 is allowed here
    assert result.final_url == CASINO

    strict = Renderer(timeout=10, settle=1.0, loopback_only=True)  # only the page's host
    try:
        hits_before = len(web.hits("script-cdn"))
        blocked = render(strict, url)
    finally:
        strict.close()
    assert len(web.hits("script-cdn")) == hits_before
    assert any("/static/js/stat.js" in u for u in blocked.blocked)
    assert blocked.final_url == url


@needs_chromium
def test_title_swap_is_seen_in_the_browser(web: FixtureWeb, renderer: Renderer) -> None:
    url = web.base_of("script-redirect") + "about.html"
    result = render(renderer, url)
    assert result.title == "Harbour Gazette - local news since 1921"
    (finding,) = render_findings(result, "澳门金沙官网_威尼斯人娱乐城_真人百家乐在线")
    assert finding.kind == "title_swap" and finding.severity == "high"
    assert "澳门金沙官网" in finding.evidence and "Harbour Gazette" in finding.evidence


@needs_chromium
def test_nothing_leaves_the_allowed_hosts(web: FixtureWeb, renderer: Renderer) -> None:
    result = render(renderer, web.base_of("leaky"))
    assert result.title == "Leaky page" and result.error is None
    blocked_hosts = {u.split("/")[2] for u in result.blocked}
    assert {"example.com", "www.google-analytics.com", "example.org"} <= blocked_hosts
    assert render_findings(result, "Leaky page") == []


@dataclass
class Process:
    pid: int
    uid: int
    seccomp: int  # 2: a seccomp-bpf filter, as Chromium's sandbox installs in renderers
    user_ns: str
    cmdline: list[str]


def descendants(root: int) -> list[Process]:
    """Processes below ``root`` (the driver, Chromium and its children), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            todo.append(pid)
            try:
                status = dict(
                    line.split(":\t", 1)
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if ":\t" in line
                )
                cmdline = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
                user_ns = os.readlink(f"/proc/{pid}/ns/user")
            except OSError:  # gone meanwhile
                continue
            uid = int(status["Uid"].split()[0])
            found.append(Process(pid, uid, int(status.get("Seccomp", 0)), user_ns, cmdline))
    return found


def browser_processes() -> list[Process]:
    return [p for p in descendants(os.getpid()) if "chromium" in " ".join(p.cmdline[:1])]


@needs_chromium
def test_pages_run_inside_chromiums_sandbox(web: FixtureWeb, renderer: Renderer) -> None:
    """Hostile pages' scripts run only in a sandboxed browser, also when hijackwatch is root."""
    result = render(renderer, web.base_of("leaky"))
    assert result.error is None and result.title == "Leaky page"
    processes = browser_processes()
    assert processes
    assert not any("--no-sandbox" in p.cmdline for p in processes)
    if os.geteuid() == 0:  # Chromium as root cannot sandbox: it runs as another user
        assert all(p.uid != 0 for p in processes)
    own_ns = os.readlink("/proc/self/ns/user")
    sandboxed = [p for p in processes if p.seccomp == 2 and p.user_ns != own_ns]
    assert sandboxed  # renderers: seccomp filter and their own user namespace


@needs_chromium
def test_running_without_the_sandbox_is_explicit_and_visible(web: FixtureWeb) -> None:
    """The opt-out really drops the sandbox (so the check above can tell the difference)."""
    unsafe = Renderer(
        allow_hosts=["127.0.0.0/8"], timeout=10, settle=0.2, loopback_only=True, no_sandbox=True
    )
    try:
        result = render(unsafe, web.base_of("leaky"))
        processes = browser_processes()
    finally:
        unsafe.close()
    assert result.error is None and result.title == "Leaky page"
    unsandboxed = [p for p in processes if "--no-sandbox" in p.cmdline]
    assert unsandboxed and not any(p.seccomp == 2 for p in unsandboxed)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root has to change user")
def test_root_refuses_an_unknown_render_user(tmp_path: Path) -> None:
    r = Renderer(user="hw-no-such-user", timeout=5, settle=0)
    with pytest.raises(SandboxError, match="hw-no-such-user"):
        r._launch_plan()
    result = render_once(r)
    assert result.error and result.error.startswith("browser not started")
    assert "HIJACKWATCH_RENDER_USER" in result.error


@needs_chromium
def test_crawl_with_render_mode(tmp_path: Path, sqlite_url: str) -> None:
    sites = [s for s in cloaking_sites(1) if s.name in ("script-redirect", "script-cdn")]
    with FixtureWeb(sites=sites, first_address=110) as fixture:
        seeds = tmp_path / "seeds.txt"
        fixture.write_seeds(str(seeds))
        result = run_cli(
            "crawl", str(seeds), "--db", sqlite_url, "-q", *FAST,
            "-s", "HIJACKWATCH_PROFILE_MODE=off",
            "-s", "HIJACKWATCH_RENDER_ENABLED=1",
            "-s", "HIJACKWATCH_RENDER_ALLOW_HOSTS=127.0.0.0/8",
            "-s", "HIJACKWATCH_RENDER_SETTLE=1",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        base = fixture.base_of("script-redirect")
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        rendered = dict(
            conn.execute(
                text(
                    "SELECT p.url, f.evidence FROM findings f JOIN pages p ON p.id = f.page_id"
                    " WHERE f.evidence LIKE '%headless Chromium%'"
                )
            ).all()
        )
    engine.dispose()
    assert CASINO in rendered[base] and CASINO in rendered[base + "news/4.html"]
    assert base + "about.html" not in rendered  # suspicious, rendered, but no navigation


def test_renderer_reports_a_missing_browser() -> None:
    result = render_once(Renderer(executable="/nonexistent/chromium", timeout=5, settle=0))
    assert result.error and result.error.startswith("browser did not start")
    # the browser's own complaint, not a guess about the sandbox
    assert "/nonexistent/chromium" in result.error and "sandbox" not in result.error.lower()
