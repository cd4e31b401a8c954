"""``./hw``: hijackwatch commands run where the user called it; tests run in the repository."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ECHO = '#!/bin/sh\necho "$(pwd)" "$@"\n'


def fake_repo(tmp_path: Path) -> Path:
    """A copy of ``hw`` beside a ready .venv whose programs print where they run: no
    venv is created and nothing is installed."""
    repo = tmp_path / "repo"
    (repo / ".venv" / "bin").mkdir(parents=True)
    shutil.copy2(REPO / "hw", repo / "hw")
    stamped = {  # the files whose hash tells hw the venv is up to date, in its order
        "requirements.txt": "scrapy\n",
        "pyproject.toml": "[project]\nname = 'x'\n",
        "setup.py": "from setuptools import setup\n",
        "hijackwatch/detect/_walk.pyx": "# compiled walk\n",
    }
    for name, text in stamped.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    for name in ("python", "hijackwatch"):
        program = repo / ".venv" / "bin" / name
        program.write_text(ECHO)
        program.chmod(0o755)
    stamp = hashlib.sha256("".join(stamped.values()).encode()).hexdigest()
    (repo / ".venv" / ".requirements.sha256").write_text(stamp + "\n")
    return repo


def hw(repo: Path, cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [str(repo / "hw"), *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    assert "installing" not in done.stderr and "creating" not in done.stderr, done.stderr
    return done.stdout.strip()


def test_commands_run_in_the_callers_directory(tmp_path: Path) -> None:
    """``cd /tmp/qa && /work/main/hw scan pages/clean.html`` said "no such file": hw ran
    every command in the repository."""
    repo = fake_repo(tmp_path)
    caller = tmp_path / "elsewhere"
    caller.mkdir()
    assert hw(repo, caller, "scan", "pages/clean.html") == f"{caller} scan pages/clean.html"
    assert hw(repo, caller, "report", "-o", "r.html") == f"{caller} report -o r.html"
    assert hw(repo, caller, "test", "-q") == f"{repo} -m pytest -q"  # the repository's tests
