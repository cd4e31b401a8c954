"""Text renderers (rich table, CSV, JSON) and the wording shared by every format."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hijackwatch.report import build
from hijackwatch.report.build import Report, SiteEntry

# C0/C1 controls (minus tab/newline): hostile text must not drive the terminal (ANSI, OSC 8).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")
# Spreadsheets hold at most 32,767 characters in a cell; Python's csv reader refuses
# fields over 131,072 by default. Hostile titles can be megabytes long.
CSV_CELL_MAX = 32_000
# What json.dumps(ensure_ascii=False) leaves raw but a terminal or a JavaScript string
# must not get: DEL, C1 controls (\x9b is CSI), bidi overrides, line/paragraph separators.
_JSON_RAW_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
STATUS_STYLE = {"hijacked": "bold red", "suspicious": "yellow", "clean": "green", "error": "dim"}
EVIDENCE_CELL = 160
# every format stops at the same per-site limit: only SQL lists the rest
TRUNCATED_HINT = (
    "Some sites have more hijacked or suspicious pages than the {limit} per site a report "
    "shows (in every format). The database keeps them all; list them with SQL, e.g. the "
    "problem_pages_latest query in docs/queries.sql."
)
# under each cut site's pages (JSON: pages_truncated; CSV: its column)
SITE_TRUNCATED = (
    "Only the first {limit} hijacked or suspicious pages (by URL) are listed; "
    "the database has more."
)


def fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def fmt_day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


def clean(value: Any, limit: int | None = None) -> str:
    """Printable single-purpose text: controls and bidi overrides removed, length bounded."""
    text = _CONTROLS.sub("", "" if value is None else str(value))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def site_headline(site: SiteEntry) -> str:
    """``hijacked since 2026-11-03 (run 4), 14 pages`` / ``clean, cleaned on 2026-11-20``."""
    parts = [site.status]
    if site.unconfirmed:
        parts = [
            f"hijacked since {fmt_day(site.hijacked_since)} (run {site.incident_run_id}), "
            f"not confirmed by run {site.run_id}: {site.status} there, the hijacked pages "
            "not seen clean"
        ]
    elif site.hijacked_since:
        parts.append(f"since {fmt_day(site.hijacked_since)} (run {site.incident_run_id})")
    if site.previously_cleaned_at:
        parts.append(
            f"again: cleaned before on {fmt_day(site.previously_cleaned_at)} "
            f"(run {site.previously_cleaned_run_id})"
        )
    if site.status == "hijacked":
        parts.append(f"{site.hijacked_pages} hijacked of {site.pages} pages")
    elif site.suspicious_pages:
        parts.append(f"{site.suspicious_pages} suspicious of {site.pages} pages")
    if site.cleaned_at:
        parts.append(f"cleaned on {fmt_day(site.cleaned_at)} (run {site.cleaned_run_id})")
    if site.error:
        parts.append(f"could not be read: {site.error}")
    parts.append(f"last crawled {fmt_time(site.crawled_at)} (run {site.run_id})")
    return ", ".join(parts)


# -- rich table -----------------------------------------------------------------------


def render_table(report: Report, console: Console) -> None:
    """Readable at a glance: one line per site, then per hijacked site its pages."""
    overview = Table(title="hijackwatch: sites", box=box.SIMPLE_HEAVY, expand=False)
    overview.add_column("site", overflow="fold", min_width=12)
    for column in ("status", "since / cleaned", "hij.", "susp.", "pages", "run"):
        overview.add_column(column, no_wrap=True)
    for s in report.sites:
        style = STATUS_STYLE.get(s.status, "")
        status = ("[magenta]NEW[/] " if s.new else "") + f"[{style}]{escape(s.status)}[/]"
        if s.unconfirmed:  # still under an open incident: say so where it is read
            status = f"[bold red]hijacked?[/] ({escape(s.status)} this run)"
        since = fmt_day(s.hijacked_since) or (
            f"cleaned {fmt_day(s.cleaned_at)}" if s.cleaned_at else ""
        )
        if s.previously_cleaned_at:  # a recurrence: the same site hijacked again
            since += f" (again; cleaned {fmt_day(s.previously_cleaned_at)})"
        overview.add_row(
            escape(clean(s.site)),
            status,
            since,
            str(s.hijacked_pages),
            str(s.suspicious_pages),
            str(s.pages),
            str(s.run_id),
        )
    console.print(overview)
    if not report.sites:
        console.print("No sites match this report.")
    for s in report.sites:
        if s.error:
            site, error = escape(clean(s.site)), escape(clean(s.error, EVIDENCE_CELL))
            console.print(f"{site}: could not be read: {error}")
    if any(s.unconfirmed for s in report.sites):
        console.print(
            "hijacked?: an incident is open but this run did not see the site hijacked; "
            "it stays open until its hijacked pages are fetched again and seen clean "
            "(a site that blocks the crawler or answers 5xx is not)."
        )
    for s in report.sites:
        if not s.page_entries:
            continue
        table = Table(
            title=escape(clean(f"{s.site}: {site_headline(s)}")),
            box=box.SIMPLE,
            show_lines=True,
            title_justify="left",
            caption=SITE_TRUNCATED.format(limit=build.MAX_PAGES_PER_SITE)
            if s.pages_truncated
            else None,
            caption_justify="left",
            expand=True,
        )
        longest = max(len(clean(p.url)) for p in s.page_entries)
        table.add_column("page", overflow="fold", ratio=3, min_width=min(longest, 70))
        table.add_column("verdict", no_wrap=True)
        table.add_column("profiles", overflow="fold", ratio=1)
        table.add_column("findings (evidence from the page)", overflow="fold", ratio=3)
        for p in s.page_entries:
            title = f"\n[dim]{escape(clean(p.title, 200))}[/]" if p.title else ""
            findings = "\n".join(
                f"[bold]{escape(clean(f.kind))}[/] ({escape(clean(f.severity))}): "
                + (
                    escape(clean(f.evidence, EVIDENCE_CELL))
                    if f.evidence is not None
                    else "[dim](pruned)[/]"
                )
                for f in p.findings
            )
            profiles = escape(profiles_cell(p.fetches))
            style = STATUS_STYLE.get(p.verdict, "")
            table.add_row(
                escape(clean(p.url)) + title,
                f"[{style}]{escape(p.verdict)}[/] {p.score:.0f}",
                profiles,
                findings,
            )
        console.print(table)
    if any(s.pages_truncated for s in report.sites):
        console.print(f"[dim]{TRUNCATED_HINT.format(limit=build.MAX_PAGES_PER_SITE)}[/]")


def profiles_cell(fetches: list[build.ProfileFetch]) -> str:
    """Which visitor profiles got which verdict, worst first: ``all 6: hijacked`` when they
    agree, else ``hijacked: googlebot, baiduspider`` / ``clean: browser`` (cloaking)."""
    by_verdict: dict[str, list[str]] = {}
    for fetch in fetches:
        by_verdict.setdefault(clean(fetch.verdict, 20), []).append(clean(fetch.profile, 60))
    if len(by_verdict) == 1 and len(fetches) > 1:
        return f"all {len(fetches)}: {next(iter(by_verdict))}"
    worst_first = sorted(by_verdict.items(), key=lambda kv: -build.VERDICT_RANK.get(kv[0], 0))
    return "\n".join(f"{verdict}: {', '.join(profiles)}" for verdict, profiles in worst_first)


# -- CSV --------------------------------------------------------------------------------

CSV_COLUMNS = (
    "site",
    "site_status",
    "new",
    "hijacked_since",
    "cleaned_at",
    "run_id",
    "crawled_at",
    "url",
    "page_verdict",
    "score",
    "profiles",
    "title",
    "finding_kind",
    "severity",
    "evidence",
    # last, so earlier columns keep their places: "yes" on every row of a site whose
    # pages stop at the per-site limit (JSON's pages_truncated)
    "pages_truncated",
    # "yes": an incident is open but this run did not see the site hijacked
    "unconfirmed",
    # why a site with status error could not be read (its most frequent page error)
    "site_error",
    # an open incident's site was cleaned before (a recurrence): that cleaning's date;
    # cleaned_at stays empty while an incident is open
    "previously_cleaned_at",
)


def csv_cell(value: Any) -> str:
    """Neutralise spreadsheet formulas (hostile titles like ``=HYPERLINK(...)``)."""
    text = clean(value, CSV_CELL_MAX)
    # some spreadsheets skip leading blanks before deciding that a cell is a formula
    return "'" + text if text.lstrip(" \n").startswith(_CSV_FORMULA) else text


def render_csv(report: Report) -> str:
    """One row per finding (pages without findings and sites without pages get one row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in report.sites:
        site_part = [
            s.site,
            s.status,
            "yes" if s.new else "",
            s.hijacked_since.isoformat() if s.hijacked_since else "",
            s.cleaned_at.isoformat() if s.cleaned_at else "",
            s.run_id,
            s.crawled_at.isoformat() if s.crawled_at else "",
        ]
        last = [
            "yes" if s.pages_truncated else "",
            "yes" if s.unconfirmed else "",
            s.error,
            s.previously_cleaned_at.isoformat() if s.previously_cleaned_at else "",
        ]
        if not s.page_entries:
            writer.writerow([csv_cell(v) for v in site_part + [""] * 8 + last])
        for p in s.page_entries:
            page_part = [
                p.url,
                p.verdict,
                f"{p.score:.1f}",
                " ".join(f"{f.profile}:{f.verdict}" for f in p.fetches),
                p.title or "",
            ]
            rows = [[f.kind, f.severity, f.evidence or ""] for f in p.findings] or [["", "", ""]]
            for finding_part in rows:
                writer.writerow([csv_cell(v) for v in site_part + page_part + finding_part + last])
    return out.getvalue()


# -- JSON -------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def safe_json(value: Any, **options: Any) -> str:
    """``json.dumps`` that keeps text readable (no ``\\u`` for every CJK character) but
    escapes what a terminal would act on: the data is unchanged for a JSON reader."""
    text = json.dumps(value, default=_json_default, ensure_ascii=False, **options)
    return _JSON_RAW_UNSAFE.sub(_json_escape, text)


def _json_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def render_json(report: Report) -> str:
    return safe_json(report.as_dict(), indent=2) + "\n"
