"""Render mode: real headless Chromium (/usr/bin/chromium) against fixture servers on 127.0.0.x.

The browser may only load the page's own host and, here, 127.0.0.0/8: every other
request is aborted and recorded, so nothing reaches the internet.
"""

from __future__ import annotations

import logging
import os
import pwd
import stat
import subprocess
import sys
import tempfile
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
    LAUNCHER_DIR_SETTING,
    RENDER_USER,
    HostPolicy,
    Renderer,
    RenderResult,
    SandboxError,
    chromium_available,
    chromium_problem,
    launcher_parent,
    render_findings,
)
from tests.conftest import unavailable
from tests.test_cloaking_pipeline import pipeline
from tests.test_e2e_crawl import FAST, run_cli

needs_chromium = pytest.mark.usefixtures("chromium")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="only root starts Chromium as another user")
SEARCH = BUILTIN_PROFILES["search-baidu"]
BROWSER = BUILTIN_PROFILES["browser"]
LEAKY = html_page(
    "Leaky page",
    '<p>hello</p><img src="http://example.com/pixel.gif">'
    '<script src="https://www.google-analytics.com/analytics.js"></script>'
    "<script>fetch('http://example.org/beacon').catch(function(){});"
    "try{new WebSocket('ws://example.net/socket')}catch(e){}</script>",
)
# Sends Chinese-speaking visitors only to the casino (kits read navigator.language).
CHINESE_ONLY = html_page(
    "County library",
    "<p>Opening hours: nine to five.</p><script>"
    f"if (navigator.language.toLowerCase().indexOf('zh') === 0) location.href = '{CASINO}';"
    "</script>",
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
    sites = [
        *cloaking_sites(1),
        SiteSpec("leaky", {"/": page(LEAKY)}),
        SiteSpec("chinese-only", {"/": page(CHINESE_ONLY)}),
    ]
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
        ).result(timeout=180)
    finally:
        r.close()


def render(r: Renderer, url: str, profile: Profile = SEARCH) -> RenderResult:
    job = r.executor.submit(
        r.render,
        url,
        user_agent=profile.user_agent,
        referer=profile.referer_for(url),
        accept_language=profile.accept_language,
    )
    return job.result(timeout=180)


@needs_chromium
def test_the_rendered_visitor_speaks_its_profiles_language(
    web: FixtureWeb, renderer: Renderer
) -> None:
    """search-baidu's browser says zh-CN (header and navigator.language): a script that
    sends only Chinese-speaking visitors away is seen; an English browser stays."""
    url = web.base_of("chinese-only")
    chinese = render(renderer, url)
    assert chinese.final_url == CASINO and CASINO in chinese.blocked
    english = render(renderer, url, BROWSER)
    assert english.error is None and english.final_url == url


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


@needs_chromium
def test_a_slow_browser_start_gets_its_own_deadline(web: FixtureWeb, tmp_path: Path) -> None:
    """A cold Chromium start on a busy machine outlasts a page-load timeout (CI saw a
    10 s launch time out); the start has HIJACKWATCH_RENDER_LAUNCH_TIMEOUT instead."""
    slow = tmp_path / "slow-chromium"
    slow.write_text(f'#!/bin/sh\nsleep 4\nexec {CHROMIUM} "$@"\n')
    slow.chmod(0o755)
    r = Renderer(
        executable=str(slow),
        allow_hosts=["127.0.0.0/8"],
        timeout=2,
        settle=0,
        loopback_only=True,
        no_sandbox=True,  # the wrapper runs as this user; the sandbox is tested above
        launch_timeout=60,
    )
    try:
        result = render(r, web.base_of("leaky"))
    finally:
        r.close()
    assert result.error is None and result.title == "Leaky page"


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


# --- as root: the launcher's directory and the render user's access ----------------------


@pytest.fixture
def noexec_dir() -> Iterator[Path]:
    """A real tmpfs mounted noexec (and sticky, world-writable) as /tmp is on hardened hosts;
    its mount point is one every user can reach, like /tmp."""
    target = Path(tempfile.mkdtemp(prefix="hw-noexec-", dir="/tmp"))
    target.chmod(0o755)
    options = "noexec,nosuid,nodev,size=4m,mode=1777"
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "hw-noexec", str(target)],
        capture_output=True,
        text=True,
    )
    if mount.returncode != 0:
        target.rmdir()
        pytest.skip(f"cannot mount a noexec tmpfs here: {mount.stderr.strip()}")
    try:
        assert os.statvfs(target).f_flag & os.ST_NOEXEC
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)
        target.rmdir()


@as_root
@needs_chromium
def test_a_noexec_temp_dir_is_passed_over(
    noexec_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TMPDIR on a noexec mount (Playwright's profile goes there too): the launcher goes
    to the next directory that allows execution and the page renders."""
    monkeypatch.setenv("TMPDIR", str(noexec_dir))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    assert tempfile.gettempdir() == str(noexec_dir)
    r = Renderer(timeout=10, settle=0, loopback_only=True)
    assert r.preflight() is None
    try:
        result = r.executor.submit(
            r.render, "data:text/html,<title>launched</title>", user_agent="x"
        ).result(timeout=180)
        private = r._launcher_dir
    finally:
        r.close()
    assert result.error is None and result.title == "launched"
    assert private and os.path.dirname(private) != str(noexec_dir)
    assert not os.path.exists(private)  # removed on close


@as_root
@needs_chromium
def test_the_launcher_dir_setting(tmp_path: Path, noexec_dir: Path) -> None:
    chosen = tmp_path / "launchers"
    chosen.mkdir(mode=0o700)
    r = Renderer(launcher_dir=str(chosen), timeout=5, settle=0)
    assert r.preflight() is None
    try:
        executable, _ = r._launch_plan()
        private = Path(executable).parent
        assert private.parent == chosen
        st = private.stat()
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.geteuid()
        assert os.access(executable, os.X_OK)
    finally:
        r.close()
    assert not private.exists() and chosen.is_dir()  # ours removed, the setting's kept

    # an unusable setting is one clear error naming it, not a silent fallback
    r = Renderer(launcher_dir=str(noexec_dir), timeout=5, settle=0)
    problem = r.preflight()
    assert problem and problem.startswith(f"{LAUNCHER_DIR_SETTING} {noexec_dir}: mounted noexec")
    assert render_once(r).error == f"browser not started: {problem}"
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # another user could swap root's launcher
    assert "writable by other users" in (Renderer(launcher_dir=str(shared)).preflight() or "")
    # a directory above it that another user owns: they could rename the chosen one and
    # put their own launcher in its place, which root would then run
    home = tmp_path / "home"
    (home / "launch").mkdir(parents=True, mode=0o755)
    nobody = pwd.getpwnam("nobody")
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    problem = Renderer(launcher_dir=str(home / "launch")).preflight() or ""
    assert f"owned by uid {nobody.pw_uid} (its ancestor {home})" in problem
    # a symlink is judged, and used, by where it leads
    (tmp_path / "link").symlink_to(chosen)
    assert launcher_parent(str(tmp_path / "link")) == str(chosen)


@as_root
@needs_chromium
def test_no_directory_allows_the_launcher(tmp_path: Path) -> None:
    """The temp dir, /var/tmp and the cache dir all noexec (in a private mount namespace):
    one error that lists them and names the setting. (The temp dir is a fresh mount, not
    /tmp itself, which may hold this checkout and its Python.)"""
    if any(Path(p).resolve().is_relative_to("/var/tmp") for p in (sys.executable, __file__)):
        pytest.skip("this checkout or its Python lives under /var/tmp, which the test hides")
    temp = tmp_path / "tmp"
    temp.mkdir()
    code = "from hijackwatch.render import Renderer; print(Renderer().preflight())"
    script = (
        'for d in "$2" /var/tmp; do mount -t tmpfs -o noexec,mode=1777 hw "$d" || exit 90; done;'
        ' exec "$0" -c "$1"'
    )
    namespace = ["unshare", "--mount", "--propagation", "private"]
    run = subprocess.run(
        [*namespace, "/bin/sh", "-c", script, sys.executable, code, str(temp)],
        env={**os.environ, "TMPDIR": str(temp), "XDG_CACHE_HOME": f"{temp}/cache"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if run.returncode == 90 or "unshare failed" in run.stderr:
        pytest.skip(f"cannot mount in a private mount namespace here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == (
        f"no directory allows running Chromium's launcher: {temp} (mounted noexec), "
        f"/var/tmp (mounted noexec), {temp}/cache/hijackwatch (mounted noexec); "
        f"set {LAUNCHER_DIR_SETTING} to a directory owned by root and not writable by others, "
        "like every directory above it, on a filesystem mounted without noexec"
    )


@as_root
@needs_chromium
def test_the_render_user_must_reach_the_browser(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Root may run a browser the render user cannot even see: said before any page."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)  # root's, not traversable by others
    browser = locked / "chromium"
    browser.symlink_to(CHROMIUM)
    assert chromium_available(str(browser))  # root's own access: fine
    problem = chromium_problem(str(browser), RENDER_USER)
    assert problem and problem.startswith(
        f"HIJACKWATCH_RENDER_USER {RENDER_USER!r} (uid {pwd.getpwnam(RENDER_USER).pw_uid}) "
        f"cannot execute {browser}:"
    )
    assert chromium_problem(CHROMIUM, RENDER_USER) is None

    result = render_once(Renderer(executable=str(browser), timeout=10, settle=0))
    assert result.error == f"browser not started: {problem}"  # not Chromium's late failure
    with caplog.at_level(logging.ERROR, "hijackwatch.pipelines.cloaking"):
        pipe, _plan = pipeline(
            HIJACKWATCH_RENDER_ENABLED=True, HIJACKWATCH_RENDER_CHROMIUM=str(browser)
        )
    assert pipe.renderer is None and pipe.stats.get_value("hijackwatch/render_unavailable") == 1
    assert problem in caplog.text and "not rendering" in caplog.text
