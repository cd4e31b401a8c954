"""Webhook alerts against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hijackwatch.alerts import alert_payload, notify_run, send_alert
from hijackwatch.storage import RunOutcome


class Receiver:
    """A webhook endpoint that records JSON bodies; the first ``fail_first`` calls get 500.

    ``broken_first``: raw bytes sent instead of a reply to the first calls, the connection
    then closed (``b""``: closed without a word).
    """

    def __init__(self, fail_first: int = 0, broken_first: tuple[bytes, ...] = ()) -> None:
        self.calls: list[dict[str, Any]] = []
        self.attempts = 0
        self.fail_first = fail_first
        self.broken_first = broken_first
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.attempts += 1
                if receiver.attempts <= len(receiver.broken_first):
                    self.wfile.write(receiver.broken_first[receiver.attempts - 1])
                    self.close_connection = True
                    return
                if receiver.attempts <= receiver.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.calls.append(json.loads(body))
                receiver.headers.append(dict(self.headers))
                self.send_response(204)
                self.end_headers()

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
