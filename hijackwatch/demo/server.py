"""FixtureWeb: one real HTTP server per fixture site, each on its own loopback address."""

from __future__ import annotations

import errno
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

from hijackwatch.demo.cloaking_sites import bind_peers
from hijackwatch.demo.sites import Page, SiteSpec, build_sites

logger = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    site: SiteSpec
    hits: list[tuple[str, str, str, str]]  # (path, user agent, referer, raw request path)

    def handle_error(self, request: object, client_address: object) -> None:
        """A crawler hanging up (timeouts, cancelled downloads) is normal here, not news."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path or "/"
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.hits.append(
            (path, headers.get("user-agent", ""), headers.get("referer", ""), self.path)
        )
        page = self.server.site.resolve(path, headers)
        if page is None:
            page = Page(
                body=b"<html><head><title>Not found</title></head><body>404</body></html>",
                status=404,
            )
        if page.hang:
            # a server that accepts and never answers: the crawler's timeout must cope
            threading.Event().wait(page.hang)
            return
        host, port = self.server.server_address[:2]
        body = page.body.replace(b"{base}", f"http://{host}:{port}".encode())
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        for name, value in page.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _bind(host: str) -> _Server | None:
    try:
        return _Server((host, 0), _Handler)
    except OSError as exc:
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EADDRINUSE):
            return None
        raise


class FixtureWeb:
    """Serves the fixture sites until closed; ``seeds`` lists their homepages.

    Each site gets its own 127.0.0.x address (falling back to 127.0.0.1 with its
    own port where the loopback range is not routed) so site keys differ as real
    domains would. ``dead_seeds`` are addresses where nothing listens.
    """

    def __init__(
        self, variant: int = 1, sites: list[SiteSpec] | None = None, first_address: int = 10
    ) -> None:
        self.sites = sites if sites is not None else build_sites(variant)
        self.first_address = first_address
        self.servers: dict[str, _Server] = {}
        self.threads: list[threading.Thread] = []
        self.dead_seeds: list[str] = []

    def start(self) -> FixtureWeb:
        octet = self.first_address
        for site in self.sites:
            server = None
            while server is None and octet < 250:
                server = _bind(f"127.0.0.{octet}")
                octet += 1
            if server is None:
                server = _bind("127.0.0.1")
            assert server is not None
            server.site = site
            server.hits = []
            host, port = server.server_address[:2]
            self.servers[f"http://{host}:{port}/"] = server
            thread = threading.Thread(
                target=server.serve_forever, name=f"fixture-{site.name}", daemon=True
            )
            thread.start()
            self.threads.append(thread)
        self.dead_seeds = [f"http://127.0.0.1:{_free_port()}/"]
        bind_peers(self)
        return self

    def close(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
        self.servers.clear()

    def __enter__(self) -> FixtureWeb:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def seeds(self) -> list[str]:
        return list(self.servers)

    def site_urls(self) -> Iterator[tuple[str, SiteSpec]]:
        for url, server in self.servers.items():
            yield url, server.site

    def base_of(self, name: str) -> str:
        for url, site in self.site_urls():
            if site.name == name:
                return url
        raise KeyError(name)

    def switch(self, variant: int) -> None:
        """Change what every site serves (e.g. one site cleaned, another hijacked)."""
        fresh = {site.name: site for site in build_sites(variant)}
        for server in self.servers.values():
            server.site = fresh.get(server.site.name, server.site)
        bind_peers(self)

    def hits(self, name: str) -> list[tuple[str, str, str, str]]:
        for server in self.servers.values():
            if server.site.name == name:
                return list(server.hits)
        raise KeyError(name)

    def expected_verdicts(self) -> dict[tuple[str, str], str]:
        """(site base URL, path) -> the verdict a browser-profile fetch must get."""
        return {
            (url, path): page.expect
            for url, site in self.site_urls()
            for path, page in site.pages.items()
            if page.expect
        }

    def write_seeds(self, path: str, extra: list[str] | None = None) -> None:
        lines = [
            "# fixture web seeds, written by hijackwatch.demo",
            *self.seeds,
            *self.dead_seeds,
            *(extra or []),
        ]
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
