"""Daemon threads for calls that may never return: a stalled database, a fetch or an
analysis stuck on a hostile page.

``concurrent.futures.ThreadPoolExecutor`` joins its threads at interpreter exit (and on
shutdown), so one call stuck for good would keep the process alive and Ctrl-C would wait
for it. These threads are left behind instead; callers wait on futures, interruptibly.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Executor, Future, wait
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class DaemonThreads(Executor):
    """A thread pool whose threads neither ``shutdown`` nor the interpreter's exit
    waits for: one stuck for good cannot be stopped, only left behind."""

    def __init__(self, size: int, name: str = "hijackwatch") -> None:
        self.jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None]
        self.jobs = queue.SimpleQueue()
        self.threads = [
            threading.Thread(target=self._work, name=f"{name}_{n}", daemon=True)
            for n in range(size)
        ]
        for thread in self.threads:
            thread.start()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        self.jobs.put((future, lambda: fn(*args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for _ in self.threads:
            self.jobs.put(None)  # after the jobs already queued
        for thread in self.threads if wait else ():
            thread.join()

    def _work(self) -> None:
        while (job := self.jobs.get()) is not None:
            future, call = job
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while queued
            try:
                result = call()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)


def in_daemon_thread(func: Callable[[], T], name: str = "hijackwatch") -> Future[T]:
    """``func()`` in a new daemon thread of its own."""
    threads = DaemonThreads(1, name)
    future = threads.submit(func)
    threads.shutdown(wait=False)  # the thread ends after this one call
    return future


def parallel_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int, name: str = "hijackwatch"
) -> list[R]:
    """``[fn(item) ...]`` on at most ``workers`` daemon threads, in order; the first
    exception raised is re-raised as soon as it is raised."""
    todo = list(items)
    if not todo:
        return []
    threads = DaemonThreads(min(workers, len(todo)), name)
    futures = [threads.submit(fn, item) for item in todo]
    threads.shutdown(wait=False)
    done, _ = wait(futures, return_when=FIRST_EXCEPTION)
    for future in futures:  # with none failed, every future is done
        if future in done and (error := future.exception()) is not None:
            raise error
    return [future.result() for future in futures]


__all__ = ["DaemonThreads", "in_daemon_thread", "parallel_map"]
