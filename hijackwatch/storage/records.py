"""Plain, JSON-able page records: what StoragePipeline buffers, writes and spools.

Converting a PageItem to a record right away lets the pipeline drop the body (and the
detection objects) at once and makes a batch serialisable for the spool file.
"""

from __future__ import annotations

import base64
import re
import zlib
from datetime import UTC, datetime
from typing import Any

BODY_POLICIES = ("none", "flagged", "all")
BODY_MAX = 2 * 1024 * 1024  # bytes of page body kept as evidence, before compression
# Hostile pages reach the text fields (titles, evidence decoded from script escapes):
# PostgreSQL refuses NUL in text, and lone surrogates cannot be encoded as UTF-8 for
# any database or the spool file. Both become U+FFFD.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: Any) -> str | None:
    """``text`` as a string every database and the spool file accept (None stays None)."""
    if text is None:
        return None
    text = str(text)
    return _UNSTORABLE.sub("\ufffd", text)


def verdict_of(item: Any) -> str:
    """``error`` for failed fetches whatever detection said, else detection's verdict."""
    if getattr(item, "status", None) is None or getattr(item, "error", None):
        return "error"
    return str(getattr(item, "verdict", None) or "clean")


def as_utc(value: datetime | None) -> datetime | None:
    """Timezone-aware UTC; SQLite hands naive datetimes back, which are UTC by convention."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _finding_dict(finding: Any) -> dict[str, str]:
    if isinstance(finding, dict):
        kind, severity = finding.get("kind", ""), finding.get("severity", "low")
        evidence = finding.get("evidence", "")
    else:
        kind, severity, evidence = finding.kind, finding.severity, finding.evidence
    return {"kind": str(kind), "severity": str(severity), "evidence": storable(evidence) or ""}


def page_record(item: Any, body_policy: str = "flagged") -> dict[str, Any]:
    """A record of one PageItem; the body is kept (compressed) only as the policy says."""
    verdict = verdict_of(item)
    fetched = as_utc(getattr(item, "fetched_at", None)) or datetime.now(UTC)
    record: dict[str, Any] = {
        "url": storable(item.url),
        "site": item.site,
        "profile": item.profile or "browser",
        "final_url": storable(item.final_url),
        "status": item.status,
        "error": storable(item.error),
        "depth": int(item.depth or 0),
        "content_type": storable(item.content_type),
        "fetched_at": fetched.isoformat(),
        "referer": storable(getattr(item, "referer", None)),
        "title": storable(item.title),
        "score": float(item.score or 0.0),
        "verdict": verdict,
        "findings": [_finding_dict(f) for f in (item.findings or [])],
        "outbound_domains": sorted({storable(d) or "" for d in (item.outbound_domains or [])}),
        "body": None,
    }
    body = item.body
    keep = body_policy == "all" or (
        body_policy == "flagged" and verdict in ("hijacked", "suspicious")
    )
    if keep and body:
        truncated = len(body) > BODY_MAX
        raw = bytes(body[:BODY_MAX])
        record["body"] = {
            "data": base64.b64encode(zlib.compress(raw, 6)).decode("ascii"),
            "size": len(raw),
            "truncated": truncated,
            "encoding": item.encoding,
        }
    return record


def compressed_body(body: dict[str, Any]) -> bytes:
    """The record's body as stored in ``page_bodies.body``: zlib bytes, base64 undone."""
    return base64.b64decode(body["data"])


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return as_utc(value)
    return as_utc(datetime.fromisoformat(value))
