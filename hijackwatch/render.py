"""Render mode: load a suspicious page in headless Chromium as a visitor from a search result.

Static analysis misses redirects computed at run time; a real browser does not. The
page runs in the Debian Chromium (``/usr/bin/chromium``, never a downloaded browser)
in a fresh browser context per page, with a search-engine Referer. Every request is
routed: the page's own host (and ``allow_hosts``: hostnames, or networks such as
``127.0.0.0/8`` in tests) may load; anything else is aborted, and a top-level
navigation elsewhere is recorded (that is the evidence) but never loaded. WebSockets
are never connected and service workers are blocked, so a hostile page cannot reach
other hosts. Playwright's sync API is bound to the thread that started it, so one
worker thread owns the browser and callers hand it work.

With ``loopback_only`` (HIJACKWATCH_LOOPBACK_ONLY) only 127.0.0.0/8 loads and Chromium
resolves no host name. Nothing here imports Scrapy; CloakingPipeline calls
``Renderer.render_async``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from hijackwatch.detect.findings import Finding
from hijackwatch.detect.text import clip, url_domain
from hijackwatch.seeds import loopback_only as env_loopback_only

logger = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
RENDER_USER = "nobody"  # who runs Chromium when hijackwatch runs as root
SETPRIV = "/usr/bin/setpriv"
CHROMIUM_ARGS = [
    "--headless",
    "--disable-gpu",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",  # no UDP around the router
    "--dns-prefetch-disable",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
]
LOOPBACK_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.*, EXCLUDE localhost"]
MAX_NAVIGATIONS = 20


LAUNCHER = "chromium-sandboxed"
LAUNCHER_DIR_SETTING = "HIJACKWATCH_RENDER_LAUNCHER_DIR"


class SandboxError(Exception):
    """Chromium cannot start as the unprivileged user its sandbox needs (as root), and
    running without the sandbox was not allowed."""


def render_account(user: str) -> pwd.struct_passwd:
    """The account Chromium runs as when hijackwatch is root, if it can be switched to."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise SandboxError(
            f"HIJACKWATCH_RENDER_USER {user!r} does not exist: as root, Chromium runs as "
            "an unprivileged user so that its sandbox stays on"
        ) from None
    if entry.pw_uid == 0:
        raise SandboxError(f"HIJACKWATCH_RENDER_USER {user!r} is root: Chromium needs another")
    if not os.access(SETPRIV, os.X_OK):
        raise SandboxError(f"{SETPRIV} (util-linux) is needed to start Chromium as {user!r}")
    return entry


def _as_account(entry: pwd.struct_passwd) -> list[str]:
    """The command prefix that drops root for ``entry`` (the launcher and the access check
    use the same one, so the check sees what Chromium will see)."""
    uid, gid = entry.pw_uid, entry.pw_gid
    return [SETPRIV, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all", "--"]


_CANNOT_EXECUTE = 3  # the check's exit status when the file is not executable for the user


def _account_cannot_execute(path: str, entry: pwd.struct_passwd) -> str | None:
    """Why ``entry`` cannot execute ``path``, asked of the kernel as that user (modes,
    ACLs and every directory above count); root's own access says nothing about it."""
    script = f'test -f "$1" && test -x "$1" || exit {_CANNOT_EXECUTE}'
    try:
        run = subprocess.run(
            [*_as_account(entry), "/bin/sh", "-c", script, "sh", path],
            capture_output=True,
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not check whether {entry.pw_name!r} may execute {path}: {exc}"
    if run.returncode == 0:
        return None
    if run.returncode == _CANNOT_EXECUTE:
        return (
            f"HIJACKWATCH_RENDER_USER {entry.pw_name!r} (uid {entry.pw_uid}) cannot execute "
            f"{path}: as root, Chromium runs as that user, who needs execute permission on "
            "the file and on every directory above it"
        )
    error = run.stderr.decode("utf-8", "replace").strip()
    return f"could not switch to {entry.pw_name!r} to check {path}: {clip(error, 200)}"


def chromium_problem(path: str = CHROMIUM, user: str | None = None) -> str | None:
    """Why Chromium at ``path`` cannot be started by ``user`` (None: by this process's
    user), or None if it can."""
    if not os.path.isfile(path):
        return f"there is no Chromium at {path}"
    if not os.access(path, os.X_OK):
        return f"Chromium at {path} is not executable"
    if user is None:
        return None
    try:
        return _account_cannot_execute(path, render_account(user))
    except SandboxError as exc:
        return str(exc)


def chromium_available(path: str = CHROMIUM, user: str | None = None) -> bool:
    return chromium_problem(path, user) is None


def _launcher_parent_problem(parent: str) -> str | None:
    """Why root's launcher must not be put in ``parent`` (a resolved path): it cannot run
    there, or another user could swap it, or any directory above it, before root runs it."""
    try:
        flags = os.statvfs(parent).f_flag
    except OSError as exc:
        return exc.strerror or str(exc)
    path = "/"
    for part in ["", *parent.strip("/").split("/")]:
        path = os.path.join(path, part)
        try:
            st = os.lstat(path)
        except OSError as exc:
            return exc.strerror or str(exc)
        where = "" if path == parent else f" (its ancestor {path})"
        if not stat.S_ISDIR(st.st_mode):
            return f"not a directory{where}"
        if st.st_uid not in (0, os.geteuid()):
            return f"owned by uid {st.st_uid}{where}"
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            return f"writable by other users (and not sticky){where}"
    if flags & os.ST_NOEXEC:
        return "mounted noexec"
    if not os.access(parent, os.W_OK | os.X_OK):
        return "not writable"
    return None


def launcher_parent(explicit: str | None = None) -> str:
    """Where the launcher's private directory goes: ``explicit``
    (HIJACKWATCH_RENDER_LAUNCHER_DIR), else the first of the temp directory, /var/tmp and
    ~/.cache/hijackwatch that allows execution (hardened hosts mount /tmp noexec)."""
    if explicit:
        resolved = os.path.realpath(explicit)  # the checks hold for what is really used
        problem = _launcher_parent_problem(resolved)
        if problem is None:
            return resolved
        raise SandboxError(
            f"{LAUNCHER_DIR_SETTING} {explicit}: {problem}; Chromium's launcher must run "
            "from there (a directory owned by root and not writable by others, like every "
            "directory above it, on a "
            "filesystem mounted without noexec)"
        )
    cache = os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hijackwatch"
    )
    refused = []
    for parent in dict.fromkeys([tempfile.gettempdir(), "/var/tmp", cache]):
        if parent == cache:
            with contextlib.suppress(OSError):
                os.makedirs(cache, mode=0o700, exist_ok=True)
        resolved = os.path.realpath(parent)
        problem = _launcher_parent_problem(resolved)
        if problem is None:
            return resolved
        refused.append(f"{parent} ({problem})")
    raise SandboxError(
        f"no directory allows running Chromium's launcher: {', '.join(refused)}; set "
        f"{LAUNCHER_DIR_SETTING} to a directory owned by root and not writable by others, like "
        "every directory above it, on a "
        "filesystem mounted without noexec"
    )


# Playwright starts the executable it is given with --user-data-dir=<fresh dir made by
# root>; the launcher hands that directory to the unprivileged user, then becomes it.
_LAUNCHER = """#!/bin/sh
# Written by hijackwatch.render: Chromium refuses its sandbox as root, so it runs as
# {user} (uid {uid}) with the sandbox on.
for arg do
  case $arg in
    --user-data-dir=*) dir=${{arg#--user-data-dir=}}; chown -R {uid}:{gid} -- "$dir"
      export HOME="$dir" ;;
  esac
done
exec {as_account} {chromium} "$@"
"""


def sandbox_launcher(chromium: str, user: str, parent: str | None = None) -> str:
    """Write the launcher that starts ``chromium`` as ``user`` into a fresh private
    directory (0700, under :func:`launcher_parent`); returns the directory."""
    entry = render_account(user)
    if os.path.isfile(chromium):  # a missing browser: Playwright's own error names it
        problem = _account_cannot_execute(chromium, entry)
        if problem is not None:
            raise SandboxError(problem)
    directory = tempfile.mkdtemp(prefix="hijackwatch-render-", dir=launcher_parent(parent))
    try:
        text = _LAUNCHER.format(
            user=user,
            uid=entry.pw_uid,
            gid=entry.pw_gid,
            as_account=shlex.join(_as_account(entry)),
            chromium=shlex.quote(chromium),
        )
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with open(os.open(os.path.join(directory, LAUNCHER), flags, 0o700), "w") as fh:
            fh.write(text)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return directory


@dataclass(slots=True)
class RenderResult:
    """What a search visitor's browser did with one page."""

    url: str
    referer: str | None
    final_url: str  # where the visitor ended up (a blocked navigation's target counts)
    title: str = ""  # document.title once scripts ran (before any navigation away)
    navigations: list[str] = field(default_factory=list)  # top-level navigations, in order
    blocked: list[str] = field(default_factory=list)  # requests refused (other hosts)
    error: str | None = None


class HostPolicy:
    """Which hosts a rendered page may load from: its own, plus configured ones."""

    def __init__(
        self, allow: list[str] | tuple[str, ...] = (), loopback_only: bool = False
    ) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.hosts: set[str] = set()
        self.loopback_only = loopback_only  # tests, benchmarks, demo: nothing else at all
        for entry in allow:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry)

    def allowed(self, url: str, page_host: str) -> bool:
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https"):
            return parts.scheme in ("data", "blob", "about")
        host = (parts.hostname or "").lower()
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if self.loopback_only and (address is None or not address.is_loopback):
            return False
        if host == page_host or host in self.hosts:
            return True
        return address is not None and any(address in net for net in self.networks)


def _locale(accept_language: str | None) -> str | None:
    """The first language tag of an Accept-Language value (``zh-CN,zh;q=0.9`` -> zh-CN)."""
    first = (accept_language or "").split(",")[0].split(";")[0].strip()
    return first or None


class Renderer:
    """One headless Chromium, driven from its own worker thread, one fresh context per page."""

    def __init__(
        self,
        *,
        executable: str = CHROMIUM,
        allow_hosts: list[str] | tuple[str, ...] = (),
        timeout: float = 15.0,
        settle: float = 3.0,
        loopback_only: bool | None = None,
        user: str = RENDER_USER,
        no_sandbox: bool = False,
        launcher_dir: str | None = None,
        launch_timeout: float = 60.0,
    ) -> None:
        """As root, Chromium is started as ``user`` (its sandbox needs that) through a
        launcher written under ``launcher_dir`` (default: see :func:`launcher_parent`),
        unless ``no_sandbox`` explicitly accepts running hostile pages without the sandbox."""
        self.executable = executable
        self.user = user
        self.no_sandbox = no_sandbox
        self.launcher_dir = launcher_dir
        self._launcher_dir: str | None = None  # this renderer's own, removed on close
        if loopback_only is None:  # the environment decides (tests and demo set it)
            loopback_only = env_loopback_only()
        self.policy = HostPolicy(allow_hosts, loopback_only)
        self.timeout = timeout
        # a cold Chromium start on a loaded machine takes far longer than a page load
        self.launch_timeout = max(launch_timeout, timeout)
        self.settle = settle
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hw-render")
        self._playwright: Any = None
        self._browser: Any = None

    @property
    def browser_user(self) -> str | None:
        """Who Chromium runs as when that is not this process's user (root, sandbox on)."""
        return self.user if os.geteuid() == 0 and not self.no_sandbox else None

    def preflight(self) -> str | None:
        """Why the browser cannot start (None: nothing found), asked before the first
        page so that render mode fails once, clearly, rather than once per page."""
        problem = chromium_problem(self.executable, self.browser_user)
        if problem is None and self.browser_user is not None:
            try:
                launcher_parent(self.launcher_dir)
            except SandboxError as exc:
                problem = str(exc)
        return problem

    # --- worker-thread side ---------------------------------------------------------
    def _ensure_browser(self) -> Any:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        from playwright.sync_api import sync_playwright

        executable, args = self._launch_plan()
        if self._playwright is None:
            self._playwright = sync_playwright().start()
        # launch() gives every browser a fresh temporary user-data-dir, deleted on close
        self._browser = self._playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # Playwright adds --no-sandbox unless told otherwise
            chromium_sandbox=not self.no_sandbox,
            # loopback-only: no host name resolves at all (belt and braces to routing)
            args=[*args, *(LOOPBACK_ARGS if self.policy.loopback_only else [])],
            timeout=self.launch_timeout * 1000,
        )
        return self._browser

    def _launch_plan(self) -> tuple[str, list[str]]:
        """The executable and flags: never a sandbox-less browser unless asked for."""
        if self.no_sandbox:
            return self.executable, ["--no-sandbox", *CHROMIUM_ARGS]
        if self.browser_user is None:
            return self.executable, CHROMIUM_ARGS
        if self._launcher_dir is None:
            self._launcher_dir = sandbox_launcher(self.executable, self.user, self.launcher_dir)
        return os.path.join(self._launcher_dir, LAUNCHER), CHROMIUM_ARGS

    def render(
        self,
        url: str,
        *,
        user_agent: str,
        referer: str | None = None,
        accept_language: str | None = None,
    ) -> RenderResult:
        """Load ``url`` and let its scripts run for ``settle`` s (call from the worker thread).

        ``accept_language``'s first tag is the browser's locale: ``navigator.language``
        (which kits read) and the Accept-Language Chromium sends (``zh-CN``); without
        one Chromium keeps its own (en-US)."""
        from playwright.sync_api import Error as PlaywrightError

        result = RenderResult(url=url, referer=referer, final_url=url)
        page_host = (urlsplit(url).hostname or "").lower()
        try:
            browser = self._ensure_browser()
        except SandboxError as exc:
            result.error = f"browser not started: {exc}"[:500]
            return result
        except PlaywrightError as exc:
            result.error = f"browser did not start: {_start_failure(exc)}"[:1500]
            return result
        try:
            context = browser.new_context(
                user_agent=user_agent,
                locale=_locale(accept_language),  # Chromium derives Accept-Language from it
                service_workers="block",
                accept_downloads=False,
                java_script_enabled=True,
                ignore_https_errors=True,
            )
        except PlaywrightError as exc:  # the browser died between two pages
            result.error = f"browser context failed: {exc}"[:500]
            return result
        try:
            page = context.new_page()
            main_frame = page.main_frame

            def route(route: Any) -> None:
                request = route.request
                navigation = request.is_navigation_request() and request.frame == main_frame
                if navigation and len(result.navigations) < MAX_NAVIGATIONS:
                    result.navigations.append(request.url)
                if self.policy.allowed(request.url, page_host):
                    route.continue_()
                    return
                if len(result.blocked) < 100:
                    result.blocked.append(request.url)
                route.abort("blockedbyclient")

            context.route("**/*", route)
            context.route_web_socket("**/*", lambda ws: None)  # never connected to a server
            deadline = time.monotonic() + self.timeout + self.settle
            try:
                page.goto(url, referer=referer, wait_until="load", timeout=self.timeout * 1000)
                self._read_title(page, result, page_host)
            except PlaywrightError as exc:  # interrupted by the page's own redirect, or failed
                if not result.navigations[1:]:
                    result.error = clip(str(exc), 300)
            self._settle(page, result, page_host, deadline)
            if result.navigations:
                result.final_url = result.navigations[-1]
        except PlaywrightError as exc:
            result.error = clip(str(exc), 300)
        finally:
            with contextlib.suppress(PlaywrightError):
                context.close()
        return result

    def _settle(self, page: Any, result: RenderResult, page_host: str, deadline: float) -> None:
        """Let timers fire; keep the title of the page humans saw (not an error page)."""
        from playwright.sync_api import Error as PlaywrightError

        remaining = min(self.settle, deadline - time.monotonic())
        if remaining > 0:
            try:
                page.wait_for_timeout(remaining * 1000)
            except PlaywrightError:
                return
        self._read_title(page, result, page_host)

    def _read_title(self, page: Any, result: RenderResult, page_host: str) -> None:
        """document.title, unless the tab shows Chromium's error page for a blocked hop."""
        from playwright.sync_api import Error as PlaywrightError

        try:
            current = page.url
            if self.policy.allowed(current, page_host) and current not in result.blocked:
                title = page.title()
                if title or not result.title:
                    result.title = title
        except PlaywrightError:
            pass

    def _close(self) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
            if self._playwright is not None:
                self._playwright.stop()
        except Exception:  # closing a crashed browser: nothing left to clean
            logger.debug("closing the render browser failed", exc_info=True)
        self._browser = self._playwright = None
        if self._launcher_dir is not None:
            shutil.rmtree(self._launcher_dir, ignore_errors=True)
            self._launcher_dir = None

    # --- event-loop side ------------------------------------------------------------
    async def render_async(
        self,
        url: str,
        *,
        user_agent: str,
        referer: str | None = None,
        accept_language: str | None = None,
    ) -> RenderResult:
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(
            self.executor,
            functools.partial(
                self.render,
                url,
                user_agent=user_agent,
                referer=referer,
                accept_language=accept_language,
            ),
        )
        try:
            return await asyncio.wait_for(
                job, timeout=self.launch_timeout + 2 * (self.timeout + self.settle) + 30
            )
        except TimeoutError:
            return RenderResult(url, referer, url, error="render timed out")

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executor, self._close)
        self.executor.shutdown(wait=False)

    def close(self) -> None:
        self.executor.submit(self._close).result(timeout=60)
        self.executor.shutdown(wait=True)


# What Chromium says when its namespace sandbox cannot start (not merely any line that
# mentions the word: the launcher's own path does).
_SANDBOX_FAILURES = ("No usable sandbox", "Failed to move to new namespace")


def _start_failure(exc: Exception) -> str:
    """Why the browser did not start: Playwright's first line and the browser's own error
    lines (its launch command line is left out), with the way out if the sandbox failed."""
    lines = str(exc).splitlines()
    # Playwright repeats the browser's log in its call log ("- " prefixed): once each
    errors = list(dict.fromkeys(ln.strip().removeprefix("- ") for ln in lines if "[err]" in ln))[:4]
    message = " | ".join([lines[0].strip() if lines else type(exc).__name__, *errors])
    if any(marker in str(exc) for marker in _SANDBOX_FAILURES):
        message += (
            " | Chromium's sandbox could not start: on Linux it needs unprivileged user "
            "namespaces (and a container seccomp profile that allows them); "
            "HIJACKWATCH_RENDER_NO_SANDBOX=True runs without it, at your own risk"
        )
    return message


def render_findings(result: RenderResult, source_title: str | None) -> list[Finding]:
    """Findings from a rendered view: navigations off the site, a title scripts swapped."""
    from hijackwatch.detect.cloaking import title_change
    from hijackwatch.detect.script import spammy_domain

    findings: list[Finding] = []
    page_domain = url_domain(result.url)
    who = f"a visitor from {result.referer}" if result.referer else "a browser"
    for target in result.navigations:
        domain = url_domain(target)
        if domain and domain != page_domain:
            spam = " (gambling/porn-looking domain)" if spammy_domain(domain) else ""
            findings.append(
                Finding(
                    "script_redirect",
                    "high",
                    f"in headless Chromium {who} was sent from {clip(result.url, 150)!r} "
                    f"to {clip(target, 200)!r}{spam}",
                )
            )
            break
    change = title_change(source_title or "", result.title)
    if change is not None:
        severity, why = change
        findings.append(
            Finding(
                "title_swap",
                severity,
                f"scripts change the title {why}: crawlers read {clip(source_title or '', 150)!r}, "
                f"{who} sees {clip(result.title, 150)!r}",
            )
        )
    return findings
