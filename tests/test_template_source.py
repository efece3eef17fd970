"""Where projects come from: the template mirror, plain copier, and a non-editable install."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from gates import gate_failures

from trigger_scaffold._speedups import forget_clones
from trigger_scaffold._template import TEMPLATE_ENTRIES, git, sync_template_repo, template_root

REPO = Path(__file__).resolve().parent.parent


def _answers(project: Path) -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return data


def test_answers_record_commit_and_a_lasting_source(
    new_project: Callable[..., Path], scaffold_home: Path
) -> None:
    project = new_project("--trigger", "sqs:orders")
    answers = _answers(project)
    src = Path(str(answers["_src_path"]))
    assert src == scaffold_home / "template"
    assert src.is_dir()
    full = git("rev-parse", str(answers["_commit"]), cwd=src).strip()
    assert git("cat-file", "-t", full, cwd=src).strip() == "commit"
    assert answers["triggers"] == [{"name": "orders", "kind": "sqs", "idempotency": True}]
    assert {"project_name", "pattern", "runtime", "architecture"} <= set(answers)
    assert "catalog" not in answers
    assert "event_files" not in answers


def test_mirror_commits_only_when_the_template_changes(tmp_path: Path) -> None:
    source = tmp_path / "source"
    for entry in TEMPLATE_ENTRIES:
        src = template_root() / entry
        if src.is_dir():
            import shutil

            shutil.copytree(src, source / entry)
        else:
            source.mkdir(exist_ok=True)
            (source / entry).write_bytes(src.read_bytes())
    repo = tmp_path / "mirror"
    first = sync_template_repo(source, repo, "v1")
    assert sync_template_repo(source, repo, "v1 again") == first
    with (source / "copier.yml").open("a") as handle:
        handle.write("# a template change\n")
    second = sync_template_repo(source, repo, "v2")
    assert second != first
    assert git("rev-list", "--count", "HEAD", cwd=repo).strip() == "2"
    assert git("status", "--porcelain", cwd=repo).strip() == ""


# DESIGN decision 5: the template must not need --trust. pytest-copie renders and updates with
# copier's `unsafe`, so it cannot see a template that does: this is the one test that runs
# copier as users do, without it.
ANSWERS = ["project_name=demo", "triggers=[{name: orders, kind: sqs}]", "pattern=none"]
NEXT_RELEASE = "\nA line that release 2.0.0 of the template added.\n"


def copier(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The copier command users run, without --trust."""
    command = [str(Path(sys.executable).parent / "copier"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def release(template: Path, tag: str, copier_yml_addition: str = "") -> None:
    """Commit a template change (and ``copier_yml_addition``) as release ``tag``."""
    readme = template / "templates" / "project" / "README.md.jinja"
    readme.write_text(readme.read_text() + NEXT_RELEASE)
    with (template / "copier.yml").open("a") as handle:
        handle.write(copier_yml_addition)
    git("commit", "--quiet", "--all", "--message", tag, cwd=template)
    git("tag", tag, cwd=template)


def copy_and_update_without_trust(template: Path, project: Path, *, addition: str = "") -> str:
    """``copier copy`` of ``template``'s release, then ``copier update`` to its next one that
    adds ``addition`` to copier.yml, both without --trust; what failed, or nothing."""
    data = [arg for answer in ANSWERS for arg in ("--data", answer)]
    copied = copier("copy", "--defaults", *data, str(template), str(project))
    if copied.returncode != 0:
        return f"copier copy exited {copied.returncode}: {copied.stderr}"
    git("init", "--quiet", cwd=project)
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--message", "copier copy", cwd=project)
    release(template, "v2.0.0", addition)
    updated = copier("update", "--defaults", cwd=project)
    if updated.returncode != 0:
        return f"copier update exited {updated.returncode}: {updated.stderr}"
    return ""


def test_plain_copier_needs_no_trust(tmp_path: Path, template_v1: Path) -> None:
    """DESIGN: `copier copy --defaults --data ...` and `copier update` work without --trust."""
    project = tmp_path / "demo"
    assert copy_and_update_without_trust(template_v1, project) == ""
    assert (project / "functions" / "orders" / "app.py").is_file()
    assert _answers(project)["_commit"] == "v2.0.0"
    assert NEXT_RELEASE in (project / "README.md").read_text()
    failures = gate_failures(project)
    assert not failures, "\n".join(failures)


UNSAFE = {
    "a task": ("_tasks:\n  - 'true'\n", "", "tasks"),
    "a jinja extension": ("_jinja_extensions:\n  - jinja2.ext.do\n", "", "jinja_extensions"),
    "a migration": ("", "_migrations:\n  - version: 2.0.0\n    command: 'true'\n", "migrations"),
}


@pytest.mark.parametrize(("in_v1", "in_v2", "feature"), UNSAFE.values(), ids=UNSAFE.keys())
def test_only_the_test_without_trust_sees_an_unsafe_template(
    copie: Any, tmp_path: Path, template_v1: Path, in_v1: str, in_v2: str, feature: str
) -> None:
    """A template that gained a task, an extension or a migration: pytest-copie renders and
    updates it, the plain copier of the test above refuses it."""
    if in_v1:
        with (template_v1 / "copier.yml").open("a") as handle:
            handle.write(in_v1)
        git("commit", "--quiet", "--all", "--message", "v1, unsafe", cwd=template_v1)
        git("tag", "--force", "v1.0.0", cwd=template_v1)

    problem = copy_and_update_without_trust(template_v1, tmp_path / "demo", addition=in_v2)

    assert "exited 4" in problem
    assert f"unsafe feature: {feature}" in problem
    answers = {"project_name": "demo", "triggers": [{"name": "orders", "kind": "sqs"}]}
    if not git("tag", "--list", "v2.0.0", cwd=template_v1).strip():
        release(template_v1, "v2.0.0")
    forget_clones()  # the template moved on since this process last cloned it
    copied = copie.copy(extra_answers=answers, template_dir=template_v1, vcs_ref="v1.0.0")
    assert copied.exit_code == 0, copied.exception
    git("init", "--quiet", cwd=copied.project_dir)
    git("add", "--all", cwd=copied.project_dir)
    git("commit", "--quiet", "--message", "copie", cwd=copied.project_dir)
    updated = copie.update(copied, vcs_ref="v2.0.0")
    assert updated.exit_code == 0, updated.exception
    assert NEXT_RELEASE in (copied.project_dir / "README.md").read_text()


COPIER_REFUSALS = {
    "unknown kind": ("[{name: a, kind: nope}]", "unknown trigger kind 'nope'"),
    "clashing ids": ("[{name: a, kind: sqs}, {name: a-queue, kind: s3}]", "clashing resource"),
    "retired kind": ("[{name: a, kind: iot-events}]", "shut down by AWS"),
    "traversal name": ("[{name: ../x, kind: sqs}]", "trigger name '../x' is invalid"),
    "duplicate": ("[{name: a, kind: sqs}, {name: a, kind: s3}]", "used twice"),
    "not a list": ("{name: a, kind: sqs}", "non-empty YAML list"),
    "empty": ("[]", "non-empty YAML list"),
    "missing kind": ("[{name: a}]", "needs a name and a kind"),
}


@pytest.mark.parametrize(
    ("triggers", "message"), COPIER_REFUSALS.values(), ids=COPIER_REFUSALS.keys()
)
def test_copier_yml_validators_refuse(
    copie: Any, template_repo: Path, triggers: str, message: str
) -> None:
    answers = {"project_name": "demo", "triggers": triggers}
    result = copie.copy(extra_answers=answers, template_dir=template_repo)
    assert isinstance(result.exception, ValueError)
    assert "Validation error" in str(result.exception)
    assert message in str(result.exception)


def test_wheel_install_bundles_a_template_that_outlives_the_command(tmp_path: Path) -> None:
    """A non-editable install: the template comes from package data, `_src_path` persists."""
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(dist),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("trigger_scaffold-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "trigger_scaffold/_template/copier.yml" in names
    assert "trigger_scaffold/_template/templates/catalog.yml" in names
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    home = tmp_path / "home"
    dest = tmp_path / "svc"
    env = {**os.environ, "PYTHONPATH": str(site), "TRIGGER_SCAFFOLD_HOME": str(home)}
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from trigger_scaffold._template import template_root; print(template_root())",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert Path(probe.stdout.strip()) == site / "trigger_scaffold" / "_template"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trigger_scaffold",
            "new",
            str(dest),
            "--no-input",
            "-q",
            "--trigger",
            "sqs",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    answers = _answers(dest)
    assert Path(str(answers["_src_path"])) == home / "template"
    assert (home / "template" / ".git").is_dir()
    git("cat-file", "-e", f"{answers['_commit']}^{{commit}}", cwd=home / "template")


def test_mirror_tags_the_first_commit_of_a_release(tmp_path: Path) -> None:
    source = tmp_path / "source"
    for entry in TEMPLATE_ENTRIES:
        src = template_root() / entry
        if src.is_dir():
            import shutil

            shutil.copytree(src, source / entry)
        else:
            source.mkdir(exist_ok=True)
            (source / entry).write_bytes(src.read_bytes())
    repo = tmp_path / "mirror"
    first = sync_template_repo(source, repo, "1.0", tag="1.0.0")
    assert git("describe", "--tags", "--always", cwd=repo).strip() == "1.0.0"
    with (source / "copier.yml").open("a") as handle:
        handle.write("# edited in a checkout of the same release\n")
    second = sync_template_repo(source, repo, "1.0 again", tag="1.0.0")
    assert second != first
    # The tag never moves; later commits of the release are described relative to it.
    assert git("rev-parse", "1.0.0^{commit}", cwd=repo).strip() == first
    assert git("describe", "--tags", cwd=repo).strip().startswith("1.0.0-1-g")
    sync_template_repo(source, repo, "not a release", tag="main")
    assert git("tag", "--list", cwd=repo).split() == ["1.0.0"]
