"""DetectionPipeline: run the detection library on every fetched page, off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, MutableSequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import wait as mp_wait
from typing import TYPE_CHECKING, Any, ClassVar

from scrapy.utils.datatypes import LocalCache

from hijackwatch.detect import Analysis, analyse, score_findings, warm_up
from hijackwatch.detect.cloaking import offsite_redirect_findings
from hijackwatch.detect.decode import MAX_BYTES
from hijackwatch.items import PageItem
from hijackwatch.middlewares.profiles import profile_mode
from hijackwatch.profiles import BASELINE
from hijackwatch.threads import DaemonThreads

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


# A worker stuck in C code (where SIGALRM cannot interrupt it) is killed this much later.
# A page not started yet is given up on once its pool has started no page at all for the
# hard limit plus this grace again (a stuck page is caught first, on its own clock).
HARD_TIMEOUT_FACTOR = 2.0
HARD_TIMEOUT_GRACE = 5.0
# Pages one pool holds at once, each with its start-time slot; more wait in the event loop.
SLOTS = 8192
LATEST = SLOTS  # the cell after the slots: when the pool last started any page
THREADS = 2  # threads when HIJACKWATCH_DETECT_WORKERS is 0
# Closing waits this long for the workers to leave: the crawl's pages are all settled by
# then, so one still busy is stuck (a process is killed, a thread left behind).
CLOSE_WAIT = 2.0
# A worker whose crawl process died (SIGKILL, the OOM killer) exits within this many s:
# it holds both ends of its own queue's pipe, so it would wait for work forever.
PARENT_POLL = 1.0
# Analyses kept for reuse: the views of one URL (one per visitor profile) arrive close
# together, and most sites send every visitor the same bytes.
REUSE_ENTRIES = 1024


class AnalysisTimeout(Exception):
    """One page's analysis ran past HIJACKWATCH_DETECT_TIMEOUT."""


def default_workers() -> int:
    """Processes for analysis: all cores but the one the crawl's event loop needs, and
    one even on a single core: only a process can be interrupted or killed when a page
    stalls its analysis (a thread cannot)."""
    return max(1, (os.cpu_count() or 1) - 1)


class DetectionPipeline:
    """Analyses each page body away from the event loop so parsing never stalls the crawl.

    ``HIJACKWATCH_DETECT_WORKERS`` > 0 analyses in that many worker processes (real
    parallelism: detection is CPU-bound Python and the GIL would serialise threads);
    0 uses threads (for debugging). A page whose analysis fails or runs past
    ``HIJACKWATCH_DETECT_TIMEOUT`` is kept (verdict ``error`` with the reason): a result is
    never lost because a hostile page broke or stalled a detector, and with worker
    processes a stalled worker never holds up the crawl.

    A worker interrupts its own analysis at the time limit (SIGALRM); one stuck where the
    signal cannot reach it is killed, with its pool, once its page has run for twice the
    time limit plus a grace. The worker notes when it starts each page and that hard limit
    is timed from then, not from the hand-over: a backlog of slow but legal pages waiting
    for a worker is never taken for a stuck one (its pool keeps starting pages). A page
    still waiting after its pool has started no page for the hard limit plus the grace is
    given up on the same way: a worker hung starting up (its initializer, an import, a
    deadlock in a library's init) never starts one. A thread cannot be killed (nor
    interrupted): its page is kept with an error, the thread is left behind (a daemon:
    closing and exit do not wait for it) and fresh threads take the pages queued behind it.
    """

    # run first in each worker process, after the pipeline's own set-up (a test hangs here)
    worker_initializer: ClassVar[Callable[[], None] | None] = None

    def __init__(
        self, stats: StatsCollector, workers: int, timeout: float = 0.0, fingerprint: bool = True
    ) -> None:
        self.stats = stats
        self.workers = workers
        self.timeout = max(0.0, timeout)
        # views are compared (visitor profiles on): the text fingerprint is computed in
        # the worker, not in the event loop when the views meet
        self.fingerprint = fingerprint
        self.executor: Executor | None = None
        self.starts: _Starts | None = None  # the executor's
        # (body digest, URL, declared encoding, Refresh header) -> its analysis: analyse()
        # depends on nothing else, so an identical view gets the identical result
        # without the work
        self._recent: LocalCache[tuple[bytes, str, str | None, str | None], Analysis] = LocalCache(
            REUSE_ENTRIES
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        workers = settings.get("HIJACKWATCH_DETECT_WORKERS")
        return cls(
            crawler.stats,
            default_workers() if workers in (None, "", "auto") else int(workers),
            settings.getfloat("HIJACKWATCH_DETECT_TIMEOUT", 60.0),
            fingerprint=profile_mode(crawler) != "off",
        )

    def open_spider(self) -> None:
        self._open_pool()

    def close_spider(self) -> None:
        executor, self.executor, self.starts = self.executor, None, None
        if executor is None:
            return
        workers = _workers(executor)
        executor.shutdown(wait=False, cancel_futures=False)
        kill = isinstance(executor, ProcessPoolExecutor)
        deadline = time.monotonic() + CLOSE_WAIT
        if kill:
            # By sentinels, not is_alive(): the pool's manager thread joins its processes
            # too, and a process it has just reaped can still look alive to us.
            pending = {worker.sentinel: worker for worker in workers}
            while pending and (left := deadline - time.monotonic()) > 0:
                for ended in mp_wait(list(pending), left):
                    del pending[ended]
            stuck = list(pending.values())
        else:
            for worker in workers:
                worker.join(max(0.0, deadline - time.monotonic()))
            stuck = [worker for worker in workers if worker.is_alive()]
        if stuck:
            logger.error(
                "%d detection worker(s) still busy %g s after the last page: %s",
                len(stuck),
                CLOSE_WAIT,
                "killed" if kill else "left behind (a thread cannot be stopped)",
            )
            for worker in stuck if kill else ():
                worker.kill()
                worker.join(CLOSE_WAIT)  # reaped: no zombie left behind

    def _open_pool(self) -> None:
        if self.workers <= 0:
            self.starts = _Starts([0.0] * (SLOTS + 1), shared=False)
            self.executor = DaemonThreads(THREADS, name="hijackwatch-detect")
            return
        # spawn, not fork: the crawl process runs threads (reactor pool, DB writer)
        context = multiprocessing.get_context("spawn")
        times = context.RawArray("d", SLOTS + 1)  # shared memory, inherited by the workers
        self.starts = _Starts(times, shared=True)
        self.executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(times, os.getpid(), self.worker_initializer),
        )

    async def _analyse(
        self, body: bytes, url: str, encoding: str | None, refresh: str | None = None
    ) -> Analysis:
        return await self._run(
            _analyse, body, url, encoding, self.timeout, self.fingerprint, refresh
        )

    async def _run(self, fn: Callable[..., Analysis], *args: Any, retry: bool = True) -> Analysis:
        """``fn(*args)`` in the pool, with a fresh pool on a dead or stuck worker.

        ``fn`` bounds itself (SIGALRM in a worker process); a worker that does not come
        back even so (stuck inside C code) is killed after a longer hard limit, timed from
        when the worker started on it, and so is a pool that starts no page (``_within``).
        """
        while True:
            if self.executor is None or self.starts is None:
                self._open_pool()
            assert self.executor is not None and self.starts is not None
            executor, starts = self.executor, self.starts
            slot = await starts.take()
            if self.executor is executor:
                break
            starts.give_back(slot)  # waited while that pool was replaced: take the new one's
        hard = self.timeout * HARD_TIMEOUT_FACTOR + HARD_TIMEOUT_GRACE if self.timeout else None
        try:
            try:
                submitted = executor.submit(_stamped, starts.passed, slot, fn, *args)
            except BaseException:
                starts.give_back(slot)
                raise
            future = asyncio.wrap_future(submitted)
            try:
                return await _within(future, starts.times, slot, hard)
            finally:
                # Free the slot when the pool is done with the page, not when this call
                # stops waiting: a cancelled page the pool already passed on to its
                # workers still starts, and stamps the slot.
                if future.done() and not future.cancelled():
                    starts.give_back(slot)
                else:
                    submitted.add_done_callback(starts.releaser(slot, asyncio.get_running_loop()))
        except TimeoutError as exc:
            assert hard is not None
            (started,) = exc.args
            stuck = (
                f"detection worker stuck in a page for {hard:.0f} s"
                if started
                else f"no detection worker started a page for {hard + HARD_TIMEOUT_GRACE:.0f} s"
            )
            threads = not isinstance(executor, ProcessPoolExecutor)
            if threads:
                future.cancel()  # a page queued behind stuck threads is dropped from them
            else:
                # The kill fails every page of the pool, this one too. Not cancelled first:
                # CPython 3.11's pool manager dies failing a page cancelled while queued.
                future.add_done_callback(_dropped)
            if self.executor is not executor and retry and not (threads and started):
                # another page found the pool stuck first and replaced it: this one retries
                # in the new pool (a process pool's kill broke it, it just had not said so;
                # a thread's page never started); a page stuck in a thread is not retried,
                # where it would hold a fresh thread too
                return await self._run(fn, *args, retry=False)
            logger.error(
                "%s; %s",
                stuck,
                "starting fresh threads (a thread cannot be stopped: the stuck one is left behind)"
                if threads
                else "killing and restarting the pool",
            )
            self._replace(executor, kill=True)
            raise AnalysisTimeout(
                f"analysis did not finish within {self.timeout:g} s"
                if started
                else f"analysis did not start: {stuck}"
            ) from None
        except BrokenProcessPool:
            # a worker died (a pathological page exhausting memory, a killed process):
            # start a fresh pool and retry once, so one page cannot end analysis for all.
            if not retry:
                raise
            if self.executor is executor:
                logger.error("detection worker died; restarting the pool")
            self._replace(executor)
            return await self._run(fn, *args, retry=False)

    def _replace(self, executor: Executor, *, kill: bool = False) -> None:
        # Every page in flight sees the same broken pool; only the first replaces it,
        # or a later one would shut down (and cancel the retries in) the fresh pool.
        if self.executor is not executor:
            return
        self.stats.inc_value("hijackwatch/detect_pool_restarts")
        if kill and isinstance(executor, ProcessPoolExecutor):
            # No public API kills one worker; the pages in flight retry in the new pool.
            for process in _workers(executor):
                process.kill()
        # Not cancel_futures: a cancelled page would raise CancelledError (no retry, no row);
        # the dead pool fails every queued page with BrokenProcessPool, which retries.
        executor.shutdown(wait=False, cancel_futures=False)
        self._open_pool()

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        if item.body is None:
            if item.error:
                item.verdict = "error"
            elif item.profile == BASELINE:
                # an off-site HTTP redirect (the spider keeps no body: the hop is the
                # evidence); one that only some profiles get is cloaking (CloakingPipeline)
                item.findings.extend(offsite_redirect_findings(item.url, item.final_url))
                item.score, item.verdict = score_findings(item.findings)
            return item
        body, url = item.body[:MAX_BYTES], item.final_url or item.url
        # the spider's digest covers the body and its encoding; other views (a crawler
        # served plain text) are hashed here
        digest = item.body_digest or hashlib.blake2b(body, digest_size=16).digest()
        key = (digest, url, item.encoding, item.refresh)
        try:
            analysis = self._recent.get(key)
            if analysis is None:
                # the library reads at most MAX_BYTES: don't ship more to the worker
                analysis = await self._analyse(body, url, item.encoding, item.refresh)
                # kept only once finished: timeouts and failures raise before this
                self._recent[key] = analysis
            else:
                self.stats.inc_value("hijackwatch/analyses_reused")
        except AnalysisTimeout as exc:
            logger.error("analysis of %s stopped: %s", item.url, exc)
            self.stats.inc_value("hijackwatch/analysis_timeouts")
            item.verdict = "error"
            item.error = str(exc)
            return item
        except Exception as exc:  # a detector bug must not cost the page its row
            logger.exception("analysis failed for %s", item.url)
            self.stats.inc_value("hijackwatch/analysis_errors")
            item.verdict = "error"
            item.error = f"analysis failed: {type(exc).__name__}: {exc}"[:500]
            return item
        item.title = analysis.title
        item.score = analysis.score
        item.verdict = analysis.verdict
        if analysis.error and item.depth == 0 and item.profile == BASELINE:
            # a start page nothing could be read from (a download, binary): not clean,
            # or a site that answers only so would pass for checked (as in ``scan``)
            item.score, item.verdict = 0.0, "error"
        # notes the spider's middlewares put on the item (a cut body) stay
        item.findings = [*analysis.findings, *item.findings]
        item.outbound_domains = list(analysis.outbound_domains)
        item.summary = analysis.summary
        if analysis.error and not item.error:
            item.error = analysis.error
        self.stats.inc_value(f"hijackwatch/verdict/{item.verdict}")
        return item


class _Starts:
    """When each page in one pool started to run (0.0: not yet), a slot per page, and
    (cell ``LATEST``) when the pool last started any page.

    The worker writes its page's slot and ``LATEST`` as it starts; the caller reads them
    for the hard limit. time.monotonic() is one system-wide clock, so a worker's stamp and
    the crawl process's clock agree. Slots are taken and given back in the event loop only.
    """

    def __init__(self, times: MutableSequence[float], *, shared: bool) -> None:
        self.times = times
        # what each job is given: worker processes have the array from _init_worker
        self.passed = None if shared else times
        self.free: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(LATEST):
            self.free.put_nowait(slot)

    async def take(self) -> int:
        slot = await self.free.get()
        self.times[slot] = 0.0  # the previous page in it has settled: no worker writes it now
        return slot

    def give_back(self, slot: int) -> None:
        self.free.put_nowait(slot)

    def releaser(self, slot: int, loop: asyncio.AbstractEventLoop) -> Callable[[object], None]:
        """A done-callback (run in one of the pool's threads) giving the slot back."""

        def release(_future: object) -> None:
            # RuntimeError: the loop is closed, nobody takes a slot any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.give_back, slot)

        return release


async def _within(
    future: asyncio.Future[Analysis], times: MutableSequence[float], slot: int, hard: float | None
) -> Analysis:
    """The page's result, or TimeoutError(started) once it has *run* (not waited) for
    ``hard`` s or, still waiting, once its pool has started no page at all for ``hard`` +
    grace s since the hand-over. A backlog of legal pages keeps its pool starting pages; a
    worker hung starting up, or a pool of stuck threads, starts none."""
    handed = time.monotonic()
    try:
        wait = hard  # it cannot have run for longer than it has been in the pool
        while True:
            done, _ = await asyncio.wait((future,), timeout=wait)
            if done:
                return future.result()
            assert hard is not None
            started = times[slot]
            if started:
                wait = started + hard - time.monotonic()
            else:
                wait = max(handed, times[LATEST]) + hard + HARD_TIMEOUT_GRACE - time.monotonic()
            if wait <= 0:
                raise TimeoutError(bool(started))
    except asyncio.CancelledError:
        future.cancel()  # the caller gave up: a page still queued is dropped from the pool
        raise


_STARTS: MutableSequence[float] | None = None  # in a worker process: its pool's slot times


def _init_worker(
    times: MutableSequence[float], parent: int, then: Callable[[], None] | None
) -> None:
    global _STARTS
    _STARTS = times
    _exit_with(parent)
    # the tables analysis builds on first use, built before the first page's time limit
    # runs (a hang here is a worker hung starting up, given up on like one)
    warm_up()
    if then is not None:
        then()


def _exit_with(parent: int) -> None:
    """End this worker process when ``parent`` (the crawl) is gone.

    By polling the parent pid, not PR_SET_PDEATHSIG: that signal fires when the thread
    that started the worker ends, and the pool may start workers from any thread.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="hijackwatch-parent-watch", daemon=True).start()


def _stamped(
    times: MutableSequence[float] | None, slot: int, fn: Callable[..., Analysis], *args: Any
) -> Analysis:
    """``fn(*args)``, noting first when it started (in the pool's shared array for a process)."""
    target = _STARTS if times is None else times
    assert target is not None
    target[slot] = target[LATEST] = time.monotonic()
    return fn(*args)


def _dropped(future: asyncio.Future[Any]) -> None:
    """Done-callback of a page given up on: whatever its future still brings is dropped."""
    if not future.cancelled():
        future.exception()


def _workers(executor: Executor) -> list[Any]:
    """The pool's processes or threads (no public API lists a ProcessPoolExecutor's)."""
    if isinstance(executor, DaemonThreads):
        return list(executor.threads)
    return list((getattr(executor, "_processes", None) or {}).values())


def _analyse(
    body: bytes,
    url: str,
    encoding: str | None,
    timeout: float = 0.0,
    fingerprint: bool = True,
    refresh: str | None = None,
) -> Analysis:
    """analyse() within ``timeout``, its summary sealed (see ViewSummary.seal) before it
    travels and is kept."""
    with _alarm(timeout):
        analysis = analyse(body, url, encoding=encoding, refresh=refresh)
        analysis.summary.seal(fingerprint=fingerprint)
    return analysis


@contextlib.contextmanager
def _alarm(timeout: float) -> Iterator[None]:
    """AnalysisTimeout after ``timeout`` s, by SIGALRM, where that is possible (a worker
    process's main thread); elsewhere, or with no timeout, nothing."""
    if not timeout or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(_signum: int, _frame: object) -> None:
        raise AnalysisTimeout(f"analysis did not finish within {timeout:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
