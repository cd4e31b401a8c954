"""Shared result types of the detection library: what every detector returns.

These types are the contract between detection, the crawl pipelines and storage;
they import nothing from Scrapy or SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hijackwatch.detect.summary import ViewSummary

SEVERITIES = ("low", "medium", "high")
VERDICTS = ("hijacked", "suspicious", "clean")

# Points one finding adds to a page's score, by severity. A page is ``hijacked`` at
# HIJACKED_SCORE or above and ``suspicious`` at SUSPICIOUS_SCORE or above.
SEVERITY_POINTS = {"low": 10.0, "medium": 30.0, "high": 60.0}
HIJACKED_SCORE = 60.0
SUSPICIOUS_SCORE = 20.0
EVIDENCE_MAX = 2000

# Finding kinds, grouped by the technique they reveal (the evaluation reports per technique).
KIND_TECHNIQUE = {
    "title_injection": "title",
    "meta_injection": "title",
    "title_swap": "title",
    "hidden_links": "hidden",
    "hidden_content": "hidden",
    "template_debris": "debris",
    "injected_text": "text",
    "keyword_stuffing": "text",
    "link_farm": "text",
    "meta_refresh": "redirect",
    "iframe_overlay": "redirect",
    "script_redirect": "redirect",
    "canonical_hijack": "redirect",
    "offsite_redirect": "redirect",
    "parasite_page": "parasite",
    "ua_cloaking": "cloaking",
    "referer_cloaking": "cloaking",
}
TECHNIQUES = ("title", "hidden", "debris", "text", "redirect", "parasite", "cloaking")


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of evidence that a page was tampered with.

    ``evidence`` is plain text taken from the hostile page (never HTML to render):
    whoever shows it must escape it.
    """

    kind: str
    severity: str
    evidence: str
    points: float | None = None  # overrides SEVERITY_POINTS[severity] when set

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if len(self.evidence) > EVIDENCE_MAX:
            object.__setattr__(self, "evidence", self.evidence[: EVIDENCE_MAX - 1] + "…")

    @property
    def weight(self) -> float:
        return self.points if self.points is not None else SEVERITY_POINTS[self.severity]

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "severity": self.severity, "evidence": self.evidence}


def unique_findings(findings: list[Finding]) -> list[Finding]:
    """First of each (kind, evidence) pair, in order: detectors often see the same thing twice."""
    seen: set[tuple[str, str]] = set()
    out = []
    for f in findings:
        key = (f.kind, f.evidence)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def score_findings(findings: list[Finding]) -> tuple[float, str]:
    """Combine findings into (score 0..100, verdict); one rule for scan, crawl and cloaking."""
    score = min(100.0, sum(f.weight for f in findings))
    if score >= HIJACKED_SCORE:
        return score, "hijacked"
    if score >= SUSPICIOUS_SCORE:
        return score, "suspicious"
    return score, "clean"


@dataclass(slots=True)
class Analysis:
    """The result of analysing one page."""

    verdict: str
    score: float
    findings: list[Finding] = field(default_factory=list)
    title: str | None = None
    encoding: str | None = None
    outbound_domains: list[str] = field(default_factory=list)
    summary: ViewSummary = field(default_factory=ViewSummary)
    error: str | None = None  # set when the input could not be analysed (binary, empty...)
    # <script src> values as written, in page order: `scan URL` fetches them without
    # parsing the page again
    script_srcs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "score": round(self.score, 1),
            "title": self.title,
            "findings": [f.as_dict() for f in self.findings],
        }
