"""Webhook alerts: POST a JSON summary when a run opens or closes site incidents.

Alerts must never cost the crawl its result: every failure is logged and swallowed,
retries back off, and the caller runs ``send_alert`` in a worker thread.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from hijackwatch.seeds import LOOPBACK_ENV, is_loopback, loopback_only
from hijackwatch.storage.incidents import RunOutcome

log = logging.getLogger(__name__)

USER_AGENT = "hijackwatch-alerts/1"
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF = 1.0  # seconds; doubles after each failed attempt
DEFAULT_TIMEOUT = 10.0
REASON_MAX = 160  # characters of a broken reply quoted in the log


def alert_payload(outcome: RunOutcome) -> dict[str, Any]:
    """The JSON body of an alert: what changed in this run."""
    return {
        "event": "hijackwatch.run_changes",
        "sent_at": datetime.now(UTC).isoformat(),
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
    return f"{parts.scheme}://{host}{port}/…"


def _reason(exc: Exception) -> str:
    """Why an attempt failed. A broken reply (http.client) is quoted escaped and cut short:
    it is whatever the receiver sent, up to a 64 KiB status line."""
    if isinstance(exc, http.client.HTTPException) and not isinstance(exc, OSError):
        quoted = repr(exc)  # escaped: no control characters reach the log
        if len(quoted) > REASON_MAX:
            quoted = quoted[: REASON_MAX - 1] + "…"
        return f"invalid HTTP response from the receiver: {quoted}"
    return str(exc) or type(exc).__name__


def send_alert(
    url: str,
    payload: dict[str, Any],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    timeout: float = DEFAULT_TIMEOUT,
) -> bool:
    """POST ``payload`` as JSON; retry with exponential backoff. True when delivered (2xx).

    Blocking: call it in a thread. Never raises.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        log.error("alert not sent: notify URL must be http(s), got %r", _where(url))
        return False
    if loopback_only() and not is_loopback(url):  # tests, benchmarks, demo: stay on 127/8
        log.error("alert not sent: %s is set, %s is not loopback", LOOPBACK_ENV, _where(url))
        return False
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    delay = backoff
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                # a 2xx status means delivered: a body that breaks off after it must not
                # send the alert again
                with contextlib.suppress(OSError, http.client.HTTPException):
                    response.read(65536)
                log.info(
                    "alert for run %s delivered (HTTP %s)", payload.get("run_id"), response.status
                )
                return True
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            log.warning(
                "alert attempt %d/%d to %s failed: %s", attempt, attempts, _where(url), _reason(exc)
            )
        if attempt < attempts:
            time.sleep(delay)
            delay *= 2
    log.error(
        "alert for run %s NOT delivered to %s after %d attempts",
        payload.get("run_id"),
        _where(url),
        attempts,
    )
    return False


def notify_run(url: str | None, outcome: RunOutcome, **kwargs: Any) -> bool | None:
    """Send the run's alert if there is something to say. None when nothing was sent."""
    if not url or not outcome.has_changes:
        return None
    try:
        return send_alert(url, alert_payload(outcome), **kwargs)
    except Exception:  # an alert bug must not fail the crawl
        log.exception("alert for run %s failed", outcome.run_id)
        return False
