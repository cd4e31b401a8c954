"""One self-contained HTML file a security team can mail around.

No scripts, no external resources, inline CSS only, and a Content-Security-Policy that
forbids scripts as a second line of defence. Every value from a page goes through
``html.escape``; links are live only for http(s) URLs.
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from hijackwatch.report import build
from hijackwatch.report.build import PageEntry, Report, SiteEntry
from hijackwatch.report.text import (
    SITE_TRUNCATED,
    TRUNCATED_HINT,
    clean,
    fmt_time,
    site_headline,
)

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#1d1d1f}
h1{font-size:1.5em;margin-bottom:.2em}
.meta{color:#555;margin-bottom:1.5em}
.summary td,.summary th{padding:.2em .8em;text-align:left}
section.site{border:1px solid #ddd;border-radius:6px;margin:1.5em 0;padding:1em}
section.site h2{font-size:1.2em;margin:0 0 .5em}
.badge{display:inline-block;padding:.1em .6em;border-radius:1em;font-size:.85em;color:#fff}
.hijacked{background:#c62828}.suspicious{background:#ef6c00}.clean{background:#2e7d32}
.error{background:#616161}.new{background:#6a1b9a}
table.pages{border-collapse:collapse;width:100%}
table.pages th,table.pages td{border-top:1px solid #eee;padding:.4em;vertical-align:top;
text-align:left}
.url{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.evidence{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;
word-break:break-all;background:#f6f6f6;padding:.3em;margin:.2em 0;max-height:12em;overflow:auto}
.kind{font-weight:600}.small{color:#666;font-size:.85em}
"""


def esc(value: object) -> str:
    """Escaped text, with control characters and bidi overrides removed (display spoofing)."""
    return html.escape(clean(value), quote=True)


def url_html(url: str | None) -> str:
    """The URL as text; a link only when it is http(s) (never javascript:, data:, ...)."""
    if not url:
        return ""
    shown = f'<span class="url">{esc(url)}</span>'
    scheme = urlsplit(url.strip()).scheme.lower() if url.isprintable() else ""
    if scheme in ("http", "https"):
        return f'<a href="{esc(url)}" rel="noopener noreferrer nofollow">{shown}</a>'
    return shown


def badge(label: str) -> str:
    css = label if label in ("hijacked", "suspicious", "clean", "error", "new") else "error"
    return f'<span class="badge {css}">{esc(label)}</span>'


def _page_row(page: PageEntry) -> str:
    fetches = "<br>".join(
        f"{esc(f.profile)}: {esc(f.verdict)}"
        + (f" (HTTP {esc(f.status)})" if f.status is not None else "")
        + (f" → {url_html(f.final_url)}" if f.final_url and f.final_url != page.url else "")
        for f in page.fetches
    )
    findings = "".join(
        f'<div><span class="kind">{esc(f.kind)}</span> <span class="small">{esc(f.severity)}'
        f" · {esc(', '.join(f.profiles))}</span>"
        f'<div class="evidence">{esc(f.evidence if f.evidence is not None else "(pruned)")}</div>'
        "</div>"
        for f in page.findings
    )
    since = (
        f'<div class="small">since {esc(fmt_time(page.hijacked_since))}</div>'
        if page.hijacked_since
        else ""
    )
    return (
        "<tr>"
        f'<td>{url_html(page.url)}<div class="small">{esc(page.title or "")}</div>{since}</td>'
        f'<td>{badge(page.verdict)}<div class="small">score {page.score:.0f}</div></td>'
        f'<td class="small">{fetches}</td>'
        f"<td>{findings}</td>"
        "</tr>"
    )


def _site_section(site: SiteEntry) -> str:
    badges = badge(site.status) + (" " + badge("new") if site.new else "")
    rows = "".join(_page_row(p) for p in site.page_entries)
    table = (
        '<table class="pages"><thead><tr><th>Page</th><th>Verdict</th><th>Profiles</th>'
        f"<th>Findings and evidence</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else '<p class="small">No hijacked or suspicious pages in this run.</p>'
    )
    more = (
        f'<p class="small">{esc(SITE_TRUNCATED.format(limit=build.MAX_PAGES_PER_SITE))}</p>'
        if site.pages_truncated
        else ""
    )
    return (
        f'<section class="site"><h2>{esc(site.site)} {badges}</h2>'
        f'<p class="small">{esc(site_headline(site))}</p>{table}{more}</section>'
    )


def render_html(report: Report) -> str:
    counts = report.counts
    summary = "".join(
        f"<tr><th>{esc(k.replace('_', ' '))}</th><td>{v}</td></tr>" for k, v in counts.items()
    )
    sections = (
        "".join(_site_section(s) for s in report.sites) or "<p>No sites match this report.</p>"
    )
    hint = (
        f'<p class="small">{esc(TRUNCATED_HINT.format(limit=build.MAX_PAGES_PER_SITE))}</p>'
        if any(s.pages_truncated for s in report.sites)
        else ""
    )
    filters = f"only={report.only}"
    if report.site_filter:
        filters += f", site={report.site_filter}"
    if report.since:
        filters += f", since={fmt_time(report.since)}"
    if report.run_id is not None:
        filters += f", run={report.run_id}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>hijackwatch report</title>"
        f"<style>{CSS}</style></head><body>"
        "<h1>hijackwatch report</h1>"
        f'<div class="meta">Generated {esc(fmt_time(report.generated_at))} · {esc(filters)}'
        f" · {esc(report.database)}</div>"
        f'<table class="summary">{summary}</table>'
        f"{sections}{hint}"
        '<p class="small">Page titles, URLs and evidence are copied from the crawled pages as '
        "text; they are attacker-controlled.</p>"
        "</body></html>\n"
    )
