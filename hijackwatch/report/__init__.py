"""Reports on the crawl history: build once, render as table, CSV, JSON or HTML."""

from __future__ import annotations

import io

from rich.console import Console

from hijackwatch.report.build import (
    ONLY_CHOICES,
    FindingEntry,
    PageEntry,
    ProfileFetch,
    Report,
    SiteEntry,
    build_report,
    parse_since,
)
from hijackwatch.report.html import render_html
from hijackwatch.report.text import render_csv, render_json, render_table

FORMATS = ("table", "csv", "json", "html")


def render(
    report: Report, fmt: str = "table", *, width: int | None = None, color: bool = False
) -> str:
    """The report as text in ``fmt``; ``table`` is rendered for a terminal ``width`` wide."""
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "html":
        return render_html(report)
    if fmt == "table":
        buffer = io.StringIO()
        console = Console(
            file=buffer,
            width=width or 160,
            force_terminal=color,
            no_color=not color,
            highlight=False,
        )
        render_table(report, console)
        return buffer.getvalue()
    raise ValueError(f"format must be one of {FORMATS}")


__all__ = [
    "FORMATS",
    "ONLY_CHOICES",
    "FindingEntry",
    "PageEntry",
    "ProfileFetch",
    "Report",
    "SiteEntry",
    "build_report",
    "parse_since",
    "render",
    "render_csv",
    "render_html",
    "render_json",
    "render_table",
]
