"""Evaluate the detector against labelled pages: precision, recall, false-positive rate.

Labels are JSON lines ``{"path", "label": "hijacked"|"clean", "techniques", ...}``
with paths relative to the labels file. Verdict ``hijacked`` is a positive;
``suspicious`` counts as negative (it is not reported as a hijack).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hijackwatch.detect.analysis import analyse
from hijackwatch.detect.findings import KIND_TECHNIQUE, TECHNIQUES, Finding


class LabelsError(ValueError):
    """A labels file is missing or malformed."""


@dataclass(slots=True)
class Miss:
    path: str
    label: str
    verdict: str
    score: float
    techniques: list[str]
    findings: list[Finding]
    error: str | None = None


@dataclass(slots=True)
class TechniqueStats:
    pages: int = 0  # hijacked pages labelled with the technique
    detected: int = 0  # of those, verdict hijacked
    found: int = 0  # of those, a finding of that technique was produced

    @property
    def recall(self) -> float:
        return self.detected / self.pages if self.pages else 1.0


@dataclass(slots=True)
class EvalReport:
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    suspicious_clean: int = 0  # clean pages that came out 'suspicious'
    seconds: float = 0.0
    per_technique: dict[str, TechniqueStats] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def fpr(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0


def resolve_labels(targets: Iterable[str | Path]) -> list[Path]:
    """Labels files for the given paths (a directory means its labels.jsonl)."""
    out = []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            path = path / "labels.jsonl"
        if not path.is_file():
            raise LabelsError(f"no labels file at {path}")
        out.append(path)
    return out


def _rows(labels: Path) -> Iterable[dict[str, object]]:
    with labels.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LabelsError(f"{labels}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or row.get("label") not in ("hijacked", "clean"):
                raise LabelsError(f"{labels}:{number}: needs a label 'hijacked' or 'clean'")
            if not isinstance(row.get("path"), str):
                raise LabelsError(f"{labels}:{number}: needs a path")
            yield row


def evaluate(labels_paths: Iterable[str | Path]) -> EvalReport:
    """Analyse every labelled page and compare verdicts with labels."""
    report = EvalReport(per_technique={t: TechniqueStats() for t in TECHNIQUES})
    started = time.perf_counter()
    for labels in resolve_labels(labels_paths):
        for row in _rows(labels):
            page = (labels.parent / str(row["path"])).resolve()
            techniques = [str(t) for t in row.get("techniques") or []]  # type: ignore[union-attr]
            try:
                body = page.read_bytes()
            except OSError as exc:
                raise LabelsError(f"{labels}: cannot read {row['path']}: {exc.strerror}") from exc
            url = str(row.get("url") or "")
            analysis = analyse(body, url)
            positive = analysis.verdict == "hijacked"
            hijacked = row["label"] == "hijacked"
            if hijacked:
                found = {KIND_TECHNIQUE.get(f.kind) for f in analysis.findings}
                for technique in techniques:
                    stats = report.per_technique.setdefault(technique, TechniqueStats())
                    stats.pages += 1
                    stats.detected += positive
                    stats.found += technique in found
            if positive and hijacked:
                report.tp += 1
            elif positive:
                report.fp += 1
            elif hijacked:
                report.fn += 1
            else:
                report.tn += 1
                report.suspicious_clean += analysis.verdict == "suspicious"
            if positive != hijacked:
                report.misses.append(
                    Miss(
                        str(row["path"]),
                        str(row["label"]),
                        analysis.verdict,
                        analysis.score,
                        techniques,
                        analysis.findings[:3],
                        analysis.error,
                    )
                )
    report.seconds = time.perf_counter() - started
    return report


def format_report(report: EvalReport) -> str:
    """Plain-text report (page text in misses is plain; escape it before rendering as markup)."""
    lines = [
        f"pages: {report.total}  (hijacked {report.tp + report.fn}, clean {report.fp + report.tn})",
        f"precision: {report.precision:.3f}  recall: {report.recall:.3f}  "
        f"false-positive rate: {report.fpr:.4f}",
        f"TP {report.tp}  FN {report.fn}  FP {report.fp}  TN {report.tn}  "
        f"(clean pages marked suspicious: {report.suspicious_clean})",
        f"time: {report.seconds:.2f}s",
        "",
        "per technique (hijacked pages labelled with it):",
        f"  {'technique':<10} {'pages':>6} {'recall':>7} {'finding':>8}",
    ]
    for name, stats in report.per_technique.items():
        if stats.pages:
            lines.append(
                f"  {name:<10} {stats.pages:>6} {stats.recall:>7.3f} "
                f"{stats.found / stats.pages:>8.3f}"
            )
    lines.append("")
    if not report.misses:
        lines.append("misses: none")
    else:
        lines.append(f"misses ({len(report.misses)}):")
        for miss in report.misses:
            kind = "false negative" if miss.label == "hijacked" else "false positive"
            lines.append(
                f"  {kind}: {miss.path}  verdict={miss.verdict} score={miss.score:.0f}"
                f"  techniques={','.join(miss.techniques) or '-'}"
            )
            if miss.error:
                lines.append(f"    error: {miss.error}")
            for finding in miss.findings:
                lines.append(f"    {finding.kind}/{finding.severity}: {finding.evidence[:200]}")
    return "\n".join(lines)
