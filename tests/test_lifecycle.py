"""add-trigger and update: user edits survive, conflicts are surfaced, refusals change nothing."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from gates import gate_failures

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


def make_project(parent: Path, *args: str, name: str = "svc") -> Path:
    result = cli("new", str(parent / name), "--no-input", "-q", *args, cwd=parent)
    assert result.returncode == 0, result.stderr
    project = parent / name
    commit_all(project, "Generated")
    return project


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


def assert_gates(project: Path) -> None:
    failures = gate_failures(project)
    assert not failures, "\n".join(failures)


@pytest.mark.matrix
def test_add_trigger_keeps_user_edits(tmp_path: Path) -> None:
    project = make_project(tmp_path, "--trigger", "api")
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


def test_add_trigger_pins_the_template_version(tmp_path: Path) -> None:
    project = make_project(tmp_path, "--trigger", "sqs:orders")
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


def test_add_trigger_on_a_plain_copier_project(tmp_path: Path, template_repo: Path) -> None:
    copier = Path(sys.executable).parent / "copier"
    subprocess.run(
        [
            str(copier),
            "copy",
            "--quiet",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            "--data",
            "project_name=demo",
            "--data",
            "triggers=[{name: orders, kind: sqs}]",
            str(template_repo),
            str(tmp_path / "demo"),
        ],
        check=True,
        capture_output=True,
    )
    project = tmp_path / "demo"
    git("init", "--quiet", cwd=project)
    commit_all(project, "copier copy")
    result = cli("add-trigger", "sqs", "--name", "refunds", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "functions" / "refunds" / "app.py").is_file()


# --- template upgrades -------------------------------------------------------------------


def release_v2(repo: Path) -> None:
    """v2 changes template-managed files: more memory for every function, a README line."""
    catalog = repo / "templates" / "catalog.yml"
    catalog.write_text(catalog.read_text().replace("memory_size: 256", "memory_size: 512"))
    readme = repo / "templates" / "project" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nRelease notes: v2 raised the memory size.\n")
    git("commit", "--quiet", "--all", "--message", "v2", cwd=repo)
    git("tag", "v2.0.0", cwd=repo)


def new_from(template: Path, parent: Path, name: str = "svc") -> Path:
    return make_project(parent, "--trigger", "sqs:orders", "--template", str(template), name=name)


@pytest.mark.matrix
def test_update_merges_template_changes_and_keeps_edits(tmp_path: Path, template_v1: Path) -> None:
    project = new_from(template_v1, tmp_path)
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
    tmp_path: Path, template_v1: Path
) -> None:
    project = new_from(template_v1, tmp_path, name="svc")
    release_v2(template_v1)
    assert cli("update", cwd=project).returncode == 0
    (tmp_path / "elsewhere").mkdir()
    fresh = new_from(template_v1, tmp_path / "elsewhere", name="svc")

    def tree(root: Path) -> set[str]:
        return {
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(root).parts
        }

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


def test_plain_copier_update_does_the_same(tmp_path: Path, template_v1: Path) -> None:
    project = new_from(template_v1, tmp_path)
    edit_like_a_user(project, "orders")
    release_v2(template_v1)
    copier = Path(sys.executable).parent / "copier"
    result = subprocess.run(
        [str(copier), "update", "--defaults", "--quiet"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "MemorySize: 512" in (project / "template.yaml").read_text()
    assert_user_edits_intact(project, "orders")


def test_conflict_is_reported_and_never_committed(tmp_path: Path, template_v1: Path) -> None:
    project = new_from(template_v1, tmp_path)
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
def committed(tmp_path: Path) -> Path:
    return make_project(tmp_path, "--trigger", "sqs:orders")


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


def test_refuses_without_git(tmp_path: Path) -> None:
    project = make_project(tmp_path, "--trigger", "sqs")
    shutil.rmtree(project / ".git")
    before = sorted(p.name for p in project.iterdir())
    assert_refused(cli("add-trigger", "s3", cwd=project), "not in a git repository")
    assert sorted(p.name for p in project.iterdir()) == before


def test_refuses_a_kind_the_project_template_does_not_know(
    tmp_path: Path, template_v1: Path
) -> None:
    catalog = template_v1 / "templates" / "catalog.yml"
    text = catalog.read_text()
    start = text.index("\n  kinesis:\n")
    catalog.write_text(
        text[:start] + text[start:].replace("status: available", "status: planned", 1)
    )
    git("commit", "--quiet", "--all", "--message", "v1.1 without kinesis", cwd=template_v1)
    git("tag", "v1.1.0", cwd=template_v1)
    project = new_from(template_v1, tmp_path)
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


def test_add_trigger_takes_kind_colon_name_as_new_does(tmp_path: Path) -> None:
    project = make_project(tmp_path, "--trigger", "sqs:orders")
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


def test_update_with_nothing_to_do_says_only_that(tmp_path: Path) -> None:
    project = make_project(tmp_path, "--trigger", "sqs")
    result = cli("update", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "Already at the newest template" in result.stderr
    assert "Review" not in result.stderr
    assert "Next steps" not in result.stderr
    assert "commit" not in result.stderr
    assert status(project) == ""


def test_one_version_everywhere(tmp_path: Path) -> None:
    """--version, the answers file and copier's own messages name the same release."""
    from trigger_scaffold import __version__

    version = cli("--version").stdout.split()[-1]
    assert version == __version__
    project = make_project(tmp_path, "--trigger", "sqs")
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == version
    result = cli("update", cwd=project)
    assert f"template version {version}" in result.stderr
    assert "0.0.0" not in result.stderr
    assert f"Already at the newest template ({version})" in result.stderr
