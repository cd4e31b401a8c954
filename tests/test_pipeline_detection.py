"""DetectionPipeline with real worker processes: a dead worker must not cost any page its row."""

from __future__ import annotations

import asyncio
import multiprocessing.connection
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.test import get_crawler

from hijackwatch.detect import Analysis, analyse
from hijackwatch.detect.analysis import _WARM_UP_PAGE
from hijackwatch.items import PageItem
from hijackwatch.pipelines.detection import (
    CLOSE_WAIT,
    PARENT_POLL,
    SLOTS,
    DetectionPipeline,
    _analyse,
)
from hijackwatch.spiders.hijack import HijackSpider
from tests.conftest import REPO, SEED_PAGE


def _pipeline(
    cls: type[DetectionPipeline] = DetectionPipeline, workers: int = 1, **settings: Any
) -> tuple[Any, Any]:
    crawler = get_crawler(HijackSpider, {"HIJACKWATCH_DETECT_WORKERS": workers, **settings})
    crawler.stats.open_spider()
    return cls.from_crawler(crawler), crawler.stats


@pytest.mark.parametrize("mode", ["all", "off"])
def test_summaries_leave_the_worker_without_their_text(mode: str) -> None:
    """A crawl holds thousands of summaries (cloaking baselines, the reuse cache): the
    kept text is dropped in the worker, the fingerprint computed there when views are
    compared (profiles on) and skipped when they never are."""
    pipeline, _ = _pipeline(HIJACKWATCH_PROFILE_MODE=mode)
    item = PageItem(
        url="http://127.0.0.1/", site="127.0.0.1", status=200, body=SEED_PAGE.read_bytes()
    )

    summary = process_one(pipeline, item).summary
    assert summary.main_text == "" and summary.text_length > 1000
    assert (summary._simhash is not None) == (mode == "all")
    if mode == "all":
        assert summary.simhash == analyse(SEED_PAGE.read_bytes(), item.url).summary.simhash != 0


def process_one(pipeline: DetectionPipeline, item: PageItem) -> PageItem:
    """One item through a freshly opened pipeline, closed afterwards."""

    async def run() -> PageItem:
        pipeline.open_spider()
        try:
            return await pipeline.process_item(item)
        finally:
            pipeline.close_spider()

    return asyncio.run(run())


def _slots_taken(pipeline: DetectionPipeline) -> int:
    assert pipeline.starts is not None
    return SLOTS - pipeline.starts.free.qsize()


def _loop_errors() -> list[dict[str, Any]]:
    """What the running loop would only log (an error in a callback, a lost exception)."""
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    return errors


def test_pages_in_flight_when_a_worker_dies_all_get_analysed() -> None:
    """Every page waiting on the broken pool retries in one fresh pool (not one pool each,
    which would cancel the other pages' retries and drop their items)."""
    pipeline, stats = _pipeline()
    body = SEED_PAGE.read_bytes()

    async def run() -> list[PageItem]:
        pipeline.open_spider()
        assert pipeline.executor is not None
        await asyncio.wrap_future(pipeline.executor.submit(abs, 1))  # the worker is up
        pipeline.executor.submit(os._exit, 1)  # ...and dies: the pool breaks
        items = [
            PageItem(url=f"http://127.0.0.1/{n}.html", site="127.0.0.1", status=200, body=body)
            for n in range(4)
        ]
        try:
            return list(await asyncio.gather(*(pipeline.process_item(i) for i in items)))
        finally:
            pipeline.close_spider()

    results = asyncio.run(run())
    assert [item.verdict for item in results] == ["hijacked"] * 4
    assert all(item.error is None and item.findings for item in results)
    assert stats.get_value("hijackwatch/detect_pool_restarts") == 1


def _stuck(*_args: object) -> None:
    """A worker that ignores SIGALRM and never returns: only a kill ends it."""
    import signal
    import time

    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(3600)


def test_a_page_past_the_time_limit_is_kept_with_an_error() -> None:
    """The worker interrupts its own analysis (SIGALRM) and the page keeps its row."""
    pipeline, stats = _pipeline()
    pipeline.timeout = 0.001  # no real page is analysed that fast
    item = PageItem(url="http://127.0.0.1/a.html", site="127.0.0.1", status=200)
    item.body = SEED_PAGE.read_bytes() * 8

    result = process_one(pipeline, item)
    assert result.verdict == "error"
    assert result.error == "analysis did not finish within 0.001 s"
    assert stats.get_value("hijackwatch/analysis_timeouts") == 1
    assert not stats.get_value("hijackwatch/detect_pool_restarts")


def test_a_stuck_worker_is_killed_and_the_pages_in_flight_still_analysed() -> None:
    pipeline, stats = _pipeline()
    pipeline.timeout = 0.5  # hard limit: 0.5 * 2 + 5 s
    body = SEED_PAGE.read_bytes()

    async def run() -> tuple[BaseException | None, list[PageItem]]:
        errors = _loop_errors()
        pipeline.open_spider()
        try:
            stuck = asyncio.ensure_future(pipeline._run(_stuck))
            await asyncio.sleep(0.5)  # the only worker is now stuck
            items = [
                PageItem(url=f"http://127.0.0.1/{n}.html", site="127.0.0.1", status=200, body=body)
                for n in range(4)  # more than the call queue holds: some wait in the pool
            ]
            done = await asyncio.gather(*(pipeline.process_item(i) for i in items))
            error = None
            try:
                await stuck
            except Exception as exc:
                error = exc
            await asyncio.sleep(0.1)  # the killed pool's last callbacks reach the loop
            assert (_slots_taken(pipeline), errors) == (0, [])
            return error, list(done)
        finally:
            pipeline.close_spider()

    error, results = asyncio.run(run())
    assert type(error).__name__ == "AnalysisTimeout"
    assert [item.verdict for item in results] == ["hijacked"] * 4
    assert stats.get_value("hijackwatch/detect_pool_restarts") == 1


SLOW = 0.7  # seconds: legal under a 1 s limit, and a dozen of them is past the 7 s hard limit


def _slow_analyse(body: bytes, url: str, encoding: str | None, timeout: float) -> Analysis:
    """A page that takes most of its time limit (a big page on a busy machine)."""
    time.sleep(SLOW)
    return _analyse(body, url, encoding, timeout)


class _SlowPipeline(DetectionPipeline):
    async def _analyse(
        self, body: bytes, url: str, encoding: str | None, refresh: str | None = None
    ) -> Analysis:
        return await self._run(_slow_analyse, body, url, encoding, self.timeout)


def test_a_backlog_of_slow_pages_is_not_mistaken_for_a_stuck_worker() -> None:
    """Time spent waiting for a worker does not count against the hard limit: a queue of
    legal pages longer than that limit is all analysed, and nothing is killed."""
    pipeline, stats = _pipeline(_SlowPipeline)
    pipeline.timeout = 1.0  # hard limit: 1 * 2 + 5 s; the last page is done ~9 s after the first
    body = SEED_PAGE.read_bytes()
    items = [
        PageItem(url=f"http://127.0.0.1/{n}.html", site="127.0.0.1", status=200, body=body)
        for n in range(12)
    ]

    async def run() -> list[PageItem]:
        pipeline.open_spider()
        try:
            return list(await asyncio.gather(*(pipeline.process_item(i) for i in items)))
        finally:
            pipeline.close_spider()

    results = asyncio.run(run())
    assert [(item.verdict, item.error) for item in results] == [("hijacked", None)] * 12
    assert not stats.get_value("hijackwatch/detect_pool_restarts")
    assert not stats.get_value("hijackwatch/analysis_timeouts")


def test_every_way_out_gives_the_page_slot_back() -> None:
    """A failed page and cancelled ones: none keeps its start-time slot, but one the worker
    has already taken holds it until the worker is done (a page cancelled while still queued
    in the pool is dropped from it at once)."""
    pipeline, _ = _pipeline()
    pipeline.timeout = 5.0

    async def run() -> None:
        errors = _loop_errors()
        pipeline.open_spider()
        try:
            with pytest.raises(ZeroDivisionError):
                await pipeline._run(divmod, 1, 0)
            assert _slots_taken(pipeline) == 0
            pages = [asyncio.ensure_future(pipeline._run(time.sleep, 0.5)) for _ in range(3)]
            await asyncio.sleep(0.2)  # one runs, the others are queued
            for task in pages:
                task.cancel()
            await asyncio.gather(*pages, return_exceptions=True)
            assert _slots_taken(pipeline) >= 1  # the running page's at least
            assert await asyncio.wait_for(pipeline._run(abs, -3), 10) == 3
            await asyncio.sleep(0.1)  # the settled pages' callbacks reach the loop
            assert (_slots_taken(pipeline), errors) == (0, [])
        finally:
            pipeline.close_spider()

    asyncio.run(run())


def test_a_thread_past_the_hard_limit_is_written_off_and_the_queue_is_not_timed() -> None:
    """A thread cannot be killed: its page is kept with an error at the hard limit and the
    thread left behind for fresh ones; a page queued behind it, while a thread may still
    come back (less than the hard limit plus the grace), is still analysed."""
    pipeline, stats = _pipeline(workers=0)
    pipeline.timeout = 0.05  # hard limit: 0.05 * 2 + 5 s
    release = threading.Event()

    async def run() -> tuple[list[object], object]:
        pipeline.open_spider()
        try:
            stuck = [asyncio.ensure_future(pipeline._run(release.wait, 60)) for _ in range(2)]
            await asyncio.sleep(0.1)  # both threads are taken
            queued = asyncio.ensure_future(pipeline._run(abs, -1))
            outcomes = await asyncio.gather(*stuck, return_exceptions=True)
            await asyncio.sleep(0.5)  # the queued page is past its hard limit too, if timed
            release.set()
            return list(outcomes), await queued
        finally:
            release.set()
            pipeline.close_spider()

    outcomes, result = asyncio.run(run())
    assert [type(error).__name__ for error in outcomes] == ["AnalysisTimeout"] * 2
    assert result == 1
    assert stats.get_value("hijackwatch/detect_pool_restarts") == 1


def test_pages_queued_behind_threads_stuck_for_good_move_to_fresh_threads() -> None:
    """With every thread stuck, their pages are written off at the hard limit and fresh
    threads started; a page queued behind them moves to the fresh threads once no old
    thread has started a page for the hard limit plus the grace (else it would wait for
    good), later pages go straight to them, and closing does not wait for the stuck ones."""
    pipeline, stats = _pipeline(workers=0)
    pipeline.timeout = 0.05  # hard limit: 0.05 * 2 + 5 s; a page no thread starts: + 5 s
    release = threading.Event()
    item = PageItem(url="http://127.0.0.1/q.html", site="127.0.0.1", status=200)
    item.body = SEED_PAGE.read_bytes()

    later = PageItem(url="http://127.0.0.1/later.html", site="127.0.0.1", status=200)
    later.body = item.body

    async def run() -> tuple[PageItem, float, PageItem, float, float]:
        pipeline.open_spider()
        try:
            stuck = [asyncio.ensure_future(pipeline._run(release.wait, 60)) for _ in range(2)]
            await asyncio.sleep(0.1)  # both threads are taken, for good
            began = time.monotonic()
            queued = await asyncio.wait_for(pipeline.process_item(item), 20)
            waited = time.monotonic() - began
            await asyncio.gather(*stuck, return_exceptions=True)
            began = time.monotonic()
            analysed = await asyncio.wait_for(pipeline.process_item(later), 20)
            fresh = time.monotonic() - began
        finally:
            began = time.monotonic()
            pipeline.close_spider()
            closing = time.monotonic() - began
        return queued, waited, analysed, fresh, closing

    try:
        result, waited, analysed, fresh, closing = asyncio.run(run())
        threads = [t for t in threading.enumerate() if t.name.startswith("hijackwatch-detect")]
        assert len(threads) == 2 and all(t.daemon for t in threads)  # still stuck, left behind
    finally:
        release.set()
    assert (result.verdict, result.error) == ("hijacked", None)
    assert 9.5 < waited < 13
    assert (analysed.verdict, analysed.error) == ("hijacked", None) and fresh < 3
    assert stats.get_value("hijackwatch/detect_pool_restarts") == 1
    assert closing < CLOSE_WAIT + 1
    assert not stats.get_value("hijackwatch/analysis_timeouts")  # no page of the crawl lost


HANG = "HIJACKWATCH_TEST_HANG_WORKER_START"


def _hang_starting() -> None:
    """A worker process hung starting up (a deadlock in a library's init), when spawned
    while the test sets HIJACKWATCH_TEST_HANG_WORKER_START."""
    if os.environ.get(HANG):
        time.sleep(60)


class _HangingPipeline(DetectionPipeline):
    worker_initializer = staticmethod(_hang_starting)


def _pages(count: int, name: str = "p") -> list[PageItem]:
    body = SEED_PAGE.read_bytes()
    return [
        PageItem(url=f"http://127.0.0.1/{name}{n}.html", site="127.0.0.1", status=200, body=body)
        for n in range(count)
    ]


def test_a_worker_hung_starting_up_is_killed_and_the_pool_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No page ever starts in a pool whose only worker hangs before its first page: once
    none has for the hard limit plus the grace, the first page found waiting is kept with
    an error, the pool killed and replaced, and the other pages analysed in the new one."""
    pipeline, stats = _pipeline(_HangingPipeline)
    pipeline.timeout = 0.5  # hard limit: 0.5 * 2 + 5 s; a page no worker starts: + 5 s
    monkeypatch.setenv(HANG, "1")

    async def run() -> tuple[list[PageItem], PageItem, float]:
        pipeline.open_spider()
        try:
            began = time.monotonic()
            pages = [asyncio.ensure_future(pipeline.process_item(i)) for i in _pages(3)]
            await asyncio.sleep(0.3)  # the pool's worker is spawned, and hangs
            monkeypatch.delenv(HANG)  # the next pool's starts
            done = list(await asyncio.wait_for(asyncio.gather(*pages), 30))
            elapsed = time.monotonic() - began
            return done, await pipeline.process_item(_pages(1, "later")[0]), elapsed
        finally:
            pipeline.close_spider()

    results, later, elapsed = asyncio.run(run())
    assert sorted((item.verdict, item.error) for item in results) == [
        ("error", "analysis did not start: no detection worker started a page for 11 s"),
        ("hijacked", None),
        ("hijacked", None),
    ]
    assert later.verdict == "hijacked"
    assert 10.5 < elapsed < 20
    assert stats.get_value("hijackwatch/detect_pool_restarts") == 1


def test_a_worker_hung_starting_up_beside_a_working_one_is_killed_at_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While another worker keeps starting pages nothing waiting is given up on; the hung
    one never takes the pool's goodbye, and closing kills it instead of waiting for it."""
    pipeline, stats = _pipeline(_HangingPipeline, workers=2)
    pipeline.timeout = 0.5
    monkeypatch.setenv(HANG, "1")

    async def run() -> tuple[list[PageItem], list[Any], float]:
        pipeline.open_spider()
        try:
            first = asyncio.ensure_future(pipeline.process_item(_pages(1, "first")[0]))
            await asyncio.sleep(0.3)  # the first worker is spawned, and hangs
            monkeypatch.delenv(HANG)  # the second, spawned for the next page, does not
            done = await asyncio.wait_for(
                asyncio.gather(first, *map(pipeline.process_item, _pages(3))), 30
            )
            processes = list(pipeline.executor._processes.values())  # type: ignore[union-attr]
        finally:
            began = time.monotonic()
            pipeline.close_spider()
            closing = time.monotonic() - began
        return list(done), processes, closing

    results, processes, closing = asyncio.run(run())
    assert [(item.verdict, item.error) for item in results] == [("hijacked", None)] * 4
    # Exited, by their sentinels: is_alive() can say True for a process the pool's manager
    # thread reaped a moment before (its waitpid wins, ours gets ECHILD).
    assert len(processes) == 2
    assert len(multiprocessing.connection.wait([p.sentinel for p in processes], 5)) == 2
    assert closing < CLOSE_WAIT + 1
    assert not stats.get_value("hijackwatch/detect_pool_restarts")


class _CountingPipeline(DetectionPipeline):
    analysed = 0

    async def _analyse(
        self, body: bytes, url: str, encoding: str | None, refresh: str | None = None
    ) -> Analysis:
        type(self).analysed += 1
        return await super()._analyse(body, url, encoding, refresh)


def test_identical_views_of_a_page_are_analysed_once() -> None:
    """Profiles fetch each URL several times; the same bytes get the same analysis."""
    pipeline, stats = _pipeline(_CountingPipeline)
    body = SEED_PAGE.read_bytes()
    url = "http://127.0.0.1/a.html"

    def view(profile: str, data: bytes, at: str = url, encoding: str | None = None) -> PageItem:
        return PageItem(
            url=at, site="127.0.0.1", profile=profile, status=200, body=data, encoding=encoding
        )

    async def run() -> list[PageItem]:
        pipeline.open_spider()
        try:
            first = await pipeline.process_item(view("browser", body))
            same = [await pipeline.process_item(view(p, body)) for p in ("googlebot", "baidu")]
            other = [
                await pipeline.process_item(view("googlebot", body + b"<p>x</p>")),
                await pipeline.process_item(view("browser", body, at=url + "?b")),
                await pipeline.process_item(view("baidu", body, encoding="gbk")),
            ]
            return [first, *same, *other]
        finally:
            pipeline.close_spider()

    first, *same, other_body, other_url, other_encoding = asyncio.run(run())
    assert _CountingPipeline.analysed == 4  # the two identical views reused the first
    assert stats.get_value("hijackwatch/analyses_reused") == 2
    assert first.verdict == "hijacked" and first.findings
    for item in same:
        assert (item.verdict, item.score, item.title) == (first.verdict, first.score, first.title)
        assert item.findings == first.findings and item.findings is not first.findings
        assert item.summary == first.summary
    assert other_body.verdict == "hijacked" and other_url.verdict == "hijacked"
    assert other_encoding.findings  # analysed on its own (another declared encoding)


# The crawl process, as far as its detection pool goes: it prints the pids of its worker
# and of multiprocessing's resource tracker, then waits to be killed.
POOL_OWNER = """
import os, time
from multiprocessing import resource_tracker
from tests.test_pipeline_detection import _pipeline
pipeline, _ = _pipeline()
pipeline.open_spider()
worker = pipeline.executor.submit(os.getpid).result()
print(worker, resource_tracker._resource_tracker._pid, flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    """No such process, or a zombie (whoever adopted it may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_a_worker_exits_when_its_crawl_process_is_killed() -> None:
    """SIGKILL of the crawl (the OOM killer, `timeout -s KILL`) left its worker (~80 MB)
    and the resource tracker running forever: the worker holds both ends of its queue's
    pipe, so it never sees EOF."""
    owner = subprocess.Popen(
        [sys.executable, "-c", POOL_OWNER], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    pids: list[int] = []
    try:
        assert owner.stdout is not None
        pids = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(pids) == 2 and not any(_gone(pid) for pid in pids)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 3 * PARENT_POLL + 2
        while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in pids if not _gone(pid)] == []
    finally:
        owner.kill()
        owner.wait(10)
        for pid in pids:  # left behind by a failure: the worker and the tracker we started
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_warm_up_page_reaches_every_lazily_built_table() -> None:
    """A worker builds the lexicons of each script, OpenCC and the suffix trie before
    its first page's time limit runs: the warm-up page must pass through all of them."""
    analysis = analyse(_WARM_UP_PAGE, "https://www.example.gov.cn/")
    assert {"title_injection", "script_redirect"} <= {f.kind for f in analysis.findings}
    terms = set(analysis.summary.spam_terms)
    # Latin, Vietnamese, Thai, Japanese, and Traditional Chinese folded to Simplified
    assert {"slot gacor", "nhà cái", "สล็อต", "スーパーコピー", "体育平台"} <= terms
