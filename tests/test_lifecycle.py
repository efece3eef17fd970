"""add-trigger and update: user edits survive, conflicts are surfaced, refusals change nothing.

Projects are rendered with pytest-copie, with the answers ``new --no-input`` parses from its
flags: the ones of the bundled template once per session (each test commits a copy), the
ones of a throwaway template per test. Plain copier updates go through the plugin's
``update``, or copier's API where an answer changes (the plugin's keeps the recorded ones).
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import new_answers, run_cli
from gates import gate_failures
from pytest_copie.plugin import Result

from trigger_scaffold._speedups import forget_clones
from trigger_scaffold._template import git

HANDLER_EDIT = '\n\ndef my_helper() -> str:\n    """Written by the user."""\n    return "mine"\n'
OWN_RESOURCE = (
    "  # Your own resources go here, below the managed block.\n"
    "  AuditTable:\n"
    "    Type: AWS::DynamoDB::Table\n"
    "    Properties:\n"
    "      BillingMode: PAY_PER_REQUEST\n"
    "      SSESpecification:\n"
    "        SSEEnabled: true\n"
    "      PointInTimeRecoverySpecification:\n"
    "        PointInTimeRecoveryEnabled: true\n"
    "      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n"
    "      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n"
)


cli = run_cli


def commit_all(project: Path, message: str) -> None:
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", message, cwd=project)


def status(project: Path) -> str:
    return git("status", "--porcelain", "--untracked-files=all", cwd=project)


def commit_generated(project: Path) -> Path:
    """What ``new`` does after rendering (a repository of the project's own), then a commit."""
    git("-c", "init.defaultBranch=main", "init", "--quiet", cwd=project)
    commit_all(project, "Generated")
    return project


MakeProject = Callable[..., Path]
# What the render matrix's gates leave in a shared render; git ignores them too.
CACHES = shutil.ignore_patterns("__pycache__", ".ruff_cache", ".pytest_cache")


@pytest.fixture
def make_project(rendered_once: Callable[..., Path], tmp_path: Path) -> MakeProject:
    """A committed copy of ``new --no-input ARGS``'s project, rendered once per session (the
    render matrix's, for the same flags)."""

    def make(*args: str) -> Path:
        project = tmp_path / "svc"
        shutil.copytree(rendered_once(*args), project, ignore=CACHES)
        return commit_generated(project)

    return make


def edit_like_a_user(project: Path, function: str) -> None:
    with (project / "functions" / function / "app.py").open("a") as handle:
        handle.write(HANDLER_EDIT)
    template = project / "template.yaml"
    text = template.read_text()
    assert "  # Your own resources go here, below the managed block.\n" in text
    template.write_text(
        text.replace("  # Your own resources go here, below the managed block.\n", OWN_RESOURCE)
    )
    commit_all(project, "User edits")


def assert_user_edits_intact(project: Path, function: str) -> None:
    assert (project / "functions" / function / "app.py").read_text().endswith(HANDLER_EDIT)
    assert OWN_RESOURCE in (project / "template.yaml").read_text()


def tree(root: Path) -> set[str]:
    """A project's files, relative to it, without its git repository."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def assert_gates(project: Path) -> None:
    failures = gate_failures(project)
    assert not failures, "\n".join(failures)


@pytest.mark.matrix
def test_add_trigger_keeps_user_edits(make_project: MakeProject) -> None:
    project = make_project("--trigger", "api")
    edit_like_a_user(project, "api")

    result = cli("add-trigger", "sqs", "--name", "orders", cwd=project)

    assert result.returncode == 0, result.stderr
    assert_user_edits_intact(project, "api")
    text = (project / "template.yaml").read_text()
    for resource in ("OrdersFunction:", "OrdersQueue:", "OrdersDeadLetterQueue:"):
        assert resource in text
    assert text.index("OrdersFunction:") < text.index("# END trigger-scaffold managed resources")
    assert (project / "functions" / "orders" / "app.py").is_file()
    assert (project / "events" / "orders-batch.json").is_file()
    assert (project / "tests" / "functions" / "test_orders.py").is_file()
    assert "`orders`" in (project / "README.md").read_text()
    assert "U" not in {line[:2].strip() for line in status(project).splitlines()}
    assert_gates(project)

    commit_all(project, "Add orders")
    result = cli("add-trigger", "sqs", "--name", "refunds", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "RefundsQueue:" in (project / "template.yaml").read_text()
    assert_user_edits_intact(project, "api")
    assert_gates(project)


def test_add_trigger_pins_the_template_version(make_project: MakeProject, tmp_path: Path) -> None:
    project = make_project("--trigger", "sqs:orders")
    before = yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"]
    assert cli("add-trigger", "sqs", cwd=project).returncode == 0
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == before
    assert answers["triggers"] == [
        {"name": "orders", "kind": "sqs", "idempotency": True},
        {"name": "sqs", "kind": "sqs", "idempotency": True},
    ]
    commit_all(project, "sqs")
    assert cli("add-trigger", "sqs", "-C", str(project), cwd=tmp_path).returncode == 0
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["triggers"][-1] == {
        "name": "sqs-2",
        "kind": "sqs",
        "idempotency": True,
    }


def test_add_trigger_on_a_plain_copier_project(copie: Any, template_repo: Path) -> None:
    """A copier copy with the fewest answers, the rest copier.yml's defaults, not the CLI's."""
    answers = {"project_name": "demo", "triggers": [{"name": "orders", "kind": "sqs"}]}
    result = copie.copy(extra_answers=answers, template_dir=template_repo)
    assert result.exit_code == 0, result.exception
    project = result.project_dir
    git("init", "--quiet", cwd=project)
    commit_all(project, "copier copy")
    result = cli("add-trigger", "sqs", "--name", "refunds", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "functions" / "refunds" / "app.py").is_file()


def test_add_trigger_is_a_copier_update_with_one_more_trigger(
    make_project: MakeProject, tmp_path: Path
) -> None:
    """DESIGN: add-trigger changes the file tree as copier's update of the project's own
    template commit does with the ``triggers`` answer extended. Copier's API, as pytest-copie's
    update keeps every recorded answer."""
    from copier import VcsRef, run_update

    project = make_project("--trigger", "sqs:orders")
    by_copier = tmp_path / "by-copier"
    shutil.copytree(project, by_copier)

    assert cli("add-trigger", "s3", "--name", "uploads", cwd=project).returncode == 0
    # The answers `new` and `add-trigger` record: each kind's default idempotency included.
    triggers = [
        {"name": "orders", "kind": "sqs", "idempotency": True},
        {"name": "uploads", "kind": "s3", "idempotency": True},
    ]
    run_update(
        by_copier,
        data={"triggers": triggers},
        defaults=True,
        overwrite=True,
        quiet=True,
        unsafe=True,
        vcs_ref=VcsRef.CURRENT,
    )

    assert tree(project) == tree(by_copier)
    different = [
        rel
        for rel in sorted(tree(project))
        if not filecmp.cmp(project / rel, by_copier / rel, shallow=False)
    ]
    assert different == []


# --- template upgrades -------------------------------------------------------------------


def release_v2(repo: Path) -> None:
    """v2 changes template-managed files: more memory for every function, a README line."""
    catalog = repo / "templates" / "catalog.yml"
    catalog.write_text(catalog.read_text().replace("memory_size: 256", "memory_size: 512"))
    readme = repo / "templates" / "project" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nRelease notes: v2 raised the memory size.\n")
    git("commit", "--quiet", "--all", "--message", "v2", cwd=repo)
    git("tag", "v2.0.0", cwd=repo)


@pytest.fixture
def new_from(copie: Any) -> Callable[[Path], Path]:
    """A committed project of ``new --trigger sqs:orders --template TEMPLATE`` (its newest tag)."""

    def make(template: Path) -> Path:
        forget_clones()  # the template has moved on since this process last cloned its HEAD
        answers = new_answers("--trigger", "sqs:orders", name="svc")
        result = copie.copy(extra_answers=answers, template_dir=template)
        assert result.exit_code == 0, result.exception
        return commit_generated(result.project_dir)

    return make


@pytest.mark.matrix
def test_update_merges_template_changes_and_keeps_edits(
    new_from: Callable[[Path], Path], template_v1: Path
) -> None:
    project = new_from(template_v1)
    edit_like_a_user(project, "orders")
    release_v2(template_v1)

    result = cli("update", cwd=project)

    assert result.returncode == 0, result.stderr
    assert "MemorySize: 512" in (project / "template.yaml").read_text()
    assert "Release notes: v2" in (project / "README.md").read_text()
    assert_user_edits_intact(project, "orders")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v2.0.0"
    assert git("log", "-1", "--format=%s", cwd=project).strip() == "User edits"
    assert_gates(project)


def test_update_of_an_unedited_project_equals_a_fresh_copy(
    new_from: Callable[[Path], Path], template_v1: Path
) -> None:
    project = new_from(template_v1)
    release_v2(template_v1)
    assert cli("update", cwd=project).returncode == 0
    fresh = new_from(template_v1)

    assert tree(project) == tree(fresh)
    for rel in sorted(tree(project) - {".copier-answers.yml"}):
        assert filecmp.cmp(project / rel, fresh / rel, shallow=False), rel
    strip = [
        line
        for line in (project / ".copier-answers.yml").read_text().splitlines()
        if not line.startswith("_commit")
    ]
    assert strip == [
        line
        for line in (fresh / ".copier-answers.yml").read_text().splitlines()
        if not line.startswith("_commit")
    ]


def test_plain_copier_update_does_the_same(
    copie: Any, new_from: Callable[[Path], Path], template_v1: Path
) -> None:
    """copier's own update, as pytest-copie runs it, merges as ``update`` does."""
    project = new_from(template_v1)
    edit_like_a_user(project, "orders")
    release_v2(template_v1)
    forget_clones()
    result = copie.update(Result(project_dir=project))
    assert result.exit_code == 0, result.exception
    assert result.answers["triggers"] == [{"name": "orders", "kind": "sqs", "idempotency": True}]
    assert "MemorySize: 512" in (project / "template.yaml").read_text()
    assert_user_edits_intact(project, "orders")


def test_conflict_is_reported_and_never_committed(
    new_from: Callable[[Path], Path], template_v1: Path
) -> None:
    project = new_from(template_v1)
    template = project / "template.yaml"
    template.write_text(template.read_text().replace("MemorySize: 256", "MemorySize: 1024"))
    commit_all(project, "More memory, my way")
    head = git("rev-parse", "HEAD", cwd=project)
    release_v2(template_v1)

    result = cli("update", cwd=project)

    assert result.returncode == 3
    errors = [x for x in result.stderr.splitlines() if x.startswith("trigger-scaffold: error")]
    assert len(errors) == 1
    assert "template.yaml" in errors[0]
    assert "Traceback" not in result.stderr
    assert git("rev-parse", "HEAD", cwd=project) == head
    assert "template.yaml" in git("diff", "--name-only", "--diff-filter=U", cwd=project)
    text = template.read_text()
    assert "MemorySize: 1024" in text
    assert "<<<<<<<" in text
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_conflict_markers.py",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 1, "the project's own conflict check must catch the markers"


# --- refusals ------------------------------------------------------------------------------


def assert_refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


@pytest.fixture
def committed(make_project: MakeProject) -> Path:
    return make_project("--trigger", "sqs:orders")


REFUSALS = {
    "unknown kind": (["add-trigger", "sqss"], "did you mean 'sqs'"),
    "retired kind": (["add-trigger", "iot-events"], "use the 'iot' trigger"),
    "clashing ids": (["add-trigger", "sns", "--name", "orders-dead"], "clashing resource ids"),
    "name taken": (["add-trigger", "s3", "--name", "orders"], "already used"),
    "bad name": (["add-trigger", "s3", "--name", "../x"], "invalid trigger name"),
}


@pytest.mark.parametrize(("args", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refusals_change_nothing(committed: Path, args: list[str], message: str) -> None:
    assert_refused(cli(*args, cwd=committed), message)
    assert status(committed) == ""


def test_refuses_a_dirty_tree(committed: Path) -> None:
    (committed / "notes.txt").write_text("work in progress")
    for args in (["add-trigger", "s3"], ["update"]):
        assert_refused(cli(*args, cwd=committed), "uncommitted changes in notes.txt")
    assert status(committed) == "?? notes.txt\n"


def test_refuses_outside_a_project(tmp_path: Path) -> None:
    for args in (["add-trigger", "sqs"], ["update"]):
        assert_refused(cli(*args, cwd=tmp_path), "not inside a generated project")


def test_refuses_without_git(make_project: MakeProject) -> None:
    project = make_project("--trigger", "sqs")
    shutil.rmtree(project / ".git")
    before = sorted(p.name for p in project.iterdir())
    assert_refused(cli("add-trigger", "s3", cwd=project), "not in a git repository")
    assert sorted(p.name for p in project.iterdir()) == before


def test_refuses_a_kind_the_project_template_does_not_know(
    new_from: Callable[[Path], Path], template_v1: Path
) -> None:
    catalog = template_v1 / "templates" / "catalog.yml"
    text = catalog.read_text()
    start = text.index("\n  kinesis:\n")
    catalog.write_text(
        text[:start] + text[start:].replace("status: available", "status: planned", 1)
    )
    git("commit", "--quiet", "--all", "--message", "v1.1 without kinesis", cwd=template_v1)
    git("tag", "v1.1.0", cwd=template_v1)
    project = new_from(template_v1)
    assert_refused(cli("add-trigger", "kinesis", cwd=project), "run `trigger-scaffold update`")
    assert status(project) == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("triggers: [unclosed\n", "not valid YAML"),
        ("_src_path: /nowhere\ntriggers: []\n", "records no _commit"),
        ("_src_path: /x\n_commit: abc\ntriggers: 3\n", "no valid 'triggers' list"),
    ],
)
def test_refuses_a_tampered_answers_file(committed: Path, content: str, message: str) -> None:
    (committed / ".copier-answers.yml").write_text(content)
    commit_all(committed, "tampered")
    for command in (["add-trigger", "s3"], ["update"]):
        assert_refused(cli(*command, cwd=committed), message)
        assert status(committed) == ""


# --- what the commands say ---------------------------------------------------------------


def test_add_trigger_takes_kind_colon_name_as_new_does(make_project: MakeProject) -> None:
    project = make_project("--trigger", "sqs:orders")
    result = cli("add-trigger", "sqs:payments", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "functions" / "payments" / "app.py").is_file()
    commit_all(project, "payments")
    both = cli("add-trigger", "sqs:refunds", "--name", "other", cwd=project)
    assert both.returncode == 1  # refused input, as `new --trigger sqs:` is
    assert "two names given" in both.stderr
    empty = cli("add-trigger", "sqs:", cwd=project)
    assert empty.returncode == 1
    assert "give a name after ':'" in empty.stderr
    assert status(project) == ""


def test_update_with_nothing_to_do_says_only_that(make_project: MakeProject) -> None:
    project = make_project("--trigger", "sqs")
    result = cli("update", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "Already at the newest template" in result.stderr
    assert "Review" not in result.stderr
    assert "Next steps" not in result.stderr
    assert "commit" not in result.stderr
    assert status(project) == ""


def test_one_version_everywhere(make_project: MakeProject) -> None:
    """--version, the answers file and copier's own messages name the same release."""
    from trigger_scaffold import __version__

    version = cli("--version").stdout.split()[-1]
    assert version == __version__
    project = make_project("--trigger", "sqs")
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == version
    result = cli("update", cwd=project)
    assert f"template version {version}" in result.stderr
    assert "0.0.0" not in result.stderr
    assert f"Already at the newest template ({version})" in result.stderr
