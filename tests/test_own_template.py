"""The README's "Own your template": a fork changes a convention, projects take it by update.

The commands are read from the README's fenced blocks and run as written, in a throwaway fork
of this template and in projects generated from the original; only `make test` (this suite)
is not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from gates import gate_failures

from trigger_scaffold._template import git

pytestmark = pytest.mark.matrix

REPO = Path(__file__).resolve().parent.parent
CONVENTION = "cost-center=payments"
USER_EDIT = '\n\ndef my_rule() -> str:\n    """Written by the user."""\n    return "mine"\n'


def readme_blocks(heading: str) -> list[list[str]]:
    """The command lines of each bash block in the README section ``heading``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, f"README has no '## {heading}' section"
    blocks = re.findall(r"^```bash\n(.*?)^```", section.group(1), re.M | re.S)
    return [
        [line for line in body.splitlines() if line.strip() and not line.startswith("#")]
        for body in blocks
    ]


def run_lines(lines: list[str], cwd: Path, env: dict[str, str]) -> None:
    for line in lines:
        if re.match(r"make test\b", line):
            continue  # the whole suite: this suite
        result = subprocess.run(
            ["bash", "-c", f"set -euo pipefail; {line}"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"in {cwd}: {line}\n{result.stdout}\n{result.stderr}"


def tags(project: Path) -> list[str]:
    return re.findall(r'^tags = "(.*)"$', (project / "samconfig.toml").read_text(), re.M)


def test_a_fork_reaches_new_and_existing_projects(tmp_path: Path, template_v1: Path) -> None:
    fork_steps, new_project, existing_project = readme_blocks("Own your template")
    # A project made from the published template (v1.0.0), then edited by its team.
    existing = tmp_path / "work" / "billing-service"
    existing.parent.mkdir()
    made = run_cli(
        "new", str(existing), "--no-input", "-q", "--trigger", "sqs:invoices",
        "--template", str(template_v1),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    app = existing / "functions" / "invoices" / "app.py"
    git("add", "--all", cwd=existing)
    git("commit", "--quiet", "--message", "Generated", cwd=existing)
    app.write_text(app.read_text() + USER_EDIT)
    git("commit", "--quiet", "--all", "--message", "User edits", cwd=existing)
    edited = app.read_text()

    # The fork changes one convention: one more tag, which every resource takes.
    fork = tmp_path / "fork"
    git("clone", "--quiet", str(template_v1), str(fork), cwd=tmp_path)
    samconfig = fork / "templates" / "project" / "samconfig.toml.jinja"
    text = samconfig.read_text()
    assert "managed-by=sam'" in text
    samconfig.write_text(text.replace("managed-by=sam'", f"managed-by=sam {CONVENTION}'"))
    env = {
        **os.environ,
        "FORK": str(fork),
        "NO_COLOR": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    run_lines(fork_steps, fork, env)
    assert git("tag", "--points-at", "HEAD", cwd=fork).split() == ["v1.1.0"]

    run_lines(new_project, existing.parent, env)
    fresh = tmp_path / "orders-service"
    assert tags(fresh)
    assert all(t.endswith(CONVENTION) for t in tags(fresh))

    run_lines(existing_project, existing, env)
    assert tags(existing)
    assert all(t.endswith(CONVENTION) for t in tags(existing))
    assert app.read_text() == edited
    answers = yaml.safe_load((existing / ".copier-answers.yml").read_text())
    assert (answers["_src_path"], answers["_commit"]) == (str(fork), "v1.1.0")
    assert git("status", "--porcelain", cwd=existing) == ""
    assert gate_failures(existing) == []


def test_the_check_fails_when_the_project_keeps_the_published_template(
    tmp_path: Path, template_v1: Path
) -> None:
    # The defect the test guards against: update run without pointing the project at the fork.
    project = tmp_path / "svc"
    made = run_cli(
        "new", str(project), "--no-input", "-q", "--trigger", "sqs:orders",
        "--template", str(template_v1),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", "Generated", cwd=project)
    fork = tmp_path / "fork"
    git("clone", "--quiet", str(template_v1), str(fork), cwd=tmp_path)
    samconfig = fork / "templates" / "project" / "samconfig.toml.jinja"
    samconfig.write_text(
        samconfig.read_text().replace("managed-by=sam'", f"managed-by=sam {CONVENTION}'")
    )
    git("commit", "--quiet", "--all", "--message", "convention", cwd=fork)
    git("tag", "v1.1.0", cwd=fork)

    result = run_cli("update", cwd=project)

    assert result.returncode == 0, result.stderr
    assert not any(t.endswith(CONVENTION) for t in tags(project))
