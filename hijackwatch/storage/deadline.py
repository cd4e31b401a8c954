"""Database calls with a deadline, for a server that takes the connection and then stalls.

A stopped server process, a network black hole whose peer still ACKs, a lock wait: the
driver waits forever. TCP keepalives and ``tcp_user_timeout`` cannot see it, and libpq's
``connect_timeout`` only covers connecting. Only the caller's own deadline ends the wait.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TypeVar

from hijackwatch.storage.engine import redact
from hijackwatch.storage.errors import DatabaseUnavailable
from hijackwatch.threads import in_daemon_thread

T = TypeVar("T")

TIMEOUT_SETTING = "HIJACKWATCH_DB_WRITE_TIMEOUT"
DB_THREAD = "hijackwatch-db"


class NoAnswer(DatabaseUnavailable):
    """The database did not answer within the deadline; the call goes on in its thread."""

    def __init__(self, timeout: float, url: str | None = None) -> None:
        self.timeout = timeout
        where = f"cannot open database {redact(url)}: " if url is not None else ""
        super().__init__(f"{where}no answer within {timeout:g}s ({TIMEOUT_SETTING})")


def call_with_deadline(func: Callable[[], T], timeout: float, url: str) -> T:
    """``func()``, waited for at most ``timeout`` s (0: no limit), else NoAnswer naming ``url``."""
    future = in_daemon_thread(func, DB_THREAD)
    concurrent.futures.wait([future], timeout=timeout or None)
    if not future.done():
        raise NoAnswer(timeout, url)
    return future.result()


async def await_with_deadline(func: Callable[[], T], timeout: float, url: str) -> T:
    """:func:`call_with_deadline` for a coroutine: the event loop goes on meanwhile."""
    future = asyncio.wrap_future(in_daemon_thread(func, DB_THREAD))
    await asyncio.wait({future}, timeout=timeout or None)
    if not future.done():
        raise NoAnswer(timeout, url)  # the thread goes on alone; its answer is dropped
    return future.result()
