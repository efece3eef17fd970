"""Mutation checks of a kind's generated contract test: it passes on the handler as generated
and fails, naming the right test, on a handler with one defect brought back."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from gates import _clean_env

from trigger_scaffold._cli import main


def render(dest: Path, kind: str) -> Path:
    """The project ``new --no-input`` makes with one trigger of ``kind``."""
    assert main(["new", str(dest), "--no-input", "--quiet", "--trigger", kind]) == 0
    return dest


def run_contract(project: Path, contract: str) -> subprocess.CompletedProcess[str]:
    """The project's contract test module ``contract``, run as the project runs it."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    return subprocess.run(
        [*command, contract],
        cwd=project,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_contract_fails(
    project: Path,
    copy: Path,
    handler: Path,
    contract: str,
    mutation: tuple[str, str, str, str],
) -> None:
    """A copy of ``project`` whose handler has the (defect, generated, defective, failing)
    mutation fails its contract test ``failing``."""
    defect, generated, defective, failing = mutation
    shutil.copytree(project, copy)
    text = (copy / handler).read_text()
    assert generated in text, f"the handler no longer has what '{defect}' mutates"
    (copy / handler).write_text(text.replace(generated, defective, 1))

    ran = run_contract(copy, contract)

    assert ran.returncode != 0, f"the contract test passed with '{defect}'"
    assert f"FAILED {contract}::{failing}" in ran.stdout, ran.stdout[-3000:]
