"""Database calls with a deadline, for a server that takes the connection and then stalls.

A stopped server process, a network black hole whose peer still ACKs, a lock wait: the
driver waits forever. TCP keepalives and ``tcp_user_timeout`` cannot see it, and libpq's
``connect_timeout`` only covers connecting. Only the caller's own deadline ends the wait.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import TypeVar

from hijackwatch.storage.engine import redact
from hijackwatch.storage.errors import DatabaseUnavailable

T = TypeVar("T")

TIMEOUT_SETTING = "HIJACKWATCH_DB_WRITE_TIMEOUT"


class NoAnswer(DatabaseUnavailable):
    """The database did not answer within the deadline; the call goes on in its thread."""

    def __init__(self, timeout: float, url: str | None = None) -> None:
        self.timeout = timeout
        where = f"cannot open database {redact(url)}: " if url is not None else ""
        super().__init__(f"{where}no answer within {timeout:g}s ({TIMEOUT_SETTING})")


def in_daemon_thread(func: Callable[[], T]) -> concurrent.futures.Future[T]:
    """``func()`` in a new daemon thread. Not a thread pool: pools join their threads at
    interpreter exit, so a call stuck on a silent server would keep the process alive."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(func())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name="hijackwatch-db", daemon=True).start()
    return future


def call_with_deadline(func: Callable[[], T], timeout: float, url: str) -> T:
    """``func()``, waited for at most ``timeout`` s (0: no limit), else NoAnswer naming ``url``."""
    future = in_daemon_thread(func)
    concurrent.futures.wait([future], timeout=timeout or None)
    if not future.done():
        raise NoAnswer(timeout, url)
    return future.result()


async def await_with_deadline(func: Callable[[], T], timeout: float, url: str) -> T:
    """:func:`call_with_deadline` for a coroutine: the event loop goes on meanwhile."""
    future = asyncio.wrap_future(in_daemon_thread(func))
    await asyncio.wait({future}, timeout=timeout or None)
    if not future.done():
        raise NoAnswer(timeout, url)  # the thread goes on alone; its answer is dropped
    return future.result()
