"""``hijackwatch scan`` (analyse files or URLs) and ``hijackwatch eval`` (labelled corpus).

scan exits 0 when every target was analysed (whatever the verdicts), 2 when a target
could not be: missing file, failed fetch, unknown profile, or a page that could not be
analysed (binary, compressed, empty: shown with verdict ``error``), never 0 as if clean.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from hijackwatch.cli import EXIT_OK, EXIT_USAGE, CommandError, stdout_console
from hijackwatch.detect import Analysis, analyse
from hijackwatch.detect.cloaking import offsite_redirect_findings
from hijackwatch.profiles import (
    Profile,
    parse_profiles,
    rescore,
    scan_url_views,
    unanalysed_is_error,
    with_profiles,
)
from hijackwatch.report.build import VERDICT_RANK
from hijackwatch.report.text import clean, safe_json

_VERDICT_STYLE = {
    "hijacked": "bold red",
    "suspicious": "yellow",
    "clean": "green",
    "error": "magenta",
}


@dataclass(slots=True)
class ViewResult:
    """One visitor profile's view of a scanned URL (files have a single, unnamed view)."""

    profile: str | None
    analysis: Analysis
    final_url: str | None = None
    status: int | None = None


@dataclass(slots=True)
class ScanResult:
    """A target's verdict: the worst of its views (a page cloaked for crawlers is hijacked)."""

    target: str
    views: list[ViewResult]

    @property
    def worst(self) -> Analysis:
        """The worst view; a view that could not be analysed outranks clean ones.

        Clean views beside an unanalysed one do not make the target clean: that view
        (a crawler's, say) may be the one showing the spam.
        """
        worst = max(
            (v.analysis for v in self.views),
            key=lambda a: (VERDICT_RANK.get(a.verdict, 0), a.score),
        )
        if worst.verdict == "clean":
            worst = next((v.analysis for v in self.views if v.analysis.error), worst)
        return worst

    def findings(self) -> list[dict[str, str]]:
        out = []
        for view in self.views:
            for finding in view.analysis.findings:
                record = finding.as_dict()
                if view.profile:
                    record["profile"] = view.profile
                out.append(record)
        return out


def _scan_url(target: str, profiles: list[Profile], timeout: float) -> ScanResult:
    views = scan_url_views(target, profiles, timeout=timeout)
    base = views[0][1]
    if base.error and all(view.error for _, view, _ in views):
        raise CommandError(f"{target}: fetch failed: {base.error}")
    # the browser view sent off the site to a casino (as the crawl's DetectionPipeline)
    base_analysis = views[0][2]
    base_analysis.findings.extend(offsite_redirect_findings(target, base.final_url))
    rescore(base_analysis)
    return ScanResult(
        target,
        [
            ViewResult(profile.name, analysis, view.final_url, view.status)
            for profile, view, analysis in views
        ],
    )


def _scan_one(
    target: str, profiles: list[Profile] | None = None, timeout: float = 15.0
) -> ScanResult:
    if target.startswith(("http://", "https://")):
        return _scan_url(target, profiles or parse_profiles(), timeout)
    path = Path(target)
    if not path.is_file():
        raise CommandError(f"{target}: no such file")
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"{target}: cannot read: {exc.strerror}") from exc
    return ScanResult(target, [ViewResult(None, unanalysed_is_error(analyse(body)))])


def _safe(value: object) -> str:
    """Page text for the terminal: no rich markup, no escape sequences (ANSI, OSC 8)."""
    return escape(clean(value))


def _print_human(console: Console, result: ScanResult) -> None:
    worst = result.worst
    style = _VERDICT_STYLE.get(worst.verdict, "")
    console.print(
        f"[bold]{_safe(result.target)}[/bold]  [{style}]{worst.verdict}[/{style}]"
        f"  score {worst.score:.0f}"
    )
    for view in result.views:
        analysis = view.analysis
        indent = "  "
        if view.profile:
            vstyle = _VERDICT_STYLE.get(analysis.verdict, "")
            where = f" -> {_safe(view.final_url)}" if view.final_url else ""
            status = f" {view.status}" if view.status is not None else ""
            console.print(
                f"  as {_safe(view.profile)}:{status} [{vstyle}]{analysis.verdict}[/{vstyle}]"
                f" score {analysis.score:.0f}{where}"
            )
            indent = "    "
        if analysis.title:
            console.print(f"{indent}title: {_safe(analysis.title)}")
        if analysis.error:
            console.print(f"{indent}[yellow]error:[/yellow] {_safe(analysis.error)}")
        for finding in analysis.findings:
            console.print(
                f"{indent}- {_safe(finding.kind)} ({_safe(finding.severity)}): "
                f"{_safe(finding.evidence)}",
                soft_wrap=True,
            )


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 3600:  # also refuses nan
        raise argparse.ArgumentTypeError(f"want seconds between 0 and 3600, got {value!r}")
    return seconds


def run_scan(args: argparse.Namespace) -> int:
    console = stdout_console(highlight=False, soft_wrap=True)
    profiles = parse_profiles()
    if args.profile:
        try:
            profiles = with_profiles(profiles, args.profile.split(","))
        except ValueError as exc:
            raise CommandError(f"--profile: {clean(exc)}") from exc
    code = EXIT_OK
    for target in args.targets:
        try:
            result = _scan_one(target, profiles, args.timeout)
        except (CommandError, ValueError) as exc:
            print(f"hijackwatch scan: {clean(exc)}", file=sys.stderr)
            code = EXIT_USAGE
            continue
        if result.worst.verdict == "error":
            code = EXIT_USAGE
        if args.json:
            worst = result.worst
            record: dict[str, object] = {
                "target": target,
                "verdict": worst.verdict,
                "score": round(worst.score, 1),
                "findings": result.findings(),
            }
            if any(view.profile for view in result.views):
                record["profiles"] = [
                    {
                        "profile": view.profile,
                        "verdict": view.analysis.verdict,
                        "score": round(view.analysis.score, 1),
                        "status": view.status,
                        "final_url": view.final_url,
                        "title": view.analysis.title,
                    }
                    for view in result.views
                ]
            if worst.error:
                record["error"] = worst.error
            sys.stdout.write(safe_json(record) + "\n")
        else:
            _print_human(console, result)
    sys.stdout.flush()
    return code


def run_eval(args: argparse.Namespace) -> int:
    from hijackwatch.detect.evaluate import LabelsError, evaluate, format_report

    try:
        report = evaluate(args.labels)
    except LabelsError as exc:
        raise CommandError(str(exc)) from exc
    print(format_report(report))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    scan = subparsers.add_parser(
        "scan",
        help="analyse saved pages or URLs for signs of SEO hijacking",
        description="Analyse local HTML files or http(s) URLs and print verdicts and findings.",
    )
    scan.add_argument("targets", nargs="+", metavar="FILE_OR_URL")
    scan.add_argument("--json", action="store_true", help="one JSON object per line")
    scan.add_argument(
        "--profile",
        metavar="NAMES",
        help="URLs only: comma-separated visitor profiles besides the browser "
        "(default: all of googlebot, googlebot-mobile, baiduspider, search-baidu, "
        "search-google-mobile)",
    )
    scan.add_argument(
        "--timeout",
        type=_timeout,
        default=15.0,
        metavar="SECONDS",
        help="URLs only: the most each fetch may take, however slowly the server "
        "sends (default: 15)",
    )
    scan.set_defaults(func=run_scan)

    ev = subparsers.add_parser(
        "eval",
        help="measure detection against a labelled corpus",
        description="Precision, recall and false-positive rate on labelled pages "
        "(a directory holding labels.jsonl, or labels files).",
    )
    ev.add_argument("labels", nargs="+", metavar="CORPUS_DIR_OR_LABELS")
    ev.set_defaults(func=run_eval)
