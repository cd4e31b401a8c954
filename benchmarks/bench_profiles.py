"""What visitor profiles cost: the same local web crawled with profiles off, sample and all.

Serves bench_crawl's generated web (real corpus pages wired together, a few hijacked)
on 127.0.0.x, runs the full hijackwatch crawl (detection, cloaking, storage to SQLite)
three times in one run, each in its own process, and prints requests per page,
pages/s and the ratio of each against profiles off. External scripts are fetched
only from 127.0.0.0/8 and the crawl is loopback-only (corpus pages reference real CDNs).

    .venv/bin/python benchmarks/bench_profiles.py [--pages 120] [--sites 3] [--sample 5]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_crawl import REPO, start_web

MODES = ("off", "sample", "all")


def run_crawl(mode: str, seeds: list[str], db: str, out: str, sample: int) -> None:
    """Child process: one crawl with HIJACKWATCH_PROFILE_MODE=mode, stats as JSON."""
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.settings import Settings

    from hijackwatch.spiders.hijack import HijackSpider
    from hijackwatch.storage import Database

    Database(db).ensure_schema()
    settings = Settings()
    settings.setmodule("hijackwatch.settings", priority="project")
    settings.setdict(
        {
            "LOG_LEVEL": "WARNING",
            "HIJACKWATCH_MAX_PAGES": 10**6,
            "HIJACKWATCH_MAX_DEPTH": 1000,
            "HIJACKWATCH_PROGRESS_INTERVAL": 0,
            "HIJACKWATCH_PROFILE_MODE": mode,
            "HIJACKWATCH_PROFILE_SAMPLE": sample,
            "HIJACKWATCH_SCRIPT_ALLOW_HOSTS": ["127.0.0.0/8"],
            "HIJACKWATCH_LOOPBACK_ONLY": True,
            "HIJACKWATCH_SEED_LIST": seeds,
            "HIJACKWATCH_DB_URL": db,
        },
        priority="cmdline",
    )
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(HijackSpider)
    process.crawl(crawler)
    t0 = time.perf_counter()
    process.start()
    elapsed = time.perf_counter() - t0
    stats = crawler.stats.get_stats() if crawler.stats else {}
    Path(out).write_text(
        json.dumps(
            {
                "seconds": elapsed,
                "requests": stats.get("downloader/request_count", 0),
                "profile_requests": stats.get("hijackwatch/profile_requests", 0),
                "script_requests": stats.get("hijackwatch/script_requests", 0),
                "reused": stats.get("hijackwatch/analyses_reused", 0),
                # a stalled request (retried after DOWNLOAD_TIMEOUT) skews the figures
                "trouble": {
                    k: v
                    for k, v in stats.items()
                    if k.startswith(("retry/", "downloader/exception_type_count/"))
                },
            }
        )
    )


def page_counts(db: str) -> tuple[int, int, int]:
    """(distinct pages, page rows, hijacked rows) of the crawl in ``db``."""
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        pages, rows, bad = conn.execute(
            "SELECT count(DISTINCT url), count(*), sum(verdict = 'hijacked') FROM pages"
        ).fetchone()
    return int(pages), int(rows), int(bad or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=120, help="linked pages in the whole web")
    parser.add_argument("--sites", type=int, default=3)
    parser.add_argument("--sample", type=int, default=5, help="HIJACKWATCH_PROFILE_SAMPLE")
    parser.add_argument(
        "--child", nargs=4, metavar=("MODE", "SEEDS", "DB", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        mode, seeds, db, out = args.child
        run_crawl(mode, json.loads(seeds), db, out, args.sample)
        return

    per_site = args.pages // args.sites
    servers, seeds, _ = start_web(args.sites, per_site, random.Random(11), first_host=160)
    print(f"web: {args.sites} sites, {per_site * args.sites} pages; sample size {args.sample}")
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mode in MODES:
                out, db = f"{tmp}/{mode}.json", f"sqlite:///{tmp}/{mode}.db"
                used = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--sample",
                        str(args.sample),
                        "--child",
                        mode,
                        json.dumps(seeds),
                        db,
                        out,
                    ],
                    check=True,
                    cwd=REPO,
                )
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                r = json.loads(Path(out).read_text())
                # the crawl process and its detection workers (reaped by it): CPU seconds
                r["cpu"] = (after.ru_utime + after.ru_stime) - (used.ru_utime + used.ru_stime)
                r["pages"], r["rows"], r["hijacked_rows"] = page_counts(db)
                if not r["pages"]:
                    raise SystemExit(f"the {mode} crawl stored no pages: see its log above")
                results[mode] = r
    finally:
        for proc in servers:
            proc.terminate()
    off = results["off"]
    off_rate = off["pages"] / off["seconds"]
    print(
        f"{'mode':7s} {'pages':>6s} {'rows':>6s} {'requests':>9s} {'req/page':>9s} "
        f"{'seconds':>8s} {'pages/s':>8s} {'req/page ratio':>15s} {'pages/s ratio':>14s} "
        f"{'CPU s':>6s}"
    )
    for mode in MODES:
        r = results[mode]
        rate = r["pages"] / r["seconds"]
        per_page = r["requests"] / r["pages"]
        print(
            f"{mode:7s} {r['pages']:6d} {r['rows']:6d} {r['requests']:9d} {per_page:9.2f} "
            f"{r['seconds']:8.2f} {rate:8.1f} {per_page / (off['requests'] / off['pages']):15.2f} "
            f"{rate / off_rate:14.2f} {r['cpu']:6.1f}"
        )
    for mode in MODES:
        if results[mode]["reused"]:
            print(
                f"{mode}: {results[mode]['reused']} of {results[mode]['rows']} views reused "
                "the analysis of an identical view"
            )
    for mode in MODES:
        if results[mode]["trouble"]:
            print(f"{mode}: requests retried or failed: {results[mode]['trouble']}")


if __name__ == "__main__":
    main()
