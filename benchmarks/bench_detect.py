"""Full analysis time per page next to lxml's bare parse time of the same page.

Pages: the labelled corpus (tests/corpus) and the shared benign pages, 30-100 KB each.
"Cold" clears the library's per-content caches (stylesheets, styles, link domains)
before every run, as for the first page of a site; "warm" keeps them, as for the
next pages of a site sharing its template. The target is judged on cold.
The text fingerprint (simhash) is computed only when a view is compared with
another for cloaking; its cost is printed on its own line.
Run: ``.venv/bin/python benchmarks/bench_detect.py [--repeat N] [--profile]``
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hijackwatch.detect import ViewSummary, analyse, clear_caches  # noqa: E402

MIN_BYTES = 30 * 1024
MAX_BYTES = 100 * 1024
SOURCES = (REPO / "tests" / "corpus", REPO.parent / "shared" / "corpus" / "benign")


def pages() -> list[Path]:
    found = []
    for root in SOURCES:
        for path in sorted(root.rglob("*.html")):
            if MIN_BYTES <= path.stat().st_size <= MAX_BYTES:
                found.append(path)
    return found


def timed(fn: Callable[[Any], object], arg: Any) -> float:
    started = time.perf_counter()
    fn(arg)
    return time.perf_counter() - started


def page_times(body: bytes, repeat: int) -> tuple[float, float, float, float]:
    """Median (cold, warm, bare parse, fingerprint) seconds for one page.

    The three are interleaved, run after run: this machine's speed drifts (a shared
    VM), and timing them one after another let the drift into the ratio.
    """
    cold, warm, bare, fingerprint = [], [], [], []
    for _ in range(repeat):
        clear_caches()
        cold.append(timed(analyse, body))
        warm.append(timed(analyse, body))  # the caches now hold this page's stylesheets
        bare.append(timed(lxml_parse, body))
        fingerprint.append(timed(fingerprint_of, analyse(body).summary))
    return (
        statistics.median(cold),
        statistics.median(warm),
        statistics.median(bare),
        statistics.median(fingerprint),
    )


def fingerprint_of(summary: ViewSummary) -> int:
    return summary.simhash  # computed on first read


def lxml_parse(body: bytes) -> None:
    etree.fromstring(body, etree.HTMLParser())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per page (median)")
    parser.add_argument("--profile", action="store_true", help="cProfile one pass, top 25")
    args = parser.parse_args()

    files = pages()
    if not files:
        print("no pages of 30-100 KB found", file=sys.stderr)
        return 1
    bodies = [p.read_bytes() for p in files]
    for body in bodies:  # warm caches (lexicon, OpenCC, tldextract)
        analyse(body)
    times = [page_times(b, args.repeat) for b in bodies]
    full, warm, bare, fingerprint = ([t[i] for t in times] for i in range(4))
    size = statistics.median(len(b) for b in bodies)
    ratios = [f / p for f, p in zip(full, bare, strict=True)]
    parse_ms = statistics.median(bare) * 1000
    full_ms = statistics.median(full) * 1000
    warm_ms = statistics.median(warm) * 1000
    print(f"pages: {len(files)} (30-100 KB, median {size / 1024:.0f} KB), {args.repeat} runs each")
    print(f"median lxml parse per page:          {parse_ms:.2f} ms")
    print(f"median full analysis per page, cold: {full_ms:.2f} ms  ({full_ms / parse_ms:.2f}x)")
    print(f"median full analysis per page, warm: {warm_ms:.2f} ms  ({warm_ms / parse_ms:.2f}x)")
    print(f"median per-page ratio, cold:         {statistics.median(ratios):.2f}x")
    fp_ms = statistics.median(fingerprint) * 1000
    print(f"median text fingerprint, on demand:  {fp_ms:.2f} ms  ({fp_ms / parse_ms:.2f}x)")
    # The labelled corpus is generated (spam-heavy, CJK/Thai-heavy text, little markup);
    # the shared benign pages are real sites. Both shown, so neither hides the other.
    for label, root in (
        ("real pages (shared benign)", SOURCES[1]),
        ("generated corpus", SOURCES[0]),
    ):
        idx = [i for i, f in enumerate(files) if f.is_relative_to(root)]
        if idx:
            sub_full = statistics.median(full[i] for i in idx)
            sub_bare = statistics.median(bare[i] for i in idx)
            print(
                f"  {label}: {len(idx)} pages, parse {sub_bare * 1000:.2f} ms, cold "
                f"{sub_full * 1000:.2f} ms ({sub_full / sub_bare:.2f}x)"
            )
    worst = max(range(len(files)), key=lambda i: ratios[i])
    print(f"slowest ratio: {ratios[worst]:.1f}x  {files[worst].relative_to(REPO.parent)}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for body in bodies:
            analyse(body)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
