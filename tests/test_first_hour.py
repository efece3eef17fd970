"""A newcomer's first hour, as written: this README's quick start, the steps `new`,
`add-trigger` and `update` print, and the generated README's commands, run literally.

Every command is taken from the text a user reads (a README's fenced code block, or the
``Next steps:`` block a command prints) and run in a shell as written, on a scratch HOME,
without AWS credentials or region and without the network. Two stand-ins replace what would
need the network, and nothing else is changed:

- ``trigger-scaffold`` on PATH is a wheel built from this checkout and installed into a
  scratch virtual environment, as ``pipx install`` or ``uv tool install`` would install it;
- ``pip install -r requirements-dev.txt`` runs with ``PIP_NO_INDEX=1`` and finds every pinned
  requirement already installed (``PYTHONPATH`` holds this suite's own environment, which
  pins the same versions), and the scripts it would install (pytest, ruff, cfn-lint) are on
  PATH. A requirement the generated project pins differently fails the step.

Commands that need something this machine does not have are listed in ``NOT_RUN`` with the
reason; the list is the one place to shrink when that changes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from trigger_scaffold._steps import parse as parse_steps

REPO = Path(__file__).resolve().parent.parent

# Commands of a README that this suite does not run, by a pattern of the line, and why.
NOT_RUN = {
    r"^sam (deploy|delete|logs|sync|remote)\b": "needs an AWS account",
    r"\bsam local\b": "needs Docker (python -m local_lambda is run instead)",
    r" --aws\b": "calls the deployed stack in an AWS account",
    r"^python -m local_lambda serve\b": (
        "serves until stopped; tests/test_local_run.py sends it real HTTP requests"
    ),
    r"^make test\b": "is this suite itself",
}

pytestmark = pytest.mark.matrix


def code_blocks(markdown: str, heading: str) -> list[list[str]]:
    """The shell blocks (fenced ``bash`` or bare) of the section ``heading``, as command lines.

    Continuation lines (ending in a backslash) are joined; comments and blank lines dropped.
    """
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert section, f"no '## {heading}' section"
    blocks = []
    for language, body in re.findall(r"^```([a-z]*)\n(.*?)^```", section.group(1), re.M | re.S):
        if language not in ("", "bash"):
            continue
        text = body.replace("\\\n", " ")
        lines = [line.strip() for line in text.splitlines()]
        blocks.append([line for line in lines if line and not line.startswith("#")])
    assert blocks, f"'## {heading}' has no code block"
    return blocks


def runnable(lines: list[str]) -> list[str]:
    return [line for line in lines if not any(re.search(p, line) for p in NOT_RUN)]


def test_code_blocks_reads_commands_as_a_shell_would() -> None:
    text = (
        "## A\n\n```bash\nx \\\n    --y  # note\n# only a comment\n\nz\n```\n"
        "```json\n[]\n```\n```\nw\n```\n## B\n```\nq\n```\n"
    )
    assert code_blocks(text, "A") == [["x      --y  # note", "z"], ["w"]]
    assert runnable(
        ["sam build", "pytest", "make test", "sam deploy --guided", "x --aws --profile dev"]
    ) == ["sam build", "pytest"]


@dataclass
class Shell:
    """A scratch user: HOME, PATH and environment as a newcomer's, minus the network."""

    env: dict[str, str]

    def run(self, script: str, cwd: Path) -> str:
        """Run ``script`` in bash, stopping at the first failing command; return its output."""
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"in {cwd}:\n{script}\n--- {result.returncode}\n{output}"
        return output

    def follow(self, command: str, cwd: Path) -> str:
        """Run one command and then the next steps it printed, exactly as printed."""
        output = self.run(command, cwd)
        steps = parse_steps(output)
        if steps:
            self.run("\n".join(steps), cwd)
        return output


@pytest.fixture(scope="module")
def installed_tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bin folder holding only ``trigger-scaffold``, installed from a wheel of this checkout."""
    root = tmp_path_factory.mktemp("tool")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(root / "dist"), str(REPO)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (root / "dist").glob("trigger_scaffold-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # Its dependencies (copier, questionary, PyYAML) come from this suite's environment,
    # after the wheel's own package on sys.path.
    (Path(site) / "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "trigger-scaffold").symlink_to(venv / "bin" / "trigger-scaffold")
    return bin_dir


def test_the_installed_tool_is_the_wheel_not_this_checkout(
    installed_tool: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [str(installed_tool / "trigger-scaffold"), "new", str(tmp_path / "svc"), "--no-input",
         "-q", "--trigger", "sqs:orders"],
        env={**os.environ, "HOME": str(tmp_path / "home"), "TRIGGER_SCAFFOLD_HOME": ""},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answers = (tmp_path / "svc" / ".copier-answers.yml").read_text()
    assert f"_src_path: {tmp_path}/home/.local/share/trigger-scaffold/template" in answers
    bundled = tmp_path / "home/.local/share/trigger-scaffold/template"
    assert (bundled / "copier.yml").read_bytes() == (REPO / "copier.yml").read_bytes()


@pytest.fixture
def shell(installed_tool: Path, tmp_path: Path) -> Shell:
    home = tmp_path / "home"
    home.mkdir()
    tools = tmp_path / "tools"
    tools.mkdir()
    # What `pip install -r requirements-dev.txt` would put on PATH, and the machine's python3.
    suite_bin = Path(sys.executable).parent
    for script in ("pytest", "ruff", "cfn-lint"):
        (tools / script).symlink_to(suite_bin / script)
    # The SAM CLI as the generated README has a user install it (an environment of its own).
    sam = REPO / ".venv-sam" / "bin" / "sam"
    assert sam.exists(), "the SAM CLI is missing: run `make setup` (it builds .venv-sam)"
    (tools / "sam").symlink_to(sam)
    (tools / "python3").symlink_to(getattr(sys, "_base_executable", sys.executable))
    system_path = [p for p in ("/usr/local/bin", "/usr/bin", "/bin") if Path(p).is_dir()]
    keep = {"LANG", "LC_ALL", "TERM", "TMPDIR"} | {k for k in os.environ if k.startswith("GIT_")}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "HOME": str(home),
            "PATH": os.pathsep.join([str(installed_tool), str(tools), *system_path]),
            "PYTHONPATH": sysconfig.get_paths()["purelib"],
            "PIP_NO_INDEX": "1",
            # `sam build` installs the runtime's wheels from the suite's wheelhouse (make setup).
            "PIP_FIND_LINKS": str(REPO / ".wheelhouse"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "SAM_CLI_TELEMETRY": "0",
            "NO_COLOR": "1",
        }
    )
    for tool in ("make", "git", "bash"):
        assert shutil.which(tool, path=env["PATH"]), f"{tool} is needed on PATH"
    return Shell(env)


def repository_copy(parent: Path) -> Path:
    """This checkout's files as a fresh clone has them, sharing the suite's .venv."""
    repo = parent / "trigger-scaffold"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, files):
        if (REPO / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, repo / name)
    subprocess.run(
        "git init -q && git add -A && git commit -qm clone", shell=True, cwd=repo, check=True
    )
    # `make` finds .venv set up (its stamps match pyproject.toml) and installs nothing.
    (repo / ".venv").symlink_to(REPO / ".venv")
    (repo / ".git" / "info" / "exclude").write_text(".venv\n")
    return repo


def generated_readme_steps(shell: Shell, project: Path) -> None:
    """The generated README's "Develop and test" and "Deploy" (as far as runs offline), then
    "Add triggers and take template updates", each printed next step run as printed."""
    readme = (project / "README.md").read_text()
    develop = [line for block in code_blocks(readme, "Develop and test") for line in block]
    deploy = [line for block in code_blocks(readme, "Deploy") for line in block]
    assert any(line.startswith("pytest") for line in develop), develop
    shell.run("\n".join(runnable(develop + deploy)), project)
    assert (project / ".venv" / "bin" / "python").exists()
    (lifecycle,) = code_blocks(readme, "Add triggers and take template updates")
    assert [line.split()[:2] for line in lifecycle] == [
        ["trigger-scaffold", "add-trigger"],
        ["trigger-scaffold", "update"],
    ]
    added = shell.follow(lifecycle[0], project)
    assert "Next steps:" in added
    updated = shell.follow(lifecycle[1], project)
    assert "Already at the newest template" in updated
    assert "Next steps:" not in updated
    assert shell.run("git status --porcelain", project) == ""


def test_quick_start_from_a_git_repository(shell: Shell, tmp_path: Path) -> None:
    """`make wizard DEST=../my-service` from a clone, the printed steps, the generated README."""
    pexpect = pytest.importorskip("pexpect")
    work = tmp_path / "work"
    repo = repository_copy(work)
    (quick_start,) = code_blocks((repo / "README.md").read_text(), "Quick start")
    assert len(quick_start) == 2, "the quick start keeps exactly two commands"
    wizard = quick_start[0].split("#")[0].strip()
    assert wizard == "make wizard DEST=../my-service"
    assert runnable(quick_start) == [quick_start[0]]

    # Through the .venv link, a setup run would reinstall this suite's own environment.
    planned = shell.run(f"make --dry-run {wizard.removeprefix('make ')}", repo).splitlines()
    assert planned == [".venv/bin/trigger-scaffold new ../my-service"], (
        f"{REPO}/.venv is not set up as `make wizard` leaves it (run it once): {planned}"
    )

    child = pexpect.spawn(
        "bash", ["-c", wizard], cwd=str(repo), env=shell.env, encoding="utf-8", timeout=120,
        dimensions=(40, 100),
    )  # fmt: skip
    for prompt in ("Project name", "Architecture pattern", "Which event source"):
        child.expect(prompt)
        child.send("\r")
    child.expect("Trigger name")
    child.send("\r")
    child.expect("Add another trigger")
    child.send("n")
    # The default delivery pipeline: the generated README's steps then run with its files.
    prompts = ("Who may call the 'api' API", "Python runtime", "Architecture", "Delivery pipeline")
    for prompt in prompts:
        child.expect(prompt)
        child.send("\r")
    child.expect(pexpect.EOF)
    child.close()
    output = child.before.replace("\r\n", "\n")
    assert child.exitstatus == 0, output

    project = work / "my-service"
    steps = parse_steps(output)
    assert steps[0] == "cd ../my-service", steps
    assert (project / ".git").is_dir(), "outside the clone's repository: a repository of its own"
    assert (project / ".github" / "workflows" / "checks.yml").is_file()
    shell.run("\n".join(steps), repo)
    assert shell.run("git log --format=%s", project).strip() == "Generated by trigger-scaffold"
    assert shell.run("git status --porcelain", repo) == "", "the clone is left as it was"
    generated_readme_steps(shell, project)


def test_readme_commands_with_an_absolute_destination(shell: Shell, tmp_path: Path) -> None:
    """The README's "Without questions" command, DEST made absolute, then the same steps."""
    repo = repository_copy(tmp_path / "work")
    blocks = code_blocks((repo / "README.md").read_text(), "Install for everyday use")
    (command,) = next(b for b in blocks if b[0].startswith("trigger-scaffold new"))
    dest = tmp_path / "elsewhere" / "orders-svc"
    command = command.replace("../orders-svc", str(dest), 1)
    assert str(dest) in command
    output = shell.follow(command, repo)
    assert parse_steps(output)[0] == f"cd {dest}"
    assert shell.run("git log --format=%s", dest).strip() == "Generated by trigger-scaffold"
    generated_readme_steps(shell, dest)


def test_new_inside_a_monorepo_commits_only_the_project(shell: Shell, tmp_path: Path) -> None:
    """`new` inside a repository, then `add-trigger` and an `update` that changes files."""
    from trigger_scaffold._template import git, sync_template_repo, template_root

    template = tmp_path / "template"
    sync_template_repo(template_root(), template, "1.0.0", tag="1.0.0")
    repo = repository_copy(tmp_path / "work")
    (repo / "notes.txt").write_text("the user's own work in progress\n")
    output = shell.follow(
        f"trigger-scaffold new services/orders --no-input --trigger sqs --template {template}",
        repo,
    )
    project = repo / "services" / "orders"
    assert "not made a repository of its own" in output
    assert not (project / ".git").exists()
    assert parse_steps(output)[0] == "cd services/orders"
    assert shell.run("git log -1 --format=%s", repo).strip() == "Generated by trigger-scaffold"
    assert shell.run("git status --porcelain", repo) == "?? notes.txt\n"

    shell.follow("trigger-scaffold add-trigger sqs:payments", project)
    assert shell.run("git log -1 --format=%s", repo).strip() == "Add sqs trigger payments"
    assert shell.run("git status --porcelain", repo) == "?? notes.txt\n"

    readme = template / "templates" / "project" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nRelease notes: 1.1.0.\n")
    git("commit", "--quiet", "--all", "--message", "1.1.0", cwd=template)
    git("tag", "1.1.0", cwd=template)
    output = shell.follow("trigger-scaffold update", project)
    assert "Updated from template 1.0.0 to 1.1.0" in output
    assert "Release notes: 1.1.0." in (project / "README.md").read_text()
    assert shell.run("git log -1 --format=%s", repo).strip() == "Update to template 1.1.0"
    assert shell.run("git status --porcelain", repo) == "?? notes.txt\n"


def test_sam_validate_lint_is_not_said_to_need_a_region(shell: Shell, tmp_path: Path) -> None:
    """`sam validate --lint` only runs cfn-lint (us-east-1 unless told): no region, no
    credentials. The README once said it needed AWS_DEFAULT_REGION; when the `sam ` steps
    run here, they run without any AWS_* variable, which proves the claim."""
    output = shell.run(
        f"trigger-scaffold new {tmp_path / 'svc'} --no-input -q --trigger sqs", tmp_path
    )
    assert output == ""
    readme = (tmp_path / "svc" / "README.md").read_text()
    develop = [line for block in code_blocks(readme, "Develop and test") for line in block]
    (lint,) = [line for line in develop if line.startswith("sam validate --lint")]
    assert "REGION" not in lint
    assert "no region" in lint
    assert not [name for name in shell.env if name.startswith("AWS_")]


def test_every_generating_command_of_the_readme_runs_as_written(
    shell: Shell, tmp_path: Path
) -> None:
    """`trigger-scaffold new ...` and `copier copy ...` examples, from an empty folder; the
    template path placeholder becomes a clone of this repository, `copier` the one pipx or
    uv would install beside the tool (``pipx install copier``)."""
    repo = repository_copy(tmp_path / "work")
    readme = (repo / "README.md").read_text()
    commands = [
        line
        for heading in ("Install for everyday use", "Patterns")
        for block in code_blocks(readme, heading)
        for line in block
        if line.startswith(("trigger-scaffold new", "copier copy"))
    ]
    assert len(commands) >= 5, commands
    (shell_tools,) = [Path(p) for p in shell.env["PATH"].split(os.pathsep) if p.endswith("tools")]
    (shell_tools / "copier").symlink_to(Path(sys.executable).parent / "copier")
    here = tmp_path / "here"
    here.mkdir()
    for command in commands:
        shell.run(command.replace("path/to/this/repo", str(repo)), here)
        words = command.split()
        dest = words[2] if words[0] == "trigger-scaffold" else words[-1]
        assert (here / dest / "template.yaml").is_file(), command


def test_ci_runs_exactly_the_readme_test_command() -> None:
    (quick_start,) = code_blocks((REPO / "README.md").read_text(), "Quick start")
    assert len(quick_start) == 2, "the quick start keeps exactly two commands"
    test_command = quick_start[1].split("#")[0].strip()
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci[-1] == test_command == "make test"
