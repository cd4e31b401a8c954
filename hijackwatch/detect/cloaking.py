"""Cloaking checks: does a crawler or a search visitor get a different page than a browser?

Two fetches of a real page always differ (nonces, timestamps, rotating teasers, a
cookie banner left out for bots), so views are compared on what a hijacker changes
and a CMS does not: the title, the meta description, spam-lexicon hits, where the
links point (hidden ones above all), where the page navigates to, and only coarsely
on the main text (simhash distance). Nothing here imports Scrapy.
"""

from __future__ import annotations

import difflib
from urllib.parse import urlsplit

from hijackwatch.detect.findings import Finding
from hijackwatch.detect.lexicon import scan
from hijackwatch.detect.script import spammy_domain
from hijackwatch.detect.summary import ViewSummary, hamming
from hijackwatch.detect.text import (
    absolute_url,
    ascii_url,
    clip,
    collapse_ws,
    normalise,
    url_domain,
)

UA_CLOAKING = "ua_cloaking"
REFERER_CLOAKING = "referer_cloaking"
OFFSITE_REDIRECT = "offsite_redirect"

# Simhash distances (of 64 bits) between two views' main text. Honest dynamic pages
# (timestamps, rotating teasers, banners) stay well below DIFFERENT_TEXT_BITS.
DIFFERENT_TEXT_BITS = 22
OTHER_PAGE_BITS = 30
MIN_TEXT = 200  # characters of main text below which simhash says little
TITLE_SIMILAR = 0.6  # SequenceMatcher ratio above which two titles are "the same"
MAX_SCRIPTS_PER_PAGE = 20


def cloaking_kind(profile: str) -> str:
    """Finding kind for a profile name: search visitors reveal referer cloaking."""
    return REFERER_CLOAKING if profile.startswith("search") else UA_CLOAKING


def _fold(text: str) -> str:
    return collapse_ws(normalise(text or ""))[:300]


def _spam(text: str) -> tuple[bool, str]:
    hits = scan(_fold(text))
    return hits.spammy(), hits.describe(5)


def _views(profile: str, baseline: str, other: str) -> str:
    """Evidence naming both views (hostile text, clipped, to be escaped by whoever shows it)."""
    return f"browser view: {clip(baseline, 160)!r}; {profile} view: {clip(other, 160)!r}"


def title_change(first: str, second: str) -> tuple[str, str] | None:
    """(severity, why) when ``second`` is materially another title than ``first``, else None."""
    a, b = _fold(first), _fold(second)
    if a == b or not b:
        return None
    spam_b, terms = _spam(second)
    spam_a, terms_a = _spam(first)
    if spam_b and not spam_a:
        return "high", f"to spam ({terms})"
    if spam_a and not spam_b:
        return "high", f"from spam ({terms_a})"
    if difflib.SequenceMatcher(None, a, b).ratio() < TITLE_SIMILAR:
        return "medium", "to another title"
    return None


def _title_findings(
    baseline: ViewSummary, other: ViewSummary, profile: str, kind: str
) -> list[Finding]:
    change = title_change(baseline.title, other.title)
    if change is None or change[1].startswith("from spam"):
        return []
    severity, why = change
    return [
        Finding(
            kind,
            severity,
            f"{profile} gets a different title ({why}); "
            + _views(profile, baseline.title, other.title),
        )
    ]


def _description_findings(
    baseline: ViewSummary, other: ViewSummary, profile: str, kind: str
) -> list[Finding]:
    if _fold(baseline.description) == _fold(other.description):
        return []
    other_spam, terms = _spam(other.description)
    if other_spam and not _spam(baseline.description)[0]:
        return [
            Finding(
                kind,
                "medium",
                f"{profile} gets a spam meta description ({terms}); "
                + _views(profile, baseline.description, other.description),
            )
        ]
    return []


def _spam_findings(
    baseline: ViewSummary, other: ViewSummary, profile: str, kind: str
) -> list[Finding]:
    known = set(baseline.spam_terms)
    new_terms = [t for t in other.spam_terms if t not in known]
    extra_hits = other.spam_hits - baseline.spam_hits
    if extra_hits >= 3 and len(new_terms) >= 2:
        return [
            Finding(
                kind,
                "high",
                f"{extra_hits} more spam-lexicon hits for {profile} than for the browser "
                f"({baseline.spam_hits} vs {other.spam_hits}); only in {profile}'s view: "
                + clip(", ".join(new_terms[:8]), 200),
            )
        ]
    return []


def _link_findings(
    baseline: ViewSummary, other: ViewSummary, profile: str, kind: str
) -> list[Finding]:
    findings: list[Finding] = []
    hidden = sorted(other.hidden_link_domains - baseline.hidden_link_domains)
    if hidden:
        findings.append(
            Finding(
                kind,
                "high",
                f"hidden links shown only to {profile}: " + clip(", ".join(hidden[:10]), 200),
            )
        )
    new = sorted(other.outbound_domains - baseline.outbound_domains - set(hidden))
    spammy = [d for d in new if spammy_domain(d)]
    if spammy:
        findings.append(
            Finding(
                kind,
                "high",
                f"links to {len(spammy)} gambling/porn-looking domains only for {profile}: "
                + clip(", ".join(spammy[:10]), 200)
                + f" (browser view links to {len(baseline.outbound_domains)} domains)",
            )
        )
    elif len(new) >= 3:
        findings.append(
            Finding(
                kind,
                "medium",
                f"{len(new)} outbound domains only for {profile}: "
                + clip(", ".join(new[:10]), 200)
                + f" (browser view links to {len(baseline.outbound_domains)} domains)",
            )
        )
    return findings


def _text_findings(
    baseline: ViewSummary, other: ViewSummary, profile: str, kind: str
) -> list[Finding]:
    if baseline is other or (
        baseline.main_text  # sealed summaries (the crawl's) keep no text to compare
        and baseline.text_length == other.text_length
        and baseline.main_text == other.main_text
    ):
        return []  # the same text (often the same analysis): no fingerprint needed
    if min(baseline.text_length, other.text_length) < MIN_TEXT or not (
        baseline.simhash and other.simhash
    ):
        grown = other.text_length >= 3 * baseline.text_length + 500
        if grown:
            return [
                Finding(
                    kind,
                    "medium",
                    f"{profile} gets {other.text_length} characters of text, the browser "
                    f"{baseline.text_length}",
                )
            ]
        return []
    bits = hamming(baseline.simhash, other.simhash)
    if bits < DIFFERENT_TEXT_BITS:
        return []
    # a view with less than half the browser's text is a trimmed page (teaser, no
    # widgets), not an injected one: only a replaced or grown text is medium
    replaced = other.text_length * 2 >= baseline.text_length
    severity = "medium" if bits >= OTHER_PAGE_BITS and replaced else "low"
    return [
        Finding(
            kind,
            severity,
            f"main text differs for {profile}: simhash distance {bits}/64 "
            f"(browser {baseline.text_length} chars, {profile} {other.text_length} chars)",
        )
    ]


def _redirect_findings(
    baseline: ViewSummary, other: ViewSummary, profile: str, kind: str
) -> list[Finding]:
    target = other.redirect_to
    if not target or target == baseline.redirect_to:
        return []
    domain = url_domain(target)
    if not domain or (baseline.redirect_to and url_domain(baseline.redirect_to) == domain):
        return []
    return [
        Finding(
            kind,
            "high",
            f"the page sends {profile} to {clip(target, 200)!r} (meta refresh or script); "
            f"browser view: {clip(baseline.redirect_to or 'no redirect', 200)!r}",
        )
    ]


_CHECKS = (
    _title_findings,
    _description_findings,
    _spam_findings,
    _link_findings,
    _text_findings,
    _redirect_findings,
)


def compare_views(
    baseline: ViewSummary, other: ViewSummary, profile: str, *, kind: str | None = None
) -> list[Finding]:
    """Cloaking findings for ``other`` (fetched as ``profile``) against the browser view.

    Only what ``other`` adds counts (spam, links, a redirect); what it leaves out (a
    cookie banner, consent scripts) is how sites legitimately serve bots.
    """
    kind = kind or cloaking_kind(profile)
    findings: list[Finding] = []
    for check in _CHECKS:
        findings.extend(check(baseline, other, profile, kind))
    return findings


def offsite_target(page_url: str, final_url: str | None) -> str | None:
    """Registrable domain ``final_url`` lands on when it left the page's domain."""
    if not final_url:
        return None
    domain = url_domain(final_url)
    if not domain or domain == url_domain(page_url):
        return None
    return domain


def compare_redirects(
    page_url: str,
    baseline_final: str | None,
    other_final: str | None,
    profile: str,
    *,
    kind: str | None = None,
) -> list[Finding]:
    """An HTTP redirect off the site that only ``profile`` gets (the classic search-visitor hop)."""
    other_domain = offsite_target(page_url, other_final)
    if other_domain is None or other_domain == offsite_target(page_url, baseline_final):
        return []
    spam = " (gambling/porn-looking domain)" if spammy_domain(other_domain) else ""
    return [
        Finding(
            kind or cloaking_kind(profile),
            "high",
            f"{profile} is redirected to {clip(other_final or '', 200)!r}{spam}; "
            f"browser ends at {clip(baseline_final or page_url, 200)!r}",
        )
    ]


def offsite_redirect_findings(page_url: str, final_url: str | None) -> list[Finding]:
    """A high finding when the browser view itself is redirected (HTTP) off the site to a
    gambling/porn-looking domain: a hijack that sends every visitor away has no view
    that differs to compare. Off the site to an ordinary domain is a domain move."""
    domain = offsite_target(page_url, final_url)
    if domain is None or not spammy_domain(domain):
        return []
    return [
        Finding(
            OFFSITE_REDIRECT,
            "high",
            f"the page redirects (HTTP) off the site to {clip(final_url or '', 200)!r} "
            "(gambling/porn-looking domain)",
        )
    ]


def absolute_script_urls(
    srcs: list[str], base_url: str, limit: int = MAX_SCRIPTS_PER_PAGE
) -> list[str]:
    """Absolute http(s) script URLs, in order, deduplicated, without fragments, bounded."""
    out: list[str] = []
    for src in srcs:
        url = absolute_url(base_url, src)[:2000]
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue
        try:  # fetched by Scrapy, which would spell a Unicode host with IDNA 2003
            url = ascii_url(parts._replace(fragment="").geturl())
        except (UnicodeError, ValueError):
            continue
        if url not in out:
            out.append(url)
            if len(out) >= limit:
                break
    return out


def compare_fetches(
    page_url: str,
    baseline: tuple[ViewSummary | None, str | None],
    other: tuple[ViewSummary | None, str | None],
    profile: str,
    *,
    kind: str | None = None,
) -> list[Finding]:
    """All cloaking findings for one profile's fetch: ((summary, final URL) per view).

    A view without a summary (a bare 3xx, a failed analysis) is compared on its
    redirect only; one rule for the crawl pipeline and ``hijackwatch scan``.
    """
    findings = compare_redirects(page_url, baseline[1], other[1], profile, kind=kind)
    if baseline[0] is not None and other[0] is not None and not findings:
        findings.extend(compare_views(baseline[0], other[0], profile, kind=kind))
    return findings


def external_script_findings(source: str, script_url: str) -> list[Finding]:
    """``analyse_script`` on one fetched script, each finding naming the script's URL."""
    from hijackwatch.detect.analysis import analyse_script  # lazy: no import cycle with analysis

    return [
        Finding(
            f.kind, f.severity, f"external script {clip(script_url, 200)}: {f.evidence}", f.points
        )
        for f in analyse_script(source, script_url)
    ]
