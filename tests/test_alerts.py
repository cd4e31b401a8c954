"""Webhook alerts against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hijackwatch.alerts import PENDING_FILE, PENDING_MAX, alert_payload, notify_run, send_alert
from hijackwatch.storage import RunOutcome


class Receiver:
    """A webhook endpoint that records JSON bodies; the first ``fail_first`` calls get
    ``fail_status`` (500).

    ``broken_first``: raw bytes sent instead of a reply to the first calls, the connection
    then closed (``b""``: closed without a word). ``slow_first``: that many calls wait
    ``delay`` seconds before their 204. ``trickle_first``: that many calls get their 200
    status line one byte every ``delay`` seconds (17 bytes), then the end of the reply.
    ``redirect``: a POST to /hook answers this 3xx with ``Location: location``. ``seen``
    holds every request (method, path, headers, body), answered or not.
    """

    def __init__(
        self,
        fail_first: int = 0,
        broken_first: tuple[bytes, ...] = (),
        *,
        slow_first: int = 0,
        trickle_first: int = 0,
        delay: float = 0.0,
        redirect: int = 0,
        location: str = "/real",
        fail_status: int = 500,
    ) -> None:
        self.calls: list[dict[str, Any]] = []
        self.attempts = 0
        self.fail_first = fail_first
        self.broken_first = broken_first
        self.headers: list[dict[str, str]] = []
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                receiver.seen.append((self.command, self.path, dict(self.headers), b""))
                self.send_response(200)
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.seen.append((self.command, self.path, dict(self.headers), body))
                if redirect and self.path == "/hook":
                    self.send_response(redirect)
                    self.send_header("Location", location)
                    self.end_headers()
                    return
                receiver.attempts += 1
                if receiver.attempts <= len(receiver.broken_first):
                    self.wfile.write(receiver.broken_first[receiver.attempts - 1])
                    self.close_connection = True
                    return
                if receiver.attempts <= receiver.fail_first:
                    self.send_response(fail_status)
                    self.end_headers()
                    return
                if receiver.attempts <= slow_first:
                    time.sleep(delay)
                if receiver.attempts <= trickle_first:
                    self.trickle()
                    return
                receiver.calls.append(json.loads(body))
                receiver.headers.append(dict(self.headers))
                self.send_response(204)
                self.end_headers()

            def trickle(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):  # the client gave up
                    for byte in b"HTTP/1.1 200 OK\r\n":
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(delay)
                    self.wfile.write(b"Content-Length: 0\r\n\r\n")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def outcome(**changes: Any) -> RunOutcome:
    base: dict[str, Any] = {"run_id": 7, "status": "finished", "sites": 3, "pages": 40}
    return RunOutcome(**(base | changes))


def test_alert_posted_once_with_the_changes(receiver: Receiver) -> None:
    result = outcome(
        new_hijacked_sites=["b.example"],
        cleaned_sites=["a.example"],
        new_hijacked_pages=["http://b.example/slot.html"],
        hijacked_pages=1,
    )
    assert notify_run(receiver.url, result, backoff=0.05) is True
    assert len(receiver.calls) == 1
    payload = receiver.calls[0]
    assert payload["run_id"] == 7
    assert payload["new_hijacked_sites"] == ["b.example"]
    assert payload["cleaned_sites"] == ["a.example"]
    assert payload["counts"]["hijacked_pages"] == 1
    assert "1 newly hijacked site(s)" in payload["summary"]
    assert receiver.headers[0]["Content-Type"] == "application/json"


def test_no_alert_without_changes(receiver: Receiver) -> None:
    assert notify_run(receiver.url, outcome(still_hijacked_sites=["a.example"])) is None
    assert notify_run(None, outcome(new_hijacked_sites=["a.example"])) is None
    assert receiver.attempts == 0


def test_alert_retried_until_the_receiver_recovers() -> None:
    with Receiver(fail_first=2) as flaky:
        started = time.monotonic()
        assert send_alert(flaky.url, alert_payload(outcome(cleaned_sites=["a"])), backoff=0.1)
        elapsed = time.monotonic() - started
    assert flaky.attempts == 3 and len(flaky.calls) == 1
    assert elapsed >= 0.3  # backed off 0.1 s, then 0.2 s


def test_broken_replies_are_retried_like_other_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A receiver that hangs up or answers garbage (http.client.HTTPException, not OSError)
    gets the same retries and the same one-line warning as a 500 or a refused connection."""
    broken = (
        b"",  # RemoteDisconnected
        b"HELLO \x1b[31mred\r\n",  # BadStatusLine, with a terminal escape
        b"HTTP/1.1 2OO OK\r\n\r\n",  # BadStatusLine (status not a number)
        b"HTTP/1.1 200 OK\r\n" + b"X-Junk: " + b"j" * 70000 + b"\r\n\r\n",  # LineTooLong
    )
    caplog.set_level(logging.INFO, logger="hijackwatch.alerts")
    with Receiver(broken_first=broken) as flaky:
        result = notify_run(
            flaky.url, outcome(new_hijacked_sites=["b.example"]), attempts=5, backoff=0.01
        )
    assert result is True
    assert flaky.attempts == 5 and [c["run_id"] for c in flaky.calls] == [7]
    failed = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failed) == 4 and all(m.startswith("alert attempt ") for m in failed), failed
    assert "BadStatusLine('HELLO \\x1b[31mred\\r\\n')" in failed[1]
    assert "\x1b" not in caplog.text and all(len(m) < 300 for m in failed)
    assert "alert for run 7 delivered" in caplog.text
    assert not any(r.exc_info for r in caplog.records)  # handled, not an unexpected error


def test_an_accepted_alert_whose_reply_breaks_off_is_not_sent_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """200, then a chunked body that stops: the receiver has the alert; a retry would
    deliver it twice."""
    cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"
    caplog.set_level(logging.INFO, logger="hijackwatch.alerts")
    with Receiver(broken_first=(cut,)) as receiver:
        sent = send_alert(receiver.url, alert_payload(outcome()), attempts=3, backoff=0.01)
    assert sent is True and receiver.attempts == 1
    assert "failed" not in caplog.text


def test_alert_failure_is_reported_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with Receiver(fail_first=100) as down:
        ok = send_alert(down.url, alert_payload(outcome()), attempts=2, backoff=0.01)
    assert ok is False and down.attempts == 2
    assert "NOT delivered" in caplog.text
    # nothing listening at all: still no exception
    assert send_alert(down.url, {"run_id": 1}, attempts=1, timeout=1) is False


def test_only_http_notify_urls_are_used(receiver: Receiver) -> None:
    assert send_alert("file:///etc/passwd", {"run_id": 1}, attempts=1) is False
    assert receiver.attempts == 0


def test_loopback_only_keeps_alerts_on_the_machine(caplog: pytest.LogCaptureFixture) -> None:
    """conftest sets HIJACKWATCH_LOOPBACK_ONLY: a real-looking webhook is never contacted."""
    assert send_alert("http://hooks.invalid/h", {"run_id": 1}, attempts=1, timeout=1) is False
    assert "is not loopback" in caplog.text


def test_webhook_secrets_stay_out_of_the_log(caplog: pytest.LogCaptureFixture) -> None:
    """Chat webhooks carry their token in the path or query: the log names the host only."""
    with Receiver(fail_first=100) as down:
        secret = down.url.rstrip("/") + "/hooks/T0KEN-s3cret?key=k3y"
        assert send_alert(secret, {"run_id": 1}, attempts=2, backoff=0.01) is False
    assert "failed" in caplog.text and "NOT delivered" in caplog.text
    assert "s3cret" not in caplog.text and "k3y" not in caplog.text


@pytest.mark.parametrize(
    ("code", "location", "shown"),
    [
        (302, "/real", "http://127.0.0.1:{port}/…"),  # urllib made it an empty GET
        (301, "https://127.0.0.9/hook/T0KEN-s3cret", "https://127.0.0.9/…"),
        (307, "/real", "http://127.0.0.1:{port}/…"),  # urllib refused it: retried 4 times
        (308, "file:///etc/passwd", "file:///…"),
    ],
)
def test_a_redirecting_webhook_is_reported_not_followed(
    code: int, location: str, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A webhook moved to https answers 301/302: following it turned the POST into an
    empty GET that was logged as delivered. Nothing is sent to the Location, and a
    redirect, which the next attempt would get again, is not retried."""
    with Receiver(redirect=code, location=location) as moved:
        port = moved.server.server_address[1]
        payload = alert_payload(outcome(new_hijacked_sites=["b.example"]))
        sent = send_alert(moved.url, payload, attempts=4, backoff=0.01)
    assert sent is False
    assert [(method, path) for method, path, _h, _b in moved.seen] == [("POST", "/hook")]
    assert f"redirects (HTTP {code}) to {shown.format(port=port)}" in caplog.text
    assert "use that URL in --notify" in caplog.text and "after 1 attempt(s)" in caplog.text
    assert "delivered (HTTP" not in caplog.text and "s3cret" not in caplog.text


def test_attempts_at_one_alert_share_its_idempotency_key() -> None:
    """A receiver slower than the timeout gets every attempt: each must say it is the
    same alert."""
    with Receiver(slow_first=2, delay=1.5) as slow:
        payload = alert_payload(outcome(new_hijacked_sites=["b.example"]))
        assert send_alert(slow.url, payload, attempts=3, backoff=0.01, timeout=0.5)
    keys = [headers.get("Idempotency-Key") for _m, _p, headers, _b in slow.seen]
    ids = [json.loads(body)["alert_id"] for _m, _p, _h, body in slow.seen]
    assert len(slow.seen) == 3 and len(set(keys)) == 1 and keys == ids
    assert keys[0] == payload["alert_id"]
    other = alert_payload(outcome(new_hijacked_sites=["b.example"]))
    assert other["alert_id"] != payload["alert_id"]  # another alert, another key


def test_a_trickling_reply_cannot_stretch_an_attempt_past_its_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The status line one byte every 0.2 s: each read is within a 1 s socket timeout,
    yet the reply takes 3.4 s. The attempt ends at 1 s and the next one is made."""
    with Receiver(trickle_first=1, delay=0.2) as drip:
        started = time.monotonic()
        sent = send_alert(drip.url, alert_payload(outcome()), attempts=2, backoff=0.01, timeout=1.0)
        elapsed = time.monotonic() - started
    assert sent is True and drip.attempts == 2 and len(drip.calls) == 1
    assert elapsed < 2.5, elapsed
    assert "attempt 1/2 to http://127.0.0.1" in caplog.text
    assert "no complete answer within 1 s" in caplog.text


def pending_alerts(directory: Path) -> list[dict[str, Any]]:
    path = directory / PENDING_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def fail_one_alert(directory: Path, run_id: int = 7) -> dict[str, Any]:
    """An alert whose receiver answered 500 to every attempt: it waits in ``directory``."""
    with Receiver(fail_first=100) as down:
        result = outcome(run_id=run_id, new_hijacked_sites=["b.example"])
        assert (
            notify_run(down.url, result, pending_dir=directory, attempts=2, backoff=0.01) is False
        )
    assert down.attempts == 2
    return pending_alerts(directory)[-1]


def test_an_undelivered_alert_is_sent_first_by_the_next_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The receiver was down for run 7; run 8 (sent to another URL: the operator may
    have fixed it) delivers run 7's alert first, unchanged but flagged, then its own."""
    caplog.set_level(logging.INFO, logger="hijackwatch.alerts")
    kept = fail_one_alert(tmp_path)
    assert kept["run_id"] == 7 and kept["redelivered"] is False
    assert "kept in" in caplog.text and "NOT delivered" in caplog.text
    with Receiver() as healthy:
        result = outcome(run_id=8, cleaned_sites=["b.example"])
        assert notify_run(healthy.url, result, pending_dir=tmp_path, backoff=0.01) is True
    assert [call["run_id"] for call in healthy.calls] == [7, 8]
    again, new = healthy.calls
    assert again == kept | {"redelivered": True}  # same alert_id and sent_at
    assert healthy.headers[0]["Idempotency-Key"] == kept["alert_id"]
    assert new["redelivered"] is False and new["alert_id"] != kept["alert_id"]
    assert pending_alerts(tmp_path) == []
    assert "alert for run 7 (sent again) delivered" in caplog.text


def test_a_run_without_changes_still_sends_the_pending_alerts(tmp_path: Path) -> None:
    kept = fail_one_alert(tmp_path)
    with Receiver() as healthy:
        assert notify_run(healthy.url, outcome(), pending_dir=tmp_path) is None
    assert healthy.calls == [kept | {"redelivered": True}]
    assert pending_alerts(tmp_path) == []


def test_pending_alerts_are_bounded_and_a_down_receiver_costs_one_series_per_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While the receiver stays down each run tries the oldest pending alert only, and
    queues its own behind it; past PENDING_MAX the oldest are dropped, with a warning."""
    runs = PENDING_MAX + 2
    with Receiver(fail_first=10**6) as down:
        for run_id in range(1, runs + 1):
            result = outcome(run_id=run_id, new_hijacked_sites=["b.example"])
            assert notify_run(down.url, result, pending_dir=tmp_path, attempts=1) is False
    assert down.attempts == runs
    kept = pending_alerts(tmp_path)
    assert [alert["run_id"] for alert in kept] == list(range(3, runs + 1))
    assert f"dropped from {tmp_path / PENDING_FILE}, which keeps the newest" in caplog.text
    assert "run(s) 1" in caplog.text and "run(s) 2" in caplog.text


def test_a_forced_stop_queues_its_alert_behind_pending_ones_untried(tmp_path: Path) -> None:
    """redeliver=False (a forced stop must not take long): no pending alert is sent, and
    this run's joins their queue untried; with an empty queue it gets its one try."""
    with Receiver(fail_first=1) as flaky:
        first = outcome(run_id=1, new_hijacked_sites=["a.example"])
        assert notify_run(flaky.url, first, pending_dir=tmp_path, attempts=1) is False
        second = outcome(run_id=2, new_hijacked_sites=["b.example"])
        sent = notify_run(flaky.url, second, pending_dir=tmp_path, redeliver=False, attempts=1)
        assert sent is False and flaky.attempts == 1  # the receiver is up again: not asked
    assert [alert["run_id"] for alert in pending_alerts(tmp_path)] == [1, 2]
    with Receiver() as healthy:
        third = outcome(run_id=3, new_hijacked_sites=["c.example"])
        empty = tmp_path / "empty"
        empty.mkdir()
        assert notify_run(healthy.url, third, pending_dir=empty, redeliver=False) is True
        assert [call["run_id"] for call in healthy.calls] == [3]


def test_an_alert_with_nowhere_to_wait_is_reported_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The spool directory is gone (it is only created when configured): say the alert
    is lost, never fail the run."""
    with Receiver(fail_first=100) as down:
        result = outcome(new_hijacked_sites=["b.example"])
        missing = tmp_path / "gone"
        assert notify_run(down.url, result, pending_dir=missing, attempts=1) is False
        assert not missing.exists()
        created = tmp_path / "configured"
        assert (
            notify_run(down.url, result, pending_dir=created, create_pending_dir=True, attempts=1)
            is False
        )
    assert "will not be sent again" in caplog.text
    assert [alert["run_id"] for alert in pending_alerts(created)] == [7]


def test_an_alert_the_receiver_refuses_is_dropped_not_retried_nor_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 413 or 422 will not change by trying again: one attempt, not kept pending (where
    it would block every later alert), and the next run's alert goes through."""
    kept = fail_one_alert(tmp_path)  # pending from a run when the receiver was down
    with Receiver(fail_first=2, fail_status=413) as refusing:
        result = outcome(run_id=8, new_hijacked_sites=["b.example"])
        assert notify_run(refusing.url, result, pending_dir=tmp_path, backoff=0.01) is False
        assert refusing.attempts == 2  # the pending alert once, run 8's once: no retries
        assert pending_alerts(tmp_path) == []
        assert "rejects this alert (HTTP 413): not sent again" in caplog.text
        later = outcome(run_id=9, new_hijacked_sites=["c.example"])
        assert notify_run(refusing.url, later, pending_dir=tmp_path) is True
    assert [call["run_id"] for call in refusing.calls] == [9] and kept["run_id"] == 7


def test_a_hostile_reason_phrase_reaches_the_log_escaped(caplog: pytest.LogCaptureFixture) -> None:
    """The receiver's reason phrase went into the log raw: terminal escapes included."""
    hostile = b"HTTP/1.1 500 \x1b]0;owned\x07\x1b[2J\x1b[31mALL CLEAR\r\nContent-Length: 0\r\n\r\n"
    with Receiver(broken_first=(hostile,)) as receiver:
        assert send_alert(receiver.url, {"run_id": 1}, attempts=1) is False
    assert "ALL CLEAR" in caplog.text and "\x1b" not in caplog.text and "\x07" not in caplog.text


def test_a_damaged_pending_file_is_set_aside_not_overwritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An undecodable or broken pending file was rewritten with only the newest alert:
    whatever it held was lost. It is now kept under another name, and its readable
    alerts stay queued."""
    fail_one_alert(tmp_path, run_id=7)
    path = tmp_path / PENDING_FILE
    damaged = path.read_bytes() + b"\xff\xfe not json\n"
    path.write_bytes(damaged)
    fail_one_alert(tmp_path, run_id=8)  # undecodable: nothing readable, file set aside
    asides = sorted(tmp_path.glob(PENDING_FILE + ".damaged-*"))
    assert [p.read_bytes() for p in asides] == [damaged]
    assert [a["run_id"] for a in pending_alerts(tmp_path)] == [8]
    assert "damaged pending alerts file was kept as" in caplog.text

    path.write_text(path.read_text(encoding="utf-8") + "{broken\n", encoding="utf-8")
    broken = path.read_bytes()
    fail_one_alert(tmp_path, run_id=9)  # one broken line: readable alerts stay queued
    assert [a["run_id"] for a in pending_alerts(tmp_path)] == [8, 9]
    asides = sorted(tmp_path.glob(PENDING_FILE + ".damaged-*"))
    assert broken in [p.read_bytes() for p in asides] and len(asides) == 2


def test_a_held_pending_lock_delays_an_alert_by_at_most_lock_wait(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holding the pending-alerts lock (stopped, hung) cost a forced stop
    an unbounded wait (QA L8): the wait now ends, and the log says what was lost."""
    import fcntl

    from hijackwatch import alerts

    monkeypatch.setattr(alerts, "LOCK_WAIT", 0.3)
    (tmp_path / (PENDING_FILE + ".lock")).touch()
    with open(tmp_path / (PENDING_FILE + ".lock"), "a") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)  # a lock of another open file: as another process
        started = time.monotonic()
        alerts.queue_alert(tmp_path, {"alert_id": "a1", "run_id": 9})
        took = time.monotonic() - started
    assert 0.3 <= took < 3
    assert "held" in caplog.text and "run(s) 9 will not be sent again" in caplog.text
    assert not (tmp_path / PENDING_FILE).exists()
