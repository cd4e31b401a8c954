"""Crawl throughput: a do-nothing link-following spider vs the full hijackwatch pipeline.

Serves a generated local web (realistic pages: the shared benign corpus and the
project's test corpus, wired together with same-site links; a few hijacked pages
among them) on 127.0.0.x, crawls it three times in one run and prints pages/s of
each: the lean baseline, hijackwatch without its DetectionPipeline (pages stored
unanalysed) and the full hijackwatch pipeline. Full vs no-detection tells whether
detection is the crawl's bottleneck. Each crawl runs in its own process (Twisted's
reactor runs once).

    .venv/bin/python benchmarks/bench_crawl.py [--pages 3000] [--sites 6]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import re
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

REPO = Path(__file__).resolve().parent.parent
SOURCES = [REPO.parent / "shared" / "corpus" / "benign", REPO / "tests" / "corpus"]
HREF = re.compile(rb"""href\s*=\s*(?:"[^"]*"|'[^']*')""", re.IGNORECASE)
SEED_PAGE = REPO.parent / "shared" / "samples" / "seed-page.html"


def load_templates() -> tuple[list[bytes], list[bytes]]:
    clean: list[bytes] = []
    hijacked: list[bytes] = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.html")):
            data = path.read_bytes()
            (hijacked if "hijacked" in path.parts else clean).append(data)
    if SEED_PAGE.exists():
        hijacked.append(SEED_PAGE.read_bytes())
    if not clean:
        raise SystemExit("no corpus pages found to build the benchmark web from")
    return clean, hijacked


def build_site(
    n_pages: int, clean: list[bytes], hijacked: list[bytes], rnd: random.Random
) -> dict[str, bytes]:
    """Pages keyed by path; each links to a handful of others so a crawl reaches them all."""
    pages: dict[str, bytes] = {}

    def relink(match: re.Match[bytes]) -> bytes:
        return b'href="/p/%d.html"' % rnd.randrange(n_pages)

    for i in range(n_pages):
        body = rnd.choice(hijacked) if hijacked and rnd.random() < 0.05 else rnd.choice(clean)
        body = HREF.sub(relink, body)  # the template's own links stay inside this web
        links = {i + 1, i + 2, *(rnd.randrange(n_pages) for _ in range(6))}
        nav = "".join(f'<a href="/p/{j}.html">page {j}</a> ' for j in sorted(links) if j < n_pages)
        block = f'<div class="bench-nav">{nav}</div>'.encode()
        cut = body.rfind(b"</body>")
        body = body[:cut] + block + body[cut:] if cut >= 0 else body + block
        pages["/" if i == 0 else f"/p/{i}.html"] = body
    pages["/p/0.html"] = pages["/"]
    return pages


def serve(host: str, pages: dict[str, bytes], ready: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0])
            status = 200 if body is not None else 404
            body = body if body is not None else b"<html><body>404</body></html>"
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    ready.send(server.server_address[1])
    server.serve_forever()


def start_web(
    sites: int, per_site: int, rnd: random.Random, first_host: int
) -> tuple[list[Any], list[str], int]:
    """Serve ``sites`` generated sites on 127.0.0.{first_host}...: (servers, seeds, bytes)."""
    clean, hijacked = load_templates()
    ctx = multiprocessing.get_context("fork")
    servers, seeds = [], []
    total_bytes = 0
    for n in range(sites):
        pages = build_site(per_site, clean, hijacked, rnd)
        total_bytes += sum(len(b) for b in pages.values())
        host = f"127.0.0.{first_host + n}"
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=serve, args=(host, pages, child), daemon=True)
        proc.start()
        servers.append(proc)
        seeds.append(f"http://{host}:{parent.recv()}/")
    return servers, seeds, total_bytes


def run_crawl(mode: str, seeds: list[str], db: str, out: str, per_site: int) -> None:
    """Child process: one crawl, stats as JSON."""
    from scrapy import Request, Spider
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.settings import Settings

    from hijackwatch.seeds import parse_seeds
    from hijackwatch.spiders.hijack import HijackSpider

    settings = Settings()
    settings.setmodule("hijackwatch.settings", priority="project")
    common = {
        "LOG_LEVEL": "WARNING",
        "HIJACKWATCH_MAX_PAGES": per_site,
        "HIJACKWATCH_MAX_DEPTH": 1000,
        "HIJACKWATCH_PROGRESS_INTERVAL": 0,
        "HIJACKWATCH_PROFILE_MODE": "off",
        "HIJACKWATCH_SEED_LIST": seeds,
        "HIJACKWATCH_DB_URL": db,
        "HIJACKWATCH_LOOPBACK_ONLY": True,  # pages reference the internet: never go there
        # visitor profiles and external scripts multiply requests; bench_profiles.py
        # measures them. Here: one fetch per page, detection + storage on each.
        "HIJACKWATCH_SCRIPTS_ENABLED": False,
    }
    spider_cls: type[Spider]
    if mode == "baseline":

        class LinkSpider(Spider):
            name = "links"

            async def start(self):  # type: ignore[override]
                for seed in parse_seeds(seeds)[0]:
                    yield Request(seed.url)

            seen: ClassVar[set[str]] = set()  # dedupe like HijackSpider: a fair, lean baseline

            def parse(self, response):  # type: ignore[override]
                host = response.url.split("/")[2]
                for href in response.xpath("//a/@href").getall():
                    url = response.urljoin(href).split("#")[0]
                    if url.split("/")[2] == host and url not in self.seen:
                        self.seen.add(url)
                        yield Request(url)

        common.update(
            {
                "ITEM_PIPELINES": {},
                "EXTENSIONS": {},
                "DOWNLOADER_MIDDLEWARES": {},
                "SPIDER_MIDDLEWARES": {},
            }
        )
        spider_cls = LinkSpider
    else:
        if mode == "no-detection":
            pipelines = dict(settings.getdict("ITEM_PIPELINES"))
            pipelines["hijackwatch.pipelines.detection.DetectionPipeline"] = None
            common["ITEM_PIPELINES"] = pipelines
        from hijackwatch.storage import Database

        Database(db).ensure_schema()
        spider_cls = HijackSpider
    settings.setdict(common, priority="cmdline")
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(spider_cls)
    process.crawl(crawler)
    t0 = time.perf_counter()
    process.start()
    elapsed = time.perf_counter() - t0
    stats = crawler.stats.get_stats()
    pages = stats.get("response_received_count", 0)
    Path(out).write_text(
        json.dumps(
            {"pages": pages, "seconds": elapsed, "items": stats.get("item_scraped_count", 0)}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=3000, help="pages in the whole web")
    parser.add_argument("--sites", type=int, default=6)
    parser.add_argument(
        "--child", nargs=4, metavar=("MODE", "SEEDS", "DB", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        mode, seeds, db, out = args.child
        run_crawl(mode, json.loads(seeds), db, out, per_site=10**6)
        return

    per_site = args.pages // args.sites
    servers, seeds, total_bytes = start_web(args.sites, per_site, random.Random(7), first_host=60)
    print(
        f"web: {args.sites} sites, {per_site * args.sites} pages, "
        f"{total_bytes / (per_site * args.sites) / 1024:.0f} KB mean page size"
    )
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mode in ("baseline", "no-detection", "hijackwatch"):
                out = f"{tmp}/{mode}.json"
                db = f"sqlite:///{tmp}/{mode}.db"
                subprocess.run(
                    [sys.executable, __file__, "--child", mode, json.dumps(seeds), db, out],
                    check=True,
                    cwd=REPO,
                )
                results[mode] = json.loads(Path(out).read_text())
                r = results[mode]
                print(
                    f"{mode:13s} {r['pages']:6d} pages in {r['seconds']:7.2f} s = "
                    f"{r['pages'] / r['seconds']:7.1f} pages/s"
                )
    finally:
        for proc in servers:
            proc.terminate()
    base = results["baseline"]["pages"] / results["baseline"]["seconds"]
    bare = results["no-detection"]["pages"] / results["no-detection"]["seconds"]
    full = results["hijackwatch"]["pages"] / results["hijackwatch"]["seconds"]
    print(f"ratio hijackwatch/baseline:     {full / base:.2f}")
    print(f"ratio hijackwatch/no-detection: {full / bare:.2f}  (1.00: detection costs nothing)")


if __name__ == "__main__":
    main()
