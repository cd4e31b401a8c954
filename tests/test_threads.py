"""hijackwatch.threads: calls that may never return must not hold the process."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from hijackwatch.threads import in_daemon_thread, parallel_map


def test_parallel_map_keeps_order() -> None:
    assert parallel_map(lambda n: n * n, range(20), 4) == [n * n for n in range(20)]
    assert parallel_map(str, [], 4) == []


def test_the_first_error_is_raised_without_waiting_for_a_stuck_call() -> None:
    release, finished = threading.Event(), threading.Event()

    def call(n: int) -> int:
        if n == 0:
            release.wait(5)  # stuck, as a fetch from a silent server
            finished.set()
        if n == 1:
            raise ValueError("item 1")
        return n

    try:
        with pytest.raises(ValueError, match="item 1"):
            parallel_map(call, range(3), 3)
        assert not finished.is_set()  # raised while item 0 was still stuck
    finally:
        release.set()


def test_a_stuck_call_does_not_keep_the_process_alive() -> None:
    code = (
        "import threading\n"
        "from hijackwatch.threads import in_daemon_thread, parallel_map\n"
        "in_daemon_thread(threading.Event().wait)\n"
        "try:\n"
        "    parallel_map(lambda n: threading.Event().wait() if n else 1 / 0, [0, 1], 2)\n"
        "except ZeroDivisionError:\n"
        "    print('raised')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == "raised", done.stderr


def test_in_daemon_thread_hands_back_the_result_or_the_error() -> None:
    assert in_daemon_thread(lambda: 42).result(timeout=10) == 42
    with pytest.raises(KeyError):
        in_daemon_thread(lambda: {}["x"]).result(timeout=10)
