"""The evaluation harness, and the pinned detector quality on the labelled corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hijackwatch.detect.evaluate import LabelsError, evaluate, format_report
from tests.conftest import BENIGN_DIR, REPO, SEED_PAGE

CORPUS_LABELS = REPO / "tests" / "corpus" / "labels.jsonl"


def write_labels(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return labels


def test_counts_and_rates(tmp_path: Path) -> None:
    (tmp_path / "seed.html").write_bytes(SEED_PAGE.read_bytes())
    (tmp_path / "seed-as-clean.html").write_bytes(SEED_PAGE.read_bytes())
    (tmp_path / "plain.html").write_text("<title>Opening hours</title><p>Open 9 to 5.</p>")
    benign = BENIGN_DIR / "readability" / "002.html"
    labels = write_labels(
        tmp_path,
        [
            {"path": "seed.html", "label": "hijacked", "techniques": ["title", "debris", "text"]},
            {"path": "plain.html", "label": "hijacked", "techniques": ["redirect"]},  # missed
            {"path": "seed-as-clean.html", "label": "clean", "techniques": []},  # false positive
            {"path": str(benign), "label": "clean", "techniques": []},  # absolute path
        ],
    )
    report = evaluate([labels])
    assert (report.tp, report.fn, report.fp, report.tn) == (1, 1, 1, 1)
    assert report.recall == 0.5 and report.precision == 0.5 and report.fpr == 0.5
    assert report.per_technique["title"].pages == 1 and report.per_technique["title"].recall == 1.0
    assert report.per_technique["redirect"].recall == 0.0
    assert {m.path for m in report.misses} == {"plain.html", "seed-as-clean.html"}
    text = format_report(report)
    assert "false negative: plain.html" in text
    assert "false positive: seed-as-clean.html" in text
    assert "title_injection/high" in text  # top findings of the false positive


def test_relative_paths_outside_the_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "a" / "b"
    corpus.mkdir(parents=True)
    (tmp_path / "page.html").write_bytes(SEED_PAGE.read_bytes())
    write_labels(corpus, [{"path": "../../page.html", "label": "hijacked", "techniques": []}])
    assert evaluate([corpus]).tp == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "not JSON"),
        ('{"path": "x.html", "label": "maybe"}\n', "label"),
        ('{"label": "clean"}\n', "path"),
        ('{"path": "gone.html", "label": "clean"}\n', "cannot read"),
    ],
)
def test_bad_labels(tmp_path: Path, content: str, message: str) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text(content)
    with pytest.raises(LabelsError, match=message):
        evaluate([labels])


def test_missing_labels_file(tmp_path: Path) -> None:
    with pytest.raises(LabelsError, match="no labels file"):
        evaluate([tmp_path / "nothing"])


@pytest.mark.skipif(not CORPUS_LABELS.exists(), reason="labelled corpus not generated yet")
def test_corpus_quality_targets() -> None:
    """Pins the detector on the labelled corpus: recall >= 0.97, FPR <= 0.005."""
    report = evaluate([CORPUS_LABELS])
    assert report.total >= 100
    details = format_report(report)
    assert report.recall >= 0.97, details
    assert report.fpr <= 0.005, details
