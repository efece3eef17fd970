"""Fails when a merge conflict marker was left in a file (e.g. after `copier update`)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".aws-sam", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache"}
MARKER = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.MULTILINE)


def _files() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*")
        if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(ROOT).parts)
    ]


def test_no_conflict_markers() -> None:
    offenders = []
    for path in _files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # binary files cannot hold markers
            continue
        if MARKER.search(text):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"resolve the merge conflicts in: {', '.join(offenders)}"


def test_no_rejected_hunks() -> None:
    rejects = [str(p.relative_to(ROOT)) for p in _files() if p.suffix == ".rej"]
    assert not rejects, f"apply or delete the rejected update hunks: {', '.join(rejects)}"
