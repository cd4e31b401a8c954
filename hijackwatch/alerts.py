"""Webhook alerts: POST a JSON summary when a run opens or closes site incidents.

Alerts must never cost the crawl its result: every failure is logged and swallowed,
retries back off, and the caller runs ``send_alert`` in a worker thread. Every alert
carries an ``alert_id`` (also sent as the ``Idempotency-Key`` header) so a receiver can
drop the copies that retries and redeliveries make; an alert no attempt delivered waits
in a pending file and is sent again, first, by the next run with ``--notify``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

try:
    import fcntl
except ImportError:  # not POSIX: concurrent runs are not serialised on the pending file
    fcntl = None  # type: ignore[assignment]

from hijackwatch.seeds import LOOPBACK_ENV, is_loopback, loopback_only
from hijackwatch.storage.incidents import RunOutcome

log = logging.getLogger(__name__)

USER_AGENT = "hijackwatch-alerts/1"
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF = 1.0  # seconds; doubles after each failed attempt
DEFAULT_TIMEOUT = 10.0
REASON_MAX = 160  # characters of a broken reply quoted in the log
PENDING_FILE = "hijackwatch-alerts-pending.jsonl"  # in the spool directory
PENDING_MAX = 100  # undelivered alerts kept; older ones are dropped with a warning
# What became of one alert: delivered; failed (receiver down or misconfigured: kept and
# sent again by a later run); rejected (the receiver refuses this payload for good)
DELIVERED, FAILED, REJECTED = "delivered", "failed", "rejected"
REJECTED_STATUSES = frozenset({400, 413, 415, 422})


def alert_payload(outcome: RunOutcome) -> dict[str, Any]:
    """The JSON body of an alert: what changed in this run."""
    return {
        "event": "hijackwatch.run_changes",
        "alert_id": str(uuid.uuid4()),  # the same on every attempt and redelivery
        "sent_at": datetime.now(UTC).isoformat(),
        "redelivered": False,
        "run_id": outcome.run_id,
        "run_status": outcome.status,
        "new_hijacked_sites": outcome.new_hijacked_sites,
        "cleaned_sites": outcome.cleaned_sites,
        "still_hijacked_sites": outcome.still_hijacked_sites,
        "new_hijacked_pages": outcome.new_hijacked_pages[:200],
        "cleaned_pages": outcome.cleaned_pages[:200],
        "counts": {
            "sites": outcome.sites,
            "pages": outcome.pages,
            "hijacked_pages": outcome.hijacked_pages,
            "suspicious_pages": outcome.suspicious_pages,
            "errors": outcome.errors,
            "new_hijacked_pages": len(outcome.new_hijacked_pages),
            "cleaned_pages": len(outcome.cleaned_pages),
        },
        "summary": summary_line(outcome),
    }


def summary_line(outcome: RunOutcome) -> str:
    parts = []
    if outcome.new_hijacked_sites:
        parts.append(f"{len(outcome.new_hijacked_sites)} newly hijacked site(s)")
    if outcome.cleaned_sites:
        parts.append(f"{len(outcome.cleaned_sites)} site(s) cleaned")
    if outcome.still_hijacked_sites:
        parts.append(f"{len(outcome.still_hijacked_sites)} still hijacked")
    return f"hijackwatch run {outcome.run_id}: " + (", ".join(parts) or "no changes")


def _where(url: str) -> str:
    """The webhook's scheme and host only: its path or query often holds the secret token."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparsable URL)"
    where = f"{parts.scheme}://{host}{port}/…"
    return where if where.isprintable() else ascii(where)  # a Location is the receiver's text


def _label(payload: dict[str, Any]) -> str:
    again = " (sent again)" if payload.get("redelivered") else ""
    return f"alert for run {payload.get('run_id')}{again}"


def _reason(exc: Exception) -> str:
    """Why an attempt failed. A broken reply (http.client) is quoted escaped and cut short:
    it is whatever the receiver sent, up to a 64 KiB status line."""
    if isinstance(exc, http.client.HTTPException) and not isinstance(exc, OSError):
        quoted = repr(exc)  # escaped: no control characters reach the log
        if len(quoted) > REASON_MAX:
            quoted = quoted[: REASON_MAX - 1] + "…"
        return f"invalid HTTP response from the receiver: {quoted}"
    reason = str(exc) or type(exc).__name__
    # an HTTPError carries the receiver's reason phrase: escaped like a broken reply
    return reason if reason.isprintable() else ascii(reason)[1:-1]


class _Deadline:
    """The end of one attempt, whatever the receiver does.

    urllib's timeout bounds each socket operation, not the attempt: a reply trickling in
    a byte every few seconds would hold it for minutes. A timer shuts the attempt's
    socket down at the deadline, which ends any read or write blocked on it. It holds a
    duplicate of the socket, so the descriptor it shuts down cannot have been closed and
    reused by another thread meanwhile.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def connect(
        self, address: tuple[str, int], timeout: object = None, *args: Any, **kwargs: Any
    ) -> socket.socket:
        """Stands in for ``socket.create_connection`` in http.client's connection."""
        remaining = self.ends - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("attempt deadline passed before connecting")
        if isinstance(timeout, int | float):
            remaining = min(remaining, timeout)
        sock = socket.create_connection(address, remaining, *args, **kwargs)
        with self._lock:
            if self.expired:
                sock.close()
                raise TimeoutError("attempt deadline passed while connecting")
            self._socks.append(sock.dup())
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._socks:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._socks:
                sock.close()
            self._socks.clear()


class _DeadlineMixin:
    """Gives every connection the handler opens to the attempt's ``_Deadline``."""

    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def do_open(self, http_class: Any, req: urllib.request.Request, **kwargs: Any) -> Any:
        def connection(host: str, **args: Any) -> http.client.HTTPConnection:
            conn = http_class(host, **args)
            conn._create_connection = self.deadline.connect  # http.client's own hook
            return conn

        return super().do_open(connection, req, **kwargs)  # type: ignore[misc]


class _DeadlineHTTPHandler(_DeadlineMixin, urllib.request.HTTPHandler):
    pass


class _DeadlineHTTPSHandler(_DeadlineMixin, urllib.request.HTTPSHandler):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST comes back from urllib as a GET without its body: a 3xx stays an
    HTTPError, reported to the operator, never followed."""

    def http_error_302(self, *_args: Any) -> None:
        return None

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _post(url: str, data: bytes, headers: dict[str, str], deadline: _Deadline) -> int:
    """One attempt; the reply's status when 2xx, else raises (3xx and others: HTTPError)."""
    handlers: list[Any] = [
        _NoRedirect,
        _DeadlineHTTPHandler(deadline),
        _DeadlineHTTPSHandler(deadline),
    ]
    if loopback_only():  # no proxy from the environment either
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    with opener.open(request, timeout=deadline.seconds) as response:
        # a 2xx status means delivered: a body that breaks off after it (or the deadline
        # cutting it) must not send the alert again
        with contextlib.suppress(OSError, http.client.HTTPException):
            response.read(65536)
        return response.status


def _redirect_reason(url: str, exc: urllib.error.HTTPError) -> str:
    """What a 3xx tells the operator: where the webhook moved (host only: the path holds
    the token), and whether the path stayed the same."""
    location = exc.headers.get("Location") if exc.headers else None
    if not location:
        return f"the webhook answers HTTP {exc.code} without a Location: fix the --notify URL"
    try:
        target = urljoin(url, location)
        moved, written = urlsplit(target), urlsplit(url)
        same = (moved.path, moved.query) == (written.path, written.query)
    except ValueError:
        target, same = location, False
    hint = " (same path)" if same else ""
    return (
        f"the webhook redirects (HTTP {exc.code}) to {_where(target)}{hint}: "
        "use that URL in --notify (redirects are not followed)"
    )


def send_alert(
    url: str,
    payload: dict[str, Any],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    timeout: float = DEFAULT_TIMEOUT,
) -> bool:
    """POST ``payload`` as JSON; retry with exponential backoff. True when delivered (2xx).

    ``timeout`` bounds each whole attempt. A 3xx is not retried: it will not change.
    Blocking: call it in a thread. Never raises.
    """
    return _send(url, payload, attempts=attempts, backoff=backoff, timeout=timeout) == DELIVERED


def _send(
    url: str,
    payload: dict[str, Any],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """send_alert(), telling a failure worth another try later (FAILED: the receiver is
    down or misconfigured) from a payload the receiver refuses (REJECTED: HTTP 400, 413,
    415, 422), which would block the queue of pending alerts for good."""
    if urlsplit(url).scheme not in ("http", "https"):
        log.error("alert not sent: notify URL must be http(s), got %r", _where(url))
        return FAILED
    if loopback_only() and not is_loopback(url):  # tests, benchmarks, demo: stay on 127/8
        log.error("alert not sent: %s is set, %s is not loopback", LOOPBACK_ENV, _where(url))
        return FAILED
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if payload.get("alert_id"):
        headers["Idempotency-Key"] = str(payload["alert_id"])
    delay = backoff
    attempt = 0
    while attempt < attempts:
        attempt += 1
        deadline = _Deadline(timeout)
        try:
            status = _post(url, data, headers, deadline)
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            code = exc.code if isinstance(exc, urllib.error.HTTPError) else None
            rejected = code in REJECTED_STATUSES
            final = rejected or (code is not None and 300 <= code < 400)
            if rejected:
                reason = f"the receiver rejects this alert (HTTP {code}): not sent again"
            elif final:
                reason = _redirect_reason(url, exc)  # type: ignore[arg-type]
            elif deadline.expired:
                reason = f"no complete answer within {timeout:g} s"
            else:
                reason = _reason(exc)
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()
            log.warning(
                "alert attempt %d/%d to %s failed: %s", attempt, attempts, _where(url), reason
            )
            if rejected:
                log.error("%s dropped: %s", _label(payload), reason)
                return REJECTED
            if final:
                break
        else:
            log.info("%s delivered (HTTP %s)", _label(payload), status)
            return DELIVERED
        finally:
            deadline.close()
        if attempt < attempts:
            time.sleep(delay)
            delay *= 2
    log.error("%s NOT delivered to %s after %d attempt(s)", _label(payload), _where(url), attempt)
    return FAILED


# Another run holds the pending-alerts lock for milliseconds; one that holds it longer
# (stopped, hung) must not hold up this run's end, nor an operator's forced stop.
LOCK_WAIT = 10.0


def _wait_for_lock(lock: Any, seconds: float) -> None:
    """flock ``lock`` exclusively, polling; OSError once ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OSError(f"another process has held {lock.name} for {seconds:g} s") from None
            time.sleep(0.05)


class PendingAlerts:
    """Alerts no attempt delivered, one JSON payload a line, oldest first, in the spool
    directory: the next run with ``--notify`` sends them before its own.

    Rewritten whole (temp file + os.replace), so a reader never sees half a file; the
    read-modify-write is serialised by a lock file, so two runs finishing together keep
    each other's alerts.
    """

    def __init__(self, directory: Path, create: bool = False) -> None:
        self.directory = directory
        self.create = create  # as for spool files: only a configured directory is created
        self.path = directory / PENDING_FILE

    def load(self) -> list[dict[str, Any]]:
        return self._read()[0]

    def _read(self) -> tuple[list[dict[str, Any]], bool]:
        """The pending alerts, and whether the file held something that is not one
        (unreadable bytes, a broken line): rewriting it would lose that for good."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return [], False
        except (OSError, UnicodeDecodeError) as exc:
            log.error("cannot read pending alerts in %s: %s", self.path, exc)
            return [], True
        alerts = []
        damaged = False
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                alert = json.loads(line)
            except ValueError:
                alert = None
            if isinstance(alert, dict) and isinstance(alert.get("alert_id"), str):
                alerts.append(alert)
            else:
                damaged = True
                log.warning("%s line %d is not a pending alert: skipped", self.path, number)
        return alerts, damaged

    def _set_aside(self) -> None:
        """Keep a damaged pending file under another name for the operator to read."""
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        aside = self.path.with_name(f"{PENDING_FILE}.damaged-{stamp}-{uuid.uuid4().hex[:8]}")
        os.replace(self.path, aside)
        log.error("the damaged pending alerts file was kept as %s", aside)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self.create:
            self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / (PENDING_FILE + ".lock"), "a") as lock:
            if fcntl is not None:
                _wait_for_lock(lock, LOCK_WAIT)
            yield

    def update(self, delivered: set[str], undelivered: list[dict[str, Any]]) -> None:
        """Drop the ``delivered`` alert ids, append ``undelivered``, keep the newest
        PENDING_MAX. Logs (never raises) when the file cannot be written."""
        try:
            with self._locked():
                loaded, damaged = self._read()
                if damaged:
                    self._set_aside()
                alerts = [a for a in loaded if a["alert_id"] not in delivered]
                known = {a["alert_id"] for a in alerts}
                alerts += [a for a in undelivered if a["alert_id"] not in known]
                if len(alerts) > PENDING_MAX:
                    dropped, alerts = alerts[:-PENDING_MAX], alerts[-PENDING_MAX:]
                    log.warning(
                        "%d undelivered alert(s) dropped from %s, which keeps the newest %d: "
                        "run(s) %s",
                        len(dropped),
                        self.path,
                        PENDING_MAX,
                        ", ".join(str(a.get("run_id")) for a in dropped),
                    )
                self._write(alerts)
        except OSError as exc:
            lost = ", ".join(str(a.get("run_id")) for a in undelivered) or "none"
            log.error(
                "cannot update pending alerts in %s (%s): undelivered alert(s) for run(s) %s "
                "will not be sent again",
                self.path,
                exc,
                lost,
            )
            return
        for alert in undelivered:
            log.warning(
                "%s kept in %s: the next run with --notify sends it again",
                _label(alert),
                self.path,
            )

    def _write(self, alerts: list[dict[str, Any]]) -> None:
        if not alerts:
            self.path.unlink(missing_ok=True)
            return
        fd, temp = tempfile.mkstemp(prefix=".hijackwatch-alerts-", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(a, ensure_ascii=False) + "\n" for a in alerts)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise


def _deliver(
    url: str,
    payload: dict[str, Any] | None,
    pending: PendingAlerts,
    redeliver: bool = True,
    **kwargs: Any,
) -> bool | None:
    """Pending alerts first, in order, then this run's. The first pending one that fails
    stops the queue (the receiver is down: each would cost the full retry series) and
    this run's alert joins the queue untried, so the receiver still gets them in order."""
    queued = pending.load()
    if queued and redeliver:
        log.info("%d undelivered alert(s) in %s: sending them first", len(queued), pending.path)
    delivered: set[str] = set()
    blocked = False
    if not redeliver:
        blocked = bool(queued)  # this run's alert goes behind them, untried
    else:
        for alert in queued:
            outcome = _send(url, alert | {"redelivered": True}, **kwargs)
            if outcome == FAILED:
                blocked = True
                break
            delivered.add(alert["alert_id"])  # or rejected: off the queue either way
    sent, keep = None, False
    if payload is not None:
        if blocked:
            log.warning(
                "%s not sent: %s",
                _label(payload),
                "the receiver did not take the pending alert(s) before it"
                if redeliver
                else "queued behind the pending alert(s) (a forced stop does not send them)",
            )
            sent, keep = False, True
        else:
            outcome = _send(url, payload, **kwargs)
            sent, keep = outcome == DELIVERED, outcome == FAILED
    if delivered or keep:
        pending.update(delivered, [payload] if keep and payload else [])
    return sent


def run_alert(outcome: RunOutcome) -> dict[str, Any] | None:
    """The run's alert, or None when it changed nothing worth one."""
    return alert_payload(outcome) if outcome.has_changes else None


def queue_alert(pending_dir: Path, payload: dict[str, Any], create: bool = False) -> None:
    """Keep ``payload`` with the pending alerts, for the next run to send (its alert_id
    lets a receiver drop a copy it got meanwhile)."""
    PendingAlerts(pending_dir, create=create).update(set(), [payload])


def notify_run(
    url: str | None,
    outcome: RunOutcome,
    *,
    pending_dir: Path | None = None,
    create_pending_dir: bool = False,
    redeliver: bool = True,
    payload: dict[str, Any] | None = None,
    **kwargs: Any,
) -> bool | None:
    """Send the run's alert if there is something to say. None when nothing was sent
    for this run.

    With ``pending_dir`` (the spool directory), alerts earlier runs could not deliver are
    sent first, even by a run without changes, to the current ``url``, and this run's
    alert is kept there if it fails too. ``redeliver=False`` (a forced stop, which must
    not take long) sends none of them: this run's alert then joins their queue untried.
    ``payload``: this run's alert as already made (run_alert), so that a caller who
    gives up waiting for the delivery can queue the very same one.
    """
    if not url:
        return None
    try:
        if payload is None:
            payload = run_alert(outcome)
        if pending_dir is None:
            return None if payload is None else send_alert(url, payload, **kwargs)
        pending = PendingAlerts(pending_dir, create=create_pending_dir)
        return _deliver(url, payload, pending, redeliver=redeliver, **kwargs)
    except Exception:  # an alert bug must not fail the crawl
        log.exception("alert for run %s failed", outcome.run_id)
        return False if outcome.has_changes else None
